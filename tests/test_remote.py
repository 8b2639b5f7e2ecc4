"""Boards over the network, end to end on 127.0.0.1: rfc2217:// and socket://.

Every link leads to a real emulator board: belayfw's own export
(:class:`NetworkExport`, RFC 2217 through pyserial's PortManager, or raw TCP)
in every run, and ser2net in front of the board's pseudo-terminal when ser2net
is installed, configured as labgrid's exporter configures it.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from belayfw import (
    ConfigurationError,
    Device,
    DeviceDisconnected,
    TaskTimeout,
    setup,
    task,
    thread,
)
from belayfw.errors import BelayError
from belayfw.export import ExportedBoard, NetworkExport, PtyExport
from belayfw.export import network as network_export
from belayfw.export.ser2net import Ser2net, find_ser2net
from belayfw.transports.port_lock import PortLock

from .cli_helpers import belayfw, one_error_line, start_belayfw
from .conftest import wait_until


class Remote(Device):
    @setup
    def init():
        import time

    @task
    def square(x):
        return x * x

    @task
    def blob(n):
        return bytes(range(256)) * n

    @thread(name="ticker")
    def ticks(limit):
        for n in range(limit):
            print("tick", n)
            time.sleep_ms(2)
        print("ticker done")


# Code long enough to go in raw-paste mode, which the unix port runs with its
# terminal still raw: only a signal stops it (see belayfw.export.board).
PASTED_LOOP = "x = 0\n" + "".join(f"x += {n}\n" for n in range(300)) + "while True:\n    x += 1\n"


@pytest.fixture(scope="module")
def export_rfc2217() -> Iterator[NetworkExport]:
    with NetworkExport(ExportedBoard(), "127.0.0.1", 0, telnet=True) as export:
        yield export


@pytest.fixture(scope="module")
def export_socket() -> Iterator[NetworkExport]:
    with NetworkExport(ExportedBoard(), "127.0.0.1", 0, telnet=False) as export:
        yield export


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ser2net() -> Iterator[dict[str, str]]:
    """ser2net serving emulator boards (on ptys) as rfc2217:// and socket://.

    One board per scheme: ser2net closes a device a moment after its client
    leaves, and says "Port's device already in use" to a client of another
    accepter that arrives meanwhile.
    """
    if find_ser2net() is None:
        pytest.skip("ser2net is not installed (Debian: apt-get install ser2net; .ci/run does)")
    with contextlib.ExitStack() as stack:
        urls = {}
        for scheme in ("rfc2217", "socket"):
            export = PtyExport(ExportedBoard())
            relay = threading.Thread(target=export.serve_forever, daemon=True)
            relay.start()
            stack.callback(export.close)
            stack.callback(relay.join, timeout=5)
            stack.callback(export.stop)
            server = stack.enter_context(Ser2net(export.path))
            urls[scheme] = server.rfc2217_url if scheme == "rfc2217" else server.socket_url
        yield urls


LINKS = ["export-rfc2217", "export-socket", "ser2net-rfc2217", "ser2net-socket"]


@pytest.fixture(params=LINKS)
def remote_port(request: pytest.FixtureRequest) -> str:
    server, _, scheme = request.param.partition("-")
    if server == "ser2net":
        return str(request.getfixturevalue("ser2net")[scheme])
    export: NetworkExport = request.getfixturevalue(f"export_{scheme}")
    return export.url


@pytest.fixture
def remote(remote_port: str, output) -> Iterator[Remote]:
    with Remote(remote_port, output=output) as device:
        yield device


# -- a board over each link behaves as a local one ------------------------------------------


def test_tasks_eval_and_exec(remote: Remote) -> None:
    assert remote.square(12) == 144
    assert remote.eval("6 * 7") == 42
    assert remote.exec("print('over the network')") == "over the network\n"


def test_bulk_results_with_every_byte_value(remote: Remote) -> None:
    # 0xFF is Telnet's IAC: RFC 2217 doubles it on the wire both ways.
    assert remote.blob(64) == bytes(range(256)) * 64
    assert remote.eval("'\\xff' * 3000") == "\xff" * 3000
    raw = remote.exec("import sys\nsys.stdout.write(bytes([255, 255, 10]))")
    assert raw.encode("utf-8", "surrogateescape").count(b"\n") == 1


def test_threads_print_while_tasks_run(remote: Remote, output) -> None:
    remote.ticks(100)
    for value in range(100):
        assert remote.square(value) == value * value
    text = output.wait_for(lambda text: "[ticker] ticker done\n" in text)
    ticks = [line for line in text.splitlines() if line.startswith("[ticker] tick ")]
    assert ticks == [f"[ticker] tick {n}" for n in range(100)]


def test_timeouts_interrupt_and_leave_the_link_usable(remote: Remote) -> None:
    with pytest.raises(TaskTimeout):
        remote.exec("while True:\n    pass\n", timeout=0.5)
    assert remote.eval("'after a raw REPL loop'") == "after a raw REPL loop"
    with pytest.raises(TaskTimeout):
        remote.exec(PASTED_LOOP, timeout=0.5)
    assert remote.square(9) == 81


def test_a_closed_device_lets_the_next_one_in(remote_port: str) -> None:
    with Remote(remote_port) as first:
        assert first.square(2) == 4
    with Remote(remote_port) as second:
        assert second.square(3) == 9


# -- belayfw's export --------------------------------------------------------------------------


def test_export_serves_one_client_and_tells_a_second_one(export_rfc2217: NetworkExport) -> None:
    refused = export_rfc2217.refused
    with Device(export_rfc2217.url) as first:
        other = socket.create_connection((export_rfc2217.host, export_rfc2217.port), timeout=10)
        with other:
            said = b""
            while chunk := other.recv(4096):
                said += chunk
        assert b"in use by another client" in said
        assert first.eval("1 + 1") == 2  # the first client keeps its board
    assert export_rfc2217.refused == refused + 1


def test_a_client_that_hung_up_is_reaped_before_the_next_one_is_judged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next client is not refused because the last one's hangup is still queued."""
    monkeypatch.setattr(network_export, "_HANDOVER_SECONDS", 60.0)
    with NetworkExport(ExportedBoard(), telnet=False) as export:
        board_write = export.board.write
        entered, release = threading.Event(), threading.Event()

        def slow_write(data: bytes) -> None:
            entered.set()
            assert release.wait(30)
            board_write(data)

        monkeypatch.setattr(export.board, "write", slow_write)
        first = socket.create_connection((export.host, export.port), timeout=30)
        first.sendall(b"\r")
        assert entered.wait(30)  # its loop is busy: the hangup below stays queued
        first.close()
        with socket.create_connection((export.host, export.port), timeout=30) as second:
            release.set()
            second.sendall(b"\x02")  # friendly REPL: the board answers with its banner
            said = b""
            while b">>> " not in said and (chunk := second.recv(4096)):
                said += chunk
        assert b">>> " in said
        assert b"in use" not in said
        assert export.refused == 0


