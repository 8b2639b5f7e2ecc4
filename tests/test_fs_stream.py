"""Uploads streamed through the board's stdin: one command, a piece per grant.

Against the emulator board directly (its interrupt is a signal) and through a
pty export, where the host is a serial client and Ctrl-C travels in the byte
stream as on a hardware board's UART.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from belayfw import Device
from belayfw.errors import BelayError
from belayfw.fs import BoardFS, pieces
from belayfw.fs.helpers import BoardHelpers
from belayfw.response import ResponseParser

from .conftest import OutputCollector

SOURCE = b"".join(
    path.read_bytes() for path in sorted((Path(__file__).parent.parent / "belayfw").rglob("*.py"))
)[: 300 * 1024]


@pytest.fixture(params=["emulator", "serial"])
def any_board(request: pytest.FixtureRequest, output: OutputCollector) -> Iterator[Device]:
    """An emulator board, opened directly or as a serial port (a pty export)."""
    with ExitStack() as stack:
        port = "emulator"
        if request.param == "serial":
            from belayfw.export import ExportedBoard, PtyExport

            export = PtyExport(ExportedBoard())
            relay = threading.Thread(target=export.serve_forever, daemon=True)
            relay.start()
            stack.callback(export.close)
            stack.callback(relay.join, timeout=5)
            stack.callback(export.stop)
            port = export.path
        yield stack.enter_context(Device(port, output=output))


@pytest.mark.timeout(120)
def test_an_upload_is_one_round_trip_and_arrives_intact(any_board: Device) -> None:
    any_board.fs.write_bytes("/warm.txt", b"helpers installed, memory measured")
    for name, data in (("/random.bin", os.urandom(700_000)), ("/source.py", SOURCE)):
        before = any_board.link_stats.round_trips
        assert any_board.fs.write_bytes(name, data) == len(data)
        assert any_board.link_stats.round_trips - before == 1
        assert any_board.fs.hash(name) == hashlib.sha256(data).hexdigest()
    assert any_board.fs.read_bytes("/source.py") == SOURCE
    assert sorted(any_board.fs.ls("/")) == ["random.bin", "rom", "source.py", "warm.txt"]


@pytest.mark.timeout(120)
def test_an_upload_interrupted_inside_a_piece_keeps_the_old_file(
    any_board: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    any_board.fs.write_bytes("/config.json", b'{"v": 1}')
    repl = any_board._link.repl
    real_write = repl._write
    cut: list[int] = []

    def write(data: bytes) -> None:
        if data[:1] in (b"p", b"z") and data[1:8].isdigit() and not cut:
            cut.append(len(data) // 2)
            real_write(data[: cut[0]])  # half a piece is out, then the host user's Ctrl-C
            raise KeyboardInterrupt
        real_write(data)

    monkeypatch.setattr(repl, "_write", write)
    with pytest.raises(KeyboardInterrupt):
        any_board.fs.write_bytes("/config.json", os.urandom(500_000), compress=False)
    monkeypatch.undo()
    assert cut
    # The rest of the piece never came; what did is not read as a command.
    assert any_board.eval("6 * 7") == 42
    assert any_board.fs.read_bytes("/config.json") == b'{"v": 1}'
    assert any_board.fs.ls("/") == ["config.json", "rom"]
    any_board.fs.write_bytes("/config.json", b'{"v": 2}')
    assert any_board.fs.read_bytes("/config.json") == b'{"v": 2}'


@pytest.mark.timeout(120)
def test_a_failing_progress_callback_stops_the_upload_and_keeps_the_link(board: Device) -> None:
    board.fs.write_bytes("/keep.txt", b"old")

    def fails(done: int, total: int) -> None:
        if 0 < done < total:
            raise ValueError("the progress bar broke")

    with pytest.raises(ValueError, match="progress bar"):
        board.fs.write_bytes("/keep.txt", os.urandom(300_000), progress=fails, compress=False)
    assert board.eval("6 * 7") == 42
    assert board.fs.read_bytes("/keep.txt") == b"old"
    assert board.fs.ls("/") == ["keep.txt", "rom"]


@pytest.mark.timeout(120)
def test_an_upload_that_arrives_damaged_keeps_the_old_file(
    board: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    board.fs.write_bytes("/data.bin", b"old")
    real_split = pieces.split

    def damaged(data: bytes, **options: object) -> pieces.Pieces:
        made = real_split(data, **options)  # type: ignore[arg-type]
        body = bytearray(base64.b64decode(made.pieces[0][8:]))
        body[0] ^= 1  # a bit flipped on the way, in a piece that is still valid base64
        made.pieces[0] = made.pieces[0][:8] + base64.b64encode(bytes(body))
        return made

    monkeypatch.setattr(pieces, "split", damaged)
    with pytest.raises(BelayError, match="arrived damaged"):
        board.fs.write_bytes("/data.bin", os.urandom(50_000), compress=False)
    assert board.fs.read_bytes("/data.bin") == b"old"
    assert board.fs.ls("/") == ["data.bin", "rom"]


@pytest.mark.timeout(120)
def test_board_threads_print_while_an_upload_streams(
    board: Device, output: OutputCollector
) -> None:
    board.exec(
        "import _thread, time\n"
        "def _talk():\n"
        "    for n in range(40):\n"
        "        print('tick', n)\n"
        "        time.sleep_ms(1)\n"
        "_thread.start_new_thread(_talk, ())\n"
    )
    data = os.urandom(400_000)
    board.fs.write_bytes("/busy.bin", data)
    output.wait_for(lambda text: "tick 39" in text)
    assert board.fs.hash("/busy.bin") == hashlib.sha256(data).hexdigest()


def test_a_board_that_cannot_read_its_stdin_gets_windows(
    board: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_info = BoardHelpers.info

    def no_stdin(self: BoardHelpers) -> tuple[int, bool, bool, bool]:
        free, can_inflate, has_hashlib, _ = real_info(self)
        return free, can_inflate, has_hashlib, False

    monkeypatch.setattr(BoardHelpers, "info", no_stdin)
    windows = BoardFS(board)  # one command per window
    data = os.urandom(200_000)
    before = board.link_stats.round_trips
    assert windows.write_bytes("/w.bin", data) == len(data)
    assert board.link_stats.round_trips - before > 2
    assert board.fs.read_bytes("/w.bin") == data


def _unpack(made: pieces.Pieces, wbits: int) -> bytes:
    out = b""
    for piece in made.pieces:
        body = base64.b64decode(piece[8:])
        assert int(piece[1:8]) == len(piece) - 8
        out += zlib.decompress(body, -wbits) if piece[:1] == b"z" else body
    return out


@pytest.mark.parametrize("limit", [2048, 6000, 48 * 1024])
def test_pieces_fit_the_limit_and_compress_only_when_it_pays(limit: int) -> None:
    noise = os.urandom(150_000)
    made = pieces.split(noise + SOURCE, limit=limit, wbits=12, compress=None)
    assert all(len(piece) <= limit for piece in made.pieces)
    assert _unpack(made, 12) == noise + SOURCE
    assert made.pieces[0][:1] == b"p"  # noise: not worth compressing, nor afterwards
    assert {piece[:1] for piece in made.pieces} == {b"p"}

    plain = pieces.split(SOURCE, limit=limit, wbits=12, compress=False)
    assert {piece[:1] for piece in plain.pieces} == {b"p"}
    assert _unpack(plain, 12) == SOURCE

    made = pieces.split(SOURCE, limit=limit, wbits=12, compress=None)
    assert all(len(piece) <= limit for piece in made.pieces)
    assert {piece[:1] for piece in made.pieces} == {b"z"}
    assert made.encoded_size * 2 < plain.encoded_size
    assert _unpack(made, 12) == SOURCE
    assert sum(made.raw_sizes) == len(SOURCE)
    assert pieces.split(b"", limit=limit, wbits=12, compress=None).pieces == []


def test_only_this_transfers_grants_count() -> None:
    parser = ResponseParser(b"\x0212345678", lambda text: None, lambda tag, payload: None)
    parser.grant_key = b"abc"
    seen: list[str] = []
    parser.sinks.on_output = seen.append
    parser.feed(b"\x0212345678gabc\x03\x0212345678gold\x03text\x0212345678gabc\x03")
    assert parser.grants == 2
    assert seen == ["text"]
    parser.grant_key = None
    parser.feed(b"\x0212345678gabc\x03")
    assert parser.grants == 2


def _sizes(free: int) -> tuple[int, int]:
    return pieces.piece_size(free), pieces.inflate_bits(free)


@pytest.mark.parametrize(
    ("free", "expected"),
    [(30_000, (3748, 10)), (110_000, (13748, 12)), (2_000_000, (49152, 14))],
)
def test_piece_and_window_sizes_follow_free_memory(free: int, expected: tuple[int, int]) -> None:
    assert _sizes(free) == expected
