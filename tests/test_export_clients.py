"""The network export between clients: a busy client is not a leaving one, and a new
client starts clean.

Found open: ``is_leaving()`` was true for any unread bytes, so a client busy
sending made a second client wait the whole hand-over time before being told
the board is in use; and a raw-paste request the last client sent but never
ended was inherited by the next client, whose plain commands then counted as
raw-paste code (its Ctrl-C became a signal from the export).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from belayfw.export import ExportedBoard, NetworkExport
from belayfw.export import network as network_export

from .conftest import wait_until

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"


def _read_until(connection: socket.socket, marker: bytes) -> bytes:
    """Read from a client socket until ``marker`` shows (30 s deadline)."""
    seen, deadline = b"", time.monotonic() + 30
    while marker not in seen:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = connection.recv(4096)
        assert chunk, f"the export hung up before {marker!r}; got {seen!r}"
        seen += chunk
    return seen


def _connect(export: NetworkExport) -> socket.socket:
    return socket.create_connection((export.host, export.port), timeout=30)


def _enter_raw_repl(client: socket.socket) -> None:
    """What clients send to start (Ctrl-C twice, then Ctrl-A), until the raw REPL answers."""
    client.sendall(b"\r\x03\x03\x01")
    _read_until(client, RAW_BANNER)


@contextmanager
def _client_in_the_raw_repl() -> Iterator[tuple[NetworkExport, socket.socket]]:
    """A new exported board, and one client that has entered its raw REPL."""
    with NetworkExport(ExportedBoard(), telnet=False) as export, _connect(export) as client:
        _enter_raw_repl(client)
        yield export, client


def _double_ctrl_c_stops_the_code(client: socket.socket) -> None:
    """A client's ``\\r\\x03\\x03`` during running code ends it with KeyboardInterrupt."""
    client.sendall(b"\r\x03\x03")
    assert b"KeyboardInterrupt" in _read_until(client, b"\x04>")


def _assert_the_board_kept_its_globals(client: socket.socket) -> None:
    """The code's ``ticks`` is still there: the board did not reboot (plain raw REPL)."""
    client.sendall(b"print(ticks > 0)\x04")
    assert b"True" in _read_until(client, b"\x04>")


@pytest.fixture
def loopback_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A real TCP connection over loopback: (the client's end, the server's end)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname()[:2], timeout=30)
        accepted, _ = server.accept()
    try:
        yield client, accepted
    finally:
        client.close()
        accepted.close()


def _unread(connection: socket.socket) -> bool:
    return bool(select.select([connection], [], [], 0)[0])


def test_a_client_with_unread_bytes_is_not_leaving(loopback_pair) -> None:
    client_end, server_end = loopback_pair
    client = network_export._Client(server_end, telnet=False)
    client_end.sendall(b"still typing")
    wait_until(lambda: _unread(server_end), what="the bytes to arrive")
    assert not client.is_leaving()  # busy, still connected
    client_end.shutdown(socket.SHUT_WR)  # its hangup now waits behind those bytes
    wait_until(client.is_leaving, what="the hangup to be seen behind the unread bytes")


def test_a_client_that_hung_up_is_leaving(loopback_pair) -> None:
    client_end, server_end = loopback_pair
    client = network_export._Client(server_end, telnet=False)
    assert not client.is_leaving()  # idle and connected
    client_end.close()
    wait_until(client.is_leaving, what="the hangup to be seen")
    server_end.close()
    assert client.is_leaving()  # closed under us