def _read_until(board: ExportedBoard, marker: bytes) -> bytes:
    seen, deadline = b"", time.monotonic() + 30
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} in {seen!r}"
        seen += board.read(deadline)
    return seen


def test_a_paste_request_sent_before_the_last_prompt_arrives_still_counts() -> None:
    """The client may ask for raw paste before the board's reader has seen the last ``\\x04>``."""
    board = ExportedBoard()
    try:
        board.write(b"\r\x01")
        _read_until(board, b"raw REPL; CTRL-B to exit\r\n>")
        board.write(b"print(1)\x04")  # its prompt stays unread until after the request
        board.write(b"\x05A\x01")
        _read_until(board, b"R\x01")
        board.write(b"print('go')\nwhile True:\n    pass\n\x04")  # fits the first window
        _read_until(board, b"go")  # running, past its compile
        board.write(b"\x03")  # raw-paste code runs with the terminal raw: only a signal stops it
        assert b"KeyboardInterrupt" in _read_until(board, b"\x04>")
    finally:
        board.close()


def test_second_rfc2217_client_gets_the_servers_words(export_rfc2217: NetworkExport) -> None:
    # Another process would hold no lock of ours: a second URL spelling skips it.
    with (
        Device(export_rfc2217.url),
        pytest.raises(DeviceDisconnected, match="in use by another client"),
    ):
        Device(f"rfc2217://localhost:{export_rfc2217.port}?timeout=1").open()


