"""Port strings pick transports; socket:// reaches a board through pyserial's URL handler."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from belayfw import Device, DeviceDisconnected, discovery, register_scheme, transports
from belayfw.discovery import PortSelectionError, resolve_port
from belayfw.transports.emulator import EmulatorTransport
from belayfw.transports.scripted import ScriptedTransport


def test_scheme_dispatch() -> None:
    assert transports.scheme_of("emulator") == "emulator"
    assert transports.scheme_of("emulator:pico") == "emulator"
    assert transports.scheme_of("socket://localhost:7000") == "socket"
    assert transports.scheme_of("rfc2217://localhost:7000") == "rfc2217"
    assert transports.scheme_of("/dev/ttyACM0") is None
    assert transports.scheme_of("COM3") is None
    assert transports.scheme_of("emulatorx") is None


def test_users_can_register_a_scheme() -> None:
    opened: list[str] = []

    def factory(port: str) -> ScriptedTransport:
        opened.append(port)
        return ScriptedTransport([], description=port)

    register_scheme("mock", factory)
    try:
        transport = transports.open_transport("mock:anything")
        assert opened == ["mock:anything"]
        assert transport.description == "mock:anything"
        with pytest.raises(ValueError, match="'mock' is registered already"):
            register_scheme("mock", factory)
    finally:
        transports.unregister_scheme("mock")
    assert transports.scheme_of("mock:anything") is None  # nothing left for later tests


def test_missing_serial_device_is_disconnected_error() -> None:
    with pytest.raises(DeviceDisconnected, match="/dev/does-not-exist does not exist") as caught:
        Device("/dev/does-not-exist")
    assert isinstance(caught.value, FileNotFoundError)
    assert "Errno" not in str(caught.value)  # belayfw's words, not pyserial's


@pytest.fixture
def board_over_tcp() -> Iterator[str]:
    """An emulator board served on a loopback TCP port, like ser2net serves a UART."""
    board = EmulatorTransport("unix")
    seen = bytearray()
    deadline = time.monotonic() + 10
    while b">>> " not in seen:  # a real networked board is already booted
        seen += board.read(deadline)
        assert time.monotonic() < deadline
    server = socket.create_server(("127.0.0.1", 0))
    host, port = server.getsockname()
    stop = threading.Event()

    def relay() -> None:
        connection, _ = server.accept()
        connection.settimeout(0.05)

        def board_to_socket() -> None:
            while not stop.is_set():
                try:
                    data = board.read(time.monotonic() + 0.05)
                except DeviceDisconnected:
                    break
                if data:
                    connection.sendall(data)

        pump = threading.Thread(target=board_to_socket, daemon=True)
        pump.start()
        while not stop.is_set():
            try:
                data = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            board.write(data)
        connection.close()
        pump.join(timeout=2)

    relay_thread = threading.Thread(target=relay, daemon=True)
    relay_thread.start()
    yield f"socket://{host}:{port}"
    stop.set()
    server.close()
    board.close()
    relay_thread.join(timeout=2)


def test_socket_url_reaches_a_board(board_over_tcp: str, output) -> None:
    with Device(board_over_tcp, output=output) as device:
        assert device.eval("6 * 7") == 42
        assert device.exec("print('over tcp')") == "over tcp\n"
        assert device.eval("bytes(range(256)) * 100") == bytes(range(256)) * 100
        before = device.link_stats.round_trips
        device.eval("1")
        assert device.link_stats.round_trips == before + 1


def test_socket_board_timeout_interrupts_with_ctrl_c(board_over_tcp: str, output) -> None:
    from belayfw import TaskTimeout

    with Device(board_over_tcp, output=output) as device:
        with pytest.raises(TaskTimeout):
            device.exec("while True:\n    pass\n", timeout=0.3)
        assert device.eval("'alive'") == "alive"


# -- choosing a port when none is given ------------------------------------------------------


class FakePort:
    def __init__(self, device: str, vid: int | None) -> None:
        self.device = device
        self.vid = vid


def test_env_var_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELAYFW_PORT", "socket://board:7000")
    assert resolve_port(None) == "socket://board:7000"
    assert resolve_port("emulator:pico") == "emulator:pico"


def test_single_micropython_board_is_chosen(
    monkeypatch: pytest.MonkeyPatch, mocker, caplog
) -> None:
    monkeypatch.delenv("BELAYFW_PORT", raising=False)
    mocker.patch.object(
        discovery.list_ports,
        "comports",
        return_value=[FakePort("/dev/ttyS0", None), FakePort("/dev/ttyACM0", 0x2E8A)],
    )
    with caplog.at_level(logging.INFO, logger="belayfw"):
        assert resolve_port(None) == "/dev/ttyACM0"
    assert "/dev/ttyACM0" in caplog.text


def test_several_boards_need_a_choice(monkeypatch: pytest.MonkeyPatch, mocker) -> None:
    monkeypatch.delenv("BELAYFW_PORT", raising=False)
    mocker.patch.object(
        discovery.list_ports,
        "comports",
        return_value=[FakePort("/dev/ttyACM0", 0x2E8A), FakePort("/dev/ttyUSB0", 0x303A)],
    )
    with pytest.raises(PortSelectionError, match="/dev/ttyACM0, /dev/ttyUSB0"):
        resolve_port(None)


def test_no_board_falls_back_to_the_emulator_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, mocker, caplog, output
) -> None:
    monkeypatch.delenv("BELAYFW_PORT", raising=False)
    mocker.patch.object(
        discovery.list_ports, "comports", return_value=[FakePort("/dev/ttyS0", None)]
    )
    with caplog.at_level(logging.INFO, logger="belayfw"), Device(output=output) as device:
        assert device.port == "emulator"
        assert device.eval("1") == 1
    lines = [record for record in caplog.records if "emulator" in record.getMessage()]
    assert len(lines) == 1
