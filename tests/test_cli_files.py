"""File commands through the real entry point, on an emulator board whose flash is an image.

Each command is its own process and its own board; the flash image kept in
``tmp_path`` carries the files from one to the next, as a board's flash would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .cli_helpers import belayfw, one_error_line


@pytest.fixture
def port(tmp_path: Path) -> str:
    return f"emulator:unix?flash={tmp_path / 'flash.bin'}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "lib").mkdir(parents=True)
    (root / "main.py").write_text("print('main')\n", encoding="utf-8")
    (root / "lib" / "util.py").write_text("X = 1\n", encoding="utf-8")
    (root / "notes.tmp").write_text("scratch\n", encoding="utf-8")
    return root


def _ok(tmp_path: Path, *args: str) -> str:
    result = belayfw(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_sync_sends_what_changed_and_reports_it(tmp_path: Path, project: Path, port: str) -> None:
    first = _ok(tmp_path, "sync", str(project), "--ignore", "*.tmp", "-p", port)
    assert "sent          main.py" in first and "sent          lib/util.py" in first
    assert "notes.tmp" not in first and "sent 2 file(s)" in first
    again = _ok(tmp_path, "sync", str(project), "--ignore", "*.tmp", "-p", port)
    assert "sent 0 file(s)" in again and "2 unchanged" in again
    assert _ok(tmp_path, "ls", "-p", port).split() == ["lib/", "main.py", "rom/"]
    assert _ok(tmp_path, "cat", ":lib/util.py", "-p", port) == "X = 1\n"


def test_sync_dry_run_and_delete(tmp_path: Path, project: Path, port: str) -> None:
    _ok(tmp_path, "sync", str(project), "-p", port)
    (project / "notes.tmp").unlink()
    planned = _ok(tmp_path, "sync", str(project), "--delete", "--dry-run", "-p", port)
    assert "would remove  notes.tmp" in planned and "would remove 1;" in planned
    assert "notes.tmp" in _ok(tmp_path, "ls", "-p", port)  # a dry run changes nothing
    _ok(tmp_path, "sync", str(project), "--delete", "-p", port)
    assert "notes.tmp" not in _ok(tmp_path, "ls", "-p", port)


def test_sync_into_a_board_folder(tmp_path: Path, project: Path, port: str) -> None:
    _ok(tmp_path, "sync", str(project), ":app", "-p", port)
    listed = _ok(tmp_path, "ls", "--long", ":app", "-p", port)
    assert "main.py" in listed and "dir" in listed and "14" in listed  # main.py's 14 bytes


def test_cp_both_ways(tmp_path: Path, project: Path, port: str) -> None:
    assert ":/main.py" in _ok(tmp_path, "cp", str(project / "main.py"), ":", "-p", port)
    line = one_error_line(belayfw(tmp_path, "cp", str(project / "main.py"), ":data/", "-p", port))
    assert line.startswith("belayfw: BoardFileNotFound:")  # a folder that is not there
    _ok(tmp_path, "mkdir", "-p", ":data/logs", "--port", port)
    _ok(tmp_path, "cp", str(project / "lib" / "util.py"), ":data/logs/", "-p", port)
    back = tmp_path / "back.py"
    _ok(tmp_path, "cp", ":data/logs/util.py", str(back), "-p", port)
    assert back.read_text(encoding="utf-8") == "X = 1\n"


def test_cp_needs_exactly_one_board_side(tmp_path: Path, port: str) -> None:
    assert "mark the board's side" in one_error_line(belayfw(tmp_path, "cp", "a", "b", "-p", port))
    line = one_error_line(belayfw(tmp_path, "cp", ":a", ":b", "-p", port))
    assert line.startswith("belayfw: UsageError:")


def test_cp_a_missing_host_file(tmp_path: Path, port: str) -> None:
    line = one_error_line(belayfw(tmp_path, "cp", str(tmp_path / "nope.py"), ":", "-p", port))
    assert "FileNotFoundError" in line and "nope.py" in line


def test_mkdir_rm_and_their_mistakes(tmp_path: Path, project: Path, port: str) -> None:
    line = one_error_line(belayfw(tmp_path, "mkdir", ":a/b", "--port", port))
    assert line.startswith("belayfw: BoardFileNotFound:")  # no parent without -p
    _ok(tmp_path, "mkdir", "-p", ":a/b", "--port", port)
    _ok(tmp_path, "sync", str(project), ":a/b", "-p", port)
    line = one_error_line(belayfw(tmp_path, "rm", ":a", "-p", port))
    assert "use rm -r" in line
    _ok(tmp_path, "rm", ":a/b/main.py", "-p", port)
    assert "main.py" not in _ok(tmp_path, "ls", ":a/b", "-p", port)
    _ok(tmp_path, "rm", "-r", ":a", "-p", port)
    assert _ok(tmp_path, "ls", "-p", port).split() == ["rom/"]
    assert "BoardFileNotFound" in one_error_line(belayfw(tmp_path, "cat", ":a/x", "-p", port))


def test_df(tmp_path: Path, port: str) -> None:
    table = _ok(tmp_path, "df", "-p", port)
    for column in ("size", "used", "free", "use%", "2,048 KB"):  # the unix profile's flash
        assert column in table
