"""dev.fs against the emulator board's own flash."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from belayfw import Device, TaskTimeout
from belayfw.errors import (
    BoardFileExists,
    BoardFileNotFound,
    BoardFlashFull,
    BoardIsADirectory,
    BoardNotADirectory,
    BoardPathError,
)
from belayfw.fs import board_path


def test_write_read_round_trip_binary_and_text(board: Device) -> None:
    data = os.urandom(70_000) + bytes(range(256)) * 40  # every byte value, incompressible part
    assert board.fs.write_bytes("/blob.bin", data) == len(data)
    assert board.fs.read_bytes("/blob.bin") == data
    board.fs.write_text("notes.txt", "héllo\nwörld\x00\x03\x04")
    assert board.fs.read_text("/notes.txt") == "héllo\nwörld\x00\x03\x04"
    board.fs.write_bytes("/empty", b"")
    assert board.fs.read_bytes("/empty") == b""
    assert board.fs.stat("/blob.bin").size == len(data)


def test_names_up_to_the_limit_and_a_lookalike_temporary_name(board: Device) -> None:
    # An upload's temporary name once was the name plus ".bfw-part": over the
    # 255-byte limit for long names, and a user's "x.bfw-part" was clobbered.
    longest = "/" + "é" * 127  # 254 bytes
    board.fs.write_text(longest, "long")
    assert board.fs.read_text(longest) == "long"
    board.fs.write_text("/x.bfw-part", "mine")
    board.fs.write_text("/x", "upload")
    assert board.fs.read_text("/x.bfw-part") == "mine"
    assert sorted(board.fs.ls("/")) == sorted(["rom", longest[1:], "x", "x.bfw-part"])


def test_compressible_source_goes_compressed_and_arrives_intact(board: Device) -> None:
    source = Path(__file__).read_bytes() * 5
    before = board.link_stats.bytes_sent
    board.fs.write_bytes("/lib/big.py", source) if board.fs.mkdir("/lib") is None else None
    compressed = board.link_stats.bytes_sent - before
    assert board.fs.read_bytes("/lib/big.py") == source
    before = board.link_stats.bytes_sent
    board.fs.write_bytes("/lib/plain.py", source, compress=False)
    plain = board.link_stats.bytes_sent - before
    assert compressed * 2 < plain
    assert board.fs.hash("/lib/big.py") == hashlib.sha256(source).hexdigest()


def test_listing_stat_exists_walk(board: Device) -> None:
    fs = board.fs
    fs.mkdir("/a/b/c")
    fs.write_text("/a/one.txt", "1")
    fs.write_text("/a/b/two.txt", "22")
    assert fs.ls("/a") == ["b", "one.txt"]
    entries = {entry.name: entry for entry in fs.ls("/", detail=True)}
    assert entries["a"].kind == "dir"
    assert entries["rom"].kind == "mount"
    assert [(e.name, e.kind, e.size) for e in fs.ls("/a", detail=True)] == [
        ("b", "dir", 0),
        ("one.txt", "file", 1),
    ]
    assert fs.stat("/a").is_dir and not fs.stat("/a/one.txt").is_dir
    assert fs.exists("/a/b/two.txt") and not fs.exists("/a/nope")
    assert list(fs.walk("/a")) == [
        ("/a", ["b"], ["one.txt"]),
        ("/a/b", ["c"], ["two.txt"]),
        ("/a/b/c", [], []),
    ]
    assert fs.hashes("/a") == {
        "one.txt": (1, hashlib.sha256(b"1").hexdigest()),
        "b/two.txt": (2, hashlib.sha256(b"22").hexdigest()),
    }
    assert "rom" not in [name for _, dirs, _ in fs.walk("/") for name in dirs]


def test_put_get_rename_remove_rmdir(board: Device, tmp_path: Path) -> None:
    fs = board.fs
    local = tmp_path / "driver.py"
    local.write_text("DRIVER = 1\n")
    assert fs.put(local) == "/driver.py"
    fs.mkdir("/lib")
    assert fs.put(local, "/lib") == "/lib/driver.py"
    fetched = fs.get("/lib/driver.py", tmp_path / "back.py")
    assert fetched.read_text() == "DRIVER = 1\n"
    (tmp_path / "into").mkdir()
    assert fs.get("/driver.py", tmp_path / "into") == tmp_path / "into" / "driver.py"
    fs.rename("/driver.py", "/main.py")
    assert fs.ls("/") == ["lib", "main.py", "rom"]
    fs.remove("/main.py")
    with pytest.raises(BoardFileExists):
        fs.mkdir("/lib", exist_ok=False)
    fs.rmdir("/lib")
    assert fs.ls("/") == ["rom"]
    assert board.eval("[n for n in globals() if n[:1] != '_']") == []


def test_errors_are_typed_and_name_the_board_path(board: Device) -> None:
    fs = board.fs
    with pytest.raises(FileNotFoundError) as missing:
        fs.read_bytes("/nothing/here.txt")
    assert isinstance(missing.value, BoardFileNotFound)
    assert missing.value.filename == "/nothing/here.txt"
    with pytest.raises(BoardFileNotFound) as renamed:
        fs.rename("/absent", "/other")
    assert renamed.value.filename == "/absent"
    fs.mkdir("/d")
    fs.write_text("/d/f", "x")
    with pytest.raises(BoardIsADirectory):
        fs.remove("/d")
    with pytest.raises(BoardIsADirectory):
        fs.read_bytes("/d")
    with pytest.raises(BoardNotADirectory):
        fs.ls("/d/f")
    with pytest.raises(OSError, match="not empty"):
        fs.rmdir("/d", recursive=False)
    with pytest.raises(BoardIsADirectory, match="root"):
        fs.rmdir("/")
    assert fs.read_text("/d/f") == "x"  # the session is still usable


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty"),
        ("/a\x00b", "control character"),
        ("/../etc/passwd", "climbs above"),
        ("a/../../b", "climbs above"),
        ("/" + "n" * 300, "over 255 bytes"),
    ],
)
def test_bad_paths_are_refused_on_the_host(path: str, message: str) -> None:
    with pytest.raises(BoardPathError, match=message):
        board_path(path)


def test_paths_are_normalised() -> None:
    assert board_path("lib/x.py") == "/lib/x.py"
    assert board_path("/lib/./a/../x.py") == "/lib/x.py"
    assert board_path("//lib//x.py") == "/lib/x.py"
    assert board_path(Path("lib") / "x.py") == "/lib/x.py"


def test_a_full_flash_raises_and_keeps_the_old_file(output) -> None:
    with Device("emulator:pico?flash_size=128K", output=output) as board:
        board.fs.write_bytes("/keep.bin", b"old content")
        with pytest.raises(BoardFlashFull) as full:
            board.fs.write_bytes("/keep.bin", os.urandom(400_000))
        assert full.value.filename == "/keep.bin"
        assert board.fs.read_bytes("/keep.bin") == b"old content"
        assert board.fs.ls("/") == ["keep.bin", "rom"]  # no partial upload left behind
        board.fs.write_bytes("/small.bin", b"fits")  # the room came back


def test_an_interrupted_upload_leaves_the_old_file(board: Device) -> None:
    board.fs.write_bytes("/config.json", b'{"v": 1}')
    stop = threading.Event()

    def interrupt_midway(done: int, total: int) -> None:
        if done < total and not stop.is_set():
            stop.set()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        board.fs.write_bytes(
            "/config.json", os.urandom(3_000_000), progress=interrupt_midway, compress=False
        )
    assert stop.is_set()
    assert board.fs.read_bytes("/config.json") == b'{"v": 1}'
    assert board.fs.ls("/") == ["config.json", "rom"]


def test_progress_reports_bytes(board: Device) -> None:
    seen: list[tuple[int, int]] = []
    board.fs.write_bytes("/p.bin", os.urandom(1_500_000), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (1_500_000, 1_500_000)
    assert len(seen) > 1 and seen == sorted(seen)
    reads: list[tuple[int, int]] = []
    board.fs.read_bytes("/p.bin", progress=lambda d, t: reads.append((d, t)))
    assert reads[-1] == (1_500_000, 1_500_000)


def test_helpers_come_back_after_a_soft_reset(board: Device) -> None:
    board.fs.write_text("/a.txt", "kept")
    board.soft_reset()
    assert board.fs.read_text("/a.txt") == "kept"


def test_df_reports_the_flash(output) -> None:
    with Device("emulator:esp32", output=output) as board:
        usage = board.fs.df()
        assert usage.total == 1536 * 1024
        assert 0 < usage.free < usage.total
        board.fs.write_bytes("/x", os.urandom(100_000))
        assert board.fs.df().free < usage.free


def test_session_fs_caches_listings_until_a_change(board: Device) -> None:
    session = board.primary_session
    assert session is not None
    board.fs.write_text("/a.txt", "1")
    assert [e.name for e in session.fs.ls("/")] == ["a.txt", "rom"]
    before = board.link_stats.round_trips
    assert [e.name for e in session.fs.ls("/")] == ["a.txt", "rom"]
    assert session.fs.stat("/a.txt").size == 1
    session.fs.stat("/a.txt")
    assert board.link_stats.round_trips - before == 1  # the stat; the listing was cached
    board.fs.write_text("/b.txt", "22")  # through dev.fs: the cache is dropped
    assert [e.name for e in session.fs.ls("/")] == ["a.txt", "b.txt", "rom"]
    session.fs.remove("/a.txt")
    assert [e.name for e in session.fs.ls("/")] == ["b.txt", "rom"]
    assert any(event.message == "fs remove" for event in session.events)


def test_session_tempfile_is_removed_when_the_session_ends(output) -> None:
    with Device("emulator", output=output) as board:
        with board.manager.new_session(board) as extra:
            path = extra.fs.tempfile(".log")
            assert path.endswith(".log") and board.fs.exists(path)
            assert any(r.resource_id == path for r in extra.resources.resources)
        assert not board.fs.exists(path)
        with pytest.raises(ValueError), board.manager.new_session(board) as failing:
            doomed = failing.fs.tempfile()
            raise ValueError("user code failed")
        assert not board.fs.exists(doomed)