@pytest.mark.timeout(120)
def test_a_busy_client_gets_the_second_one_refused_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second client is refused without waiting for the busy first one to leave."""
    monkeypatch.setattr(network_export, "_HANDOVER_SECONDS", 120.0)  # longer than the deadline
    with NetworkExport(ExportedBoard(), telnet=False) as export:
        board_write = export.board.write
        entered, release = threading.Event(), threading.Event()

        def slow_write(data: bytes) -> None:
            entered.set()
            assert release.wait(60)
            board_write(data)

        monkeypatch.setattr(export.board, "write", slow_write)
        first = _connect(export)
        with first:
            first.sendall(b"\r")
            assert entered.wait(30)  # its loop is busy writing to the board ...
            first.sendall(b"\r\r")  # ... so these wait unread: it is busy, not leaving
            with _connect(export) as second:
                _read_until(second, b"in use by another client")
            release.set()
            assert export.refused == 1
            first.sendall(b"\x02")  # the first client keeps its board
            assert b">>> " in _read_until(first, b">>> ")


@pytest.mark.timeout(120)
def test_a_new_client_does_not_inherit_a_raw_paste_request(mocker) -> None:
    with NetworkExport(ExportedBoard(), telnet=False) as export:
        with _connect(export) as first:
            _enter_raw_repl(first)
            first.sendall(b"\x05A\x01")  # asks for raw paste, then leaves without a command
            _read_until(first, b"R\x01")
        wait_until(lambda: export._client is None, what="the first client to be reaped")
        signal_sent = mocker.spy(export.board.transport, "interrupt")
        with _connect(export) as second:
            _enter_raw_repl(second)  # its Ctrl-C cancels the raw paste on the board
            second.sendall(b"print('go')\nwhile True:\n    pass\n\x04")  # plain raw REPL
            _read_until(second, b"go")
            wait_until(lambda: export.board.running, what="the command to run")
            second.sendall(b"\x03")  # plain raw-REPL code: the terminal turns it into SIGINT
            said = _read_until(second, b"\x04>")
        assert b"KeyboardInterrupt" in said
        assert signal_sent.call_count == 0, "the export treated the code as raw-paste code"


@pytest.mark.timeout(120)
def test_a_double_ctrl_c_stops_raw_paste_code_with_one_signal(mocker) -> None:
    """Clients send ``\\r\\x03\\x03``. Two signals for raw-paste code: the second could
    find the board idle, and the unix port exits then (the board rebooted, its RAM
    gone: `belayfw run --no-follow` then `eval` failed 1 full run in 10)."""
    with _client_in_the_raw_repl() as (export, client):
        client.sendall(b"\x05A\x01")
        _read_until(client, b"R\x01")
        client.sendall(b"ticks = 0\nwhile True:\n    ticks += 1\n\x04")
        wait_until(lambda: export.board.running, what="the raw-paste code to run")
        signal_sent = mocker.spy(export.board.transport, "interrupt")
        _double_ctrl_c_stops_the_code(client)
        assert signal_sent.call_count == 1
        _assert_the_board_kept_its_globals(client)


def test_a_new_board_takes_client_input_only_once_its_repl_has_the_terminal() -> None:
    """Until the unix port's REPL takes the terminal, a Ctrl-C is a signal that ends the
    process (3 of 40 boards died on a client's Ctrl-C 7-15 ms after they started)."""
    import termios

    board = ExportedBoard()
    try:
        fileno = board.fileno()
        assert fileno is not None
        assert not termios.tcgetattr(fileno)[3] & termios.ISIG, "a Ctrl-C would be a signal"
        board.write(b"\r\x03\x03\x01")
        seen = b""
        deadline = time.monotonic() + 30
        while RAW_BANNER not in seen:
            assert time.monotonic() < deadline, seen
            seen += board.read(deadline)
        assert board.reboots == 0
    finally:
        board.close()


@pytest.mark.timeout(120)
def test_a_double_ctrl_c_stops_plain_raw_code_with_one_key(mocker) -> None:
    """For plain raw-REPL code the terminal makes each Ctrl-C byte a signal: the second of
    ``\\r\\x03\\x03`` could find the board idle and end it (the next client found its RAM
    gone: `belayfw run --no-follow` then `eval`, 1 quiet full run in 10, twice)."""
    with _client_in_the_raw_repl() as (export, client):
        client.sendall(b"ticks = 0\nprint('go')\nwhile True:\n    ticks += 1\n\x04")
        _read_until(client, b"go")
        written = mocker.spy(export.board.transport, "write")
        _double_ctrl_c_stops_the_code(client)
        assert [call.args[0] for call in written.call_args_list].count(b"\x03") == 1
        _assert_the_board_kept_its_globals(client)