def test_soft_reset_over_rfc2217_reboots_the_exported_board(export_rfc2217: NetworkExport) -> None:
    reboots = export_rfc2217.board.reboots
    with Device(export_rfc2217.url) as device:
        device.exec("marker = 1")
        device.soft_reset()
        assert device.eval("'marker' in globals()") is False
    assert export_rfc2217.board.reboots == reboots + 1


@pytest.mark.parametrize("telnet", [True, False], ids=["rfc2217", "socket"])
def test_a_server_that_disappears_mid_call_disconnects(telnet: bool) -> None:
    with NetworkExport(ExportedBoard(), telnet=telnet) as export:
        device = Device(export.url)
        device.open()
        try:
            failure: list[BaseException] = []

            def long_call() -> None:
                try:
                    device.exec("import time\ntime.sleep(600)", timeout=None)
                except BaseException as exc:
                    failure.append(exc)

            caller = threading.Thread(target=long_call, daemon=True)
            caller.start()
            wait_until(lambda: export.board.running, what="the call to start on the board")
            export.drop_client()
            caller.join(timeout=60)
            assert not caller.is_alive(), "the call did not notice the server had gone"
            assert isinstance(failure[0], DeviceDisconnected)
            assert "127.0.0.1" in str(failure[0])
        finally:
            device.close()


# -- servers that misbehave, and bad URLs ------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[tuple[socket.socket, list[socket.socket]]]:
    """A TCP server that accepts and never says a word (a stalled bridge)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield server, accepted
    stop.set()
    acceptor.join(timeout=5)
    for connection in accepted:
        connection.close()
    server.close()


def test_a_stalled_socket_server_fails_the_open_clearly(silent_server) -> None:
    server, _ = silent_server
    port = server.getsockname()[1]
    url = f"socket://127.0.0.1:{port}"
    with pytest.raises(BelayError, match="did not enter raw REPL"):
        Device(url).open()
    lock = PortLock(url)  # the failed open released the port: the next one is not "in use"
    lock.acquire()
    lock.release()


def test_a_server_without_rfc2217_is_named(silent_server) -> None:
    server, _ = silent_server
    port = server.getsockname()[1]
    with pytest.raises(DeviceDisconnected, match=f"127.0.0.1:{port} answered but does not speak"):
        Device(f"rfc2217://127.0.0.1:{port}?timeout=0.5").open()


@pytest.mark.parametrize("scheme", ["rfc2217", "socket"])
def test_nothing_listening_names_the_address(scheme: str) -> None:
    port = _free_port()
    with pytest.raises(DeviceDisconnected, match=f"127.0.0.1:{port}"):
        Device(f"{scheme}://127.0.0.1:{port}").open()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("rfc2217://127.0.0.1:7000?ign_set_contrl", "did you mean 'ign_set_control'"),
        ("rfc2217://127.0.0.1:7000?baud=9600", "unknown option 'baud'"),
        ("socket://127.0.0.1:7000?nodelay", "unknown option 'nodelay'"),
        ("rfc2217://127.0.0.1", "needs a host and a TCP port"),
    ],
)
def test_bad_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Device(url).open()


# -- the command line ---------------------------------------------------------------------------


def test_emulator_command_serves_rfc2217_to_another_process(tmp_path: Path) -> None:
    process = start_belayfw(tmp_path, "emulator", "--rfc2217", "127.0.0.1:0")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("rfc2217://127.0.0.1:"), url
        with Remote(url) as device:
            assert device.square(7) == 49
            with pytest.raises(TaskTimeout):
                device.exec(PASTED_LOOP, timeout=0.5)
            assert device.eval("'still here'") == "still here"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "one client at a time" in stderr


def test_emulator_command_refuses_a_bad_address(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "emulator", "--rfc2217", "localhost:http"))
    assert "is not [HOST:]PORT" in line


@pytest.mark.timeout(600)  # a hang guard: the benchmark's run time grows with the load
def test_remote_benchmark_prints_a_ratio_per_link() -> None:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "remote.py"
    result = subprocess.run(
        [sys.executable, str(script), "--rounds", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = 4 if find_ser2net() is not None else 2
    assert len(re.findall(r"\d+\.\d+x$", result.stdout, re.MULTILINE)) == rows
