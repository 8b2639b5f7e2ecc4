"""Ports are exclusive: a second user of a port fails at once, naming the port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from belayfw import Device, EmulatorBoard, PortInUse
from belayfw.transports.serial import SerialTransport

HOLD_PORT = """
import sys
from belayfw.transports.serial import SerialTransport
port = SerialTransport(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
port.close()
"""


@pytest.fixture
def pty_port() -> Iterator[str]:
    """A pseudo-terminal's path: a port pyserial opens like a USB serial device."""
    controller, device = os.openpty()
    try:
        yield os.ttyname(device)
    finally:
        os.close(controller)
        os.close(device)


@pytest.fixture
def tcp_port() -> Iterator[str]:
    """A ``socket://`` URL of a listening loopback server (as ser2net would offer)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        yield f"socket://127.0.0.1:{server.getsockname()[1]}"


def hold_in_another_process(port: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_PORT, port],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("kind", ["pty_port", "tcp_port"])
def test_a_port_held_by_another_process_fails_at_once(kind: str, request) -> None:
    port = request.getfixturevalue(kind)
    holder = hold_in_another_process(port)
    try:
        with pytest.raises(PortInUse, match=f"{port} is in use") as caught:
            Device(port)
        assert "close the other device or program" in str(caught.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
    SerialTransport(port).close()  # free again once the holder is gone


def test_a_port_held_by_a_killed_process_is_free_again(pty_port: str) -> None:
    holder = hold_in_another_process(pty_port)
    holder.kill()
    holder.wait(timeout=30)
    SerialTransport(pty_port).close()


def test_a_port_held_in_this_process_fails_at_once(pty_port: str) -> None:
    first = SerialTransport(pty_port)
    try:
        with pytest.raises(PortInUse, match=pty_port):
            SerialTransport(pty_port)
    finally:
        first.close()
    SerialTransport(pty_port).close()


def test_an_emulator_board_serves_one_device_at_a_time() -> None:
    with EmulatorBoard() as board, Device(board.port) as first:
        with pytest.raises(PortInUse, match="in use by another device"):
            Device(board.port)
        assert first.eval("1 + 1") == 2
