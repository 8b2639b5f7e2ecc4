"""Boards behind a raw TCP server: ``socket://host:port`` (ser2net's ``tcp`` accepter).

A plain socket rather than pyserial's ``socket://`` handler, for three things
that handler does not do: ``TCP_NODELAY`` (small commands leave at once, not
after Nagle's 40 ms wait), a server that closes the connection becomes
:class:`~belayfw.errors.DeviceDisconnected` on the very next read, and a
server that stops reading fails a write after :data:`WRITE_TIMEOUT_SECONDS`.
The only URL option is pyserial's ``logging``, accepted and ignored (belayfw
logs through :mod:`logging` already); anything else is refused.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time

from belayfw.errors import DeviceDisconnected
from belayfw.transports.port_lock import PortLock
from belayfw.transports.urls import host_and_port

URL_OPTIONS = ("logging",)
#: A write that cannot complete in this time means the server stopped reading.
WRITE_TIMEOUT_SECONDS = 5.0
#: Connecting to a host that does not answer gives up after this long.
CONNECT_TIMEOUT_SECONDS = 5.0
_READ_SIZE = 65536


class SocketTransport:
    """A board's UART bytes over one TCP connection, nothing added."""

    interrupt_on_entry = True
    prefers_raw_paste = True
    lasting_identity = True
    wakeup = None  # reads select on the socket: an interrupt goes out directly

    def __init__(self, port: str) -> None:
        self.description = port
        host, tcp_port = check_url(port)
        self.address = f"{host}:{tcp_port}"
        self._lock = PortLock(port)
        self._lock.acquire()
        try:
            self._socket = socket.create_connection(
                (host, tcp_port), timeout=CONNECT_TIMEOUT_SECONDS
            )
        except OSError as exc:
            self._lock.release()
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise DeviceDisconnected(
                f"cannot reach a TCP server at {self.address}: {reason}; check that ser2net "
                "or `belayfw emulator` is serving the board there"
            ) from None
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.settimeout(WRITE_TIMEOUT_SECONDS)  # bounds sendall; reads select first

    def write(self, data: bytes) -> None:
        try:
            self._socket.sendall(data)
        except TimeoutError:
            raise DeviceDisconnected(
                f"{self.description}: the server stopped reading for {WRITE_TIMEOUT_SECONDS:g} s"
            ) from None
        except OSError as exc:
            raise DeviceDisconnected(f"{self.description}: write failed: {exc}") from None

    def read(self, deadline: float) -> bytes:
        try:
            ready, _, _ = select.select(
                [self._socket], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                return b""
            data = self._socket.recv(_READ_SIZE)
        except (OSError, ValueError) as exc:  # ValueError: closed by another thread
            raise DeviceDisconnected(f"{self.description}: {exc}") from None
        if not data:
            raise DeviceDisconnected(
                f"{self.description}: the server at {self.address} closed the connection"
            )
        return data

    def interrupt(self) -> None:
        self.write(b"\x03")

    def fileno(self) -> int | None:
        fd = self._socket.fileno()
        return fd if fd >= 0 else None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._lock.release()


def check_url(port: str) -> tuple[str, int]:
    """Host and TCP port of a ``socket://`` URL; a missing part or unknown option is refused."""
    return host_and_port(port, "socket", URL_OPTIONS, "socket URLs")
