"""dev.sync against the emulator board: only changes sent, deletes confined, ignores honoured."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from belayfw import Device
from belayfw.errors import BoardIsADirectory, BoardNotADirectory, ConfigurationError
from belayfw.fs.paths import is_within
from belayfw.fs.sync import confined


def _project(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "main.py").write_text("import lib.driver\n")
    (root / "lib" / "driver.py").write_text("X = 1\n" * 200)
    (root / "config.json").write_text('{"rate": 5}')
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (root / "notes.pyc").write_bytes(b"\0")
    return root


def test_sync_sends_only_what_changed(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    first = board.sync(project, "/app")
    assert sorted(first.sent) == ["config.json", "lib/driver.py", "main.py"]
    assert first.unchanged == [] and first.bytes_sent > 1200
    assert board.fs.read_text("/app/lib/driver.py") == "X = 1\n" * 200
    assert not board.fs.exists("/app/__pycache__") and not board.fs.exists("/app/notes.pyc")

    before = board.link_stats.round_trips
    again = board.sync(project, "/app")
    assert again.sent == [] and sorted(again.unchanged) == sorted(first.sent)
    assert not again.changed
    assert board.link_stats.round_trips - before == 1  # the hashes of every file

    (project / "config.json").write_text('{"rate": 6}')
    (project / "lib" / "new.py").write_text("NEW = 1\n")
    third = board.sync(project, "/app")
    assert sorted(third.sent) == ["config.json", "lib/new.py"]
    assert board.fs.read_text("/app/config.json") == '{"rate": 6}'


def test_delete_removes_only_under_the_target(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    board.fs.write_text("/outside.txt", "keep me")
    board.fs.mkdir("/app/lib")
    board.fs.write_text("/app/stale.py", "old")
    board.fs.write_text("/app/lib/old.py", "old")
    board.fs.write_text("/app/data.log", "board made this")
    report = board.sync(project, "/app", delete=True, ignore=["*.log"])
    assert sorted(report.deleted) == ["lib/old.py", "stale.py"]
    assert board.fs.read_text("/outside.txt") == "keep me"
    assert board.fs.read_text("/app/data.log") == "board made this"  # ignored: left alone
    assert sorted(board.fs.hashes("/app")) == [
        "config.json",
        "data.log",
        "lib/driver.py",
        "main.py",
    ]
    assert "rom" in board.fs.ls("/")
    whole = board.sync(project, "/", delete=True, ignore=["*.log"])
    assert "outside.txt" in whole.deleted and not any(n.startswith("rom") for n in whole.deleted)
    assert "machine.py" in board.fs.ls("/rom")


def test_dry_run_reports_without_writing(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    board.fs.mkdir("/app")
    board.fs.write_text("/app/stale.py", "old")
    report = board.sync(project, "/app", delete=True, dry_run=True)
    assert report.dry_run
    assert sorted(report.sent) == ["config.json", "lib/driver.py", "main.py"]
    assert report.deleted == ["stale.py"]
    assert board.fs.ls("/app") == ["stale.py"]


def test_gitignore_and_patterns(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    (project / ".gitignore").write_text("secrets/\n")
    (project / "secrets").mkdir()
    (project / "secrets" / "key.txt").write_text("k")
    (project / "docs").mkdir()
    (project / "docs" / "readme.md").write_text("r")
    report = board.sync(project, "/", ignore=["docs/"])
    assert sorted(report.sent) == [".gitignore", "config.json", "lib/driver.py", "main.py"]


def test_progress_counts_files_and_bytes(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    seen: list[tuple[int, int, int, int]] = []
    report = board.sync(project, "/", progress=lambda *counts: seen.append(counts))
    assert seen[-1] == (3, 3, report.bytes_sent, report.bytes_sent)


def test_refuses_missing_or_empty_folders(board: Device, tmp_path: Path) -> None:
    board.fs.write_text("/precious.txt", "x")
    with pytest.raises(ConfigurationError, match="no such folder"):
        board.sync(tmp_path / "absent", "/", delete=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match="empty folder"):
        board.sync(tmp_path / "empty", "/", delete=True)
    (tmp_path / "only_cache" / "__pycache__").mkdir(parents=True)
    (tmp_path / "only_cache" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    with pytest.raises(ConfigurationError, match="empty folder"):
        board.sync(tmp_path / "only_cache", "/", delete=True)
    assert board.fs.read_text("/precious.txt") == "x"


def test_linked_folders_are_sent_not_deleted(board: Device, tmp_path: Path) -> None:
    # A package linked into the project is part of it: skipping the link made
    # delete=True remove the package's files from the board.
    package = tmp_path / "elsewhere" / "driver"
    package.mkdir(parents=True)
    (package / "lcd.py").write_text("LCD = 1\n")
    (package / "loop").symlink_to(package, target_is_directory=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("import driver.lcd\n")
    (project / "driver").symlink_to(package, target_is_directory=True)
    board.fs.mkdir("/app/driver")
    board.fs.write_text("/app/driver/lcd.py", "LCD = 1\n")
    report = board.sync(project, "/app", delete=True)
    assert report.deleted == []
    assert sorted(report.sent) == ["main.py"]
    assert sorted(report.unchanged) == ["driver/lcd.py"]
    assert board.fs.read_text("/app/driver/lcd.py") == "LCD = 1\n"


def test_unreadable_host_entries_stop_before_anything_is_sent(
    board: Device, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path / "project")
    board.fs.mkdir("/app/lib")
    board.fs.write_text("/app/lib/driver.py", "on the board")
    (project / "dangling.py").symlink_to(tmp_path / "gone.py")
    with pytest.raises(ConfigurationError, match=r"dangling\.py"):
        board.sync(project, "/app", delete=True)
    (project / "dangling.py").unlink()

    # A folder the host cannot list (permissions; faked: tests run as root) is
    # not an empty folder: its board files must not be deleted.
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path).endswith("lib"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(ConfigurationError, match="cannot be listed"):
        board.sync(project, "/app", delete=True)
    monkeypatch.undo()
    assert board.fs.read_text("/app/lib/driver.py") == "on the board"
    assert sorted(board.fs.hashes("/app")) == ["lib/driver.py"]


def test_board_file_where_the_host_has_a_folder(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    board.fs.mkdir("/app")
    board.fs.write_text("/app/lib", "a file named like the host's folder")
    board.fs.write_text("/app/keep.txt", "mine")
    with pytest.raises(BoardNotADirectory, match="delete=True") as refused:
        board.sync(project, "/app")
    assert refused.value.filename == "/app/lib"
    assert board.fs.read_text("/app/lib") == "a file named like the host's folder"
    assert not board.fs.exists("/app/main.py")  # refused before anything was sent

    dry = board.sync(project, "/app", delete=True, dry_run=True)
    assert dry.deleted == ["keep.txt", "lib"]
    assert board.fs.read_text("/app/lib") == "a file named like the host's folder"

    report = board.sync(project, "/app", delete=True)
    assert sorted(report.deleted) == ["keep.txt", "lib"]
    assert board.fs.read_text("/app/lib/driver.py") == "X = 1\n" * 200
    assert not board.sync(project, "/app", delete=True).changed


def test_board_folder_where_the_host_has_a_file(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    board.fs.mkdir("/app/config.json/deep")
    board.fs.write_text("/app/config.json/deep/x.txt", "x")
    board.fs.mkdir("/app/main.py")  # an empty folder: not in any file's path
    with pytest.raises(BoardIsADirectory, match="delete=True") as refused:
        board.sync(project, "/app")
    assert refused.value.filename == "/app/config.json"
    assert board.fs.read_text("/app/config.json/deep/x.txt") == "x"

    report = board.sync(project, "/app", delete=True)
    assert sorted(report.deleted) == ["config.json/", "config.json/deep/x.txt", "main.py/"]
    assert board.fs.read_text("/app/config.json") == '{"rate": 5}'
    assert board.fs.read_text("/app/main.py") == "import lib.driver\n"
    assert not board.sync(project, "/app", delete=True).changed


def test_target_that_is_a_board_file(board: Device, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    board.fs.write_text("/app", "not a folder")
    with pytest.raises(BoardNotADirectory, match="delete=True") as refused:
        board.sync(project, "/app")
    assert refused.value.filename == "/app"
    assert board.fs.read_text("/app") == "not a folder"
    report = board.sync(project, "//app/", delete=True)
    assert sorted(report.sent) == ["config.json", "lib/driver.py", "main.py"]
    assert board.fs.read_text("/app/main.py") == "import lib.driver\n"


@pytest.mark.parametrize("remote", ["//app", "/app/", "/app/./", "/lib/../app", "/app//lib/.."])
def test_delete_target_is_normalised_first(board: Device, tmp_path: Path, remote: str) -> None:
    project = _project(tmp_path / "project")
    board.fs.write_text("/outside.txt", "keep me")
    board.fs.mkdir("/app")
    board.fs.write_text("/app/stale.py", "old")
    report = board.sync(project, remote, delete=True)
    assert report.remote == "/app"
    assert report.deleted == ["stale.py"]
    assert board.fs.read_text("/outside.txt") == "keep me"
    assert sorted(board.fs.hashes("/")) == [
        "app/config.json",
        "app/lib/driver.py",
        "app/main.py",
        "outside.txt",
    ]


def test_confinement_check_normalises_paths() -> None:
    assert not is_within("/lib/../etc/x", "/lib")
    assert not is_within("/lib/./../x", "/lib/")
    assert is_within("//lib//a", "/lib")
    assert is_within("/lib/a", "//lib/./")
    assert not is_within("/libx", "/lib")
    with pytest.raises(ConfigurationError, match="outside"):
        confined("/app/../etc/passwd", "/app")
    with pytest.raises(ConfigurationError, match="outside"):
        confined("/app/.", "//app")
    assert confined("/app//lib/./x.py", "/app/") == "/app/lib/x.py"
