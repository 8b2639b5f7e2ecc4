"""Boards behind an RFC 2217 server (ser2net, labgrid, ``belayfw emulator --rfc2217``).

Port strings ``rfc2217://host:port[?option&...]``, opened with pyserial's RFC 2217
client. Its traps, handled here rather than left to users:

* it refuses a write timeout (``NotImplementedError``), so none is passed; its
  socket carries a 5 s timeout instead, so a server that stops reading still
  ends a write with :class:`~belayfw.errors.DeviceDisconnected`;
* changing the read timeout renegotiates the link (one round trip), so it is
  set once, before opening;
* ser2net on a port without modem lines (a pty, many USB bridges) never
  answers the requests that set DTR and RTS, and pyserial then fails the open
  with "timeout while waiting for option 'control'": belayfw always opens with
  ``ign_set_control``, as labgrid does, since it needs no modem-line answer;
* a server that does not answer another option (purge, baud rate) fails the
  open after ``timeout`` seconds: the error names the server and the option;
* a lost server shows as an empty read first; the next read reports it;
* Telnet doubles 0xFF (IAC) in data both ways; pyserial undoes it.

The URL options are pyserial's own (``logging``, ``ign_set_control``,
``poll_modem``, ``timeout``); anything else is refused before connecting, as
pyserial does, in belayfw's words.
"""

from __future__ import annotations

import contextlib
import queue
import time
import urllib.parse

import serial
import serial.rfc2217

from belayfw.errors import DeviceDisconnected
from belayfw.transports.port_lock import PortLock
from belayfw.transports.urls import host_and_port

#: The options pyserial's RFC 2217 client understands (serial/rfc2217.py, from_url).
URL_OPTIONS = ("logging", "ign_set_control", "poll_modem", "timeout")
#: pyserial waits in slices this long when nothing arrives (no selectable descriptor).
_WAIT_SLICE_SECONDS = 0.05
#: How long a server that hangs up straight after accepting is tried again, and how often.
_HUNG_UP_RETRY_SECONDS = 3.0
_HUNG_UP_PAUSE_SECONDS = 0.1


class RFC2217Transport:
    """A board on an RFC 2217 server, reached through pyserial's client.

    The modem lines stay as pyserial leaves them after opening (DTR and RTS
    asserted, no flow control), like a local serial port: boards whose reset
    circuit hangs off DTR/RTS are not reset by connecting.
    """

    interrupt_on_entry = True
    prefers_raw_paste = True
    lasting_identity = True
    wakeup = None  # reads wait in short slices: an interrupt goes out directly

    def __init__(self, port: str, *, baudrate: int = 115200) -> None:
        self.description = port
        self.address = check_url(port)
        self._lock = PortLock(port)
        self._lock.acquire()
        try:
            link = _open(port, baudrate, self.address)
        except BaseException:
            self._lock.release()
            raise
        self._link = link

    def write(self, data: bytes) -> None:
        try:
            self._link.write(data)
        except (serial.SerialException, OSError) as exc:
            raise DeviceDisconnected(
                f"{self.description}: write to {self.address} failed ({exc}); the server "
                "stopped reading or closed the connection"
            ) from None

    def read(self, deadline: float) -> bytes:
        try:
            while True:
                data = bytes(self._link.read(max(1, self._link.in_waiting)))
                if data or time.monotonic() >= deadline:
                    return data
        except (serial.SerialException, OSError) as exc:
            raise DeviceDisconnected(
                f"{self.description}: the RFC 2217 server at {self.address} closed the "
                f"connection ({exc})"
            ) from None

    def interrupt(self) -> None:
        self.write(b"\x03")

    def fileno(self) -> int | None:
        return None  # pyserial's reader thread owns the socket

    @property
    def modem_lines(self) -> dict[str, bool]:
        """The server's view of CTS, DSR, RI and CD (what a board's UART bridge reports)."""
        try:
            link = self._link
            return {"cts": link.cts, "dsr": link.dsr, "ri": link.ri, "cd": link.cd}
        except (serial.SerialException, OSError) as exc:
            raise DeviceDisconnected(f"{self.description}: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._link.close()
        self._lock.release()


def _open(port: str, baudrate: int, address: str) -> serial.rfc2217.Serial:
    """pyserial's client, negotiated; a server still closing the last session gets a moment.

    ser2net hangs up on a connection that arrives while it is still closing the
    previous one (a device opened and closed in quick succession); trying again
    shortly after succeeds, so that case is retried for up to
    :data:`_HUNG_UP_RETRY_SECONDS`.
    """
    give_up = time.monotonic() + _HUNG_UP_RETRY_SECONDS
    while True:
        link = serial.rfc2217.Serial(None, baudrate=baudrate, timeout=_WAIT_SLICE_SECONDS)
        link.port = _with_ign_set_control(port)
        try:
            link.open()
            return link
        except (serial.SerialException, OSError) as exc:
            said = _received_text(link)
            with contextlib.suppress(Exception):
                link.close()
            if not said and _hung_up(exc) and time.monotonic() < give_up:
                time.sleep(_HUNG_UP_PAUSE_SECONDS)
                continue
            raise _open_error(port, address, exc, said) from None


def _hung_up(exc: BaseException) -> bool:
    text = str(exc)
    return "Broken pipe" in text or "reset by peer" in text or "reader thread died" in text


def check_url(port: str) -> str:
    """``host:port`` of an ``rfc2217://`` URL; a missing part or unknown option is refused."""
    host, tcp_port = host_and_port(port, "rfc2217", URL_OPTIONS, "RFC 2217 URLs")
    return f"{host}:{tcp_port}"


def _with_ign_set_control(port: str) -> str:
    parts = urllib.parse.urlsplit(port)
    if "ign_set_control" in urllib.parse.parse_qs(parts.query, keep_blank_values=True):
        return port
    query = f"{parts.query}&ign_set_control" if parts.query else "ign_set_control"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _received_text(link: serial.rfc2217.Serial) -> str:
    """What a server said before the open failed (e.g. "port in use"), as text."""
    buffer = getattr(link, "_read_buffer", None)
    pieces = bytearray()
    while buffer is not None:
        try:
            piece = buffer.get_nowait()
        except queue.Empty:
            break
        if piece:
            pieces += piece
    return pieces.decode("utf-8", "replace").strip()


def _open_error(port: str, address: str, exc: BaseException, said: str) -> DeviceDisconnected:
    text = str(exc)
    if said and "timeout while waiting for option" not in text:  # e.g. "in use"; said, then hung up
        return DeviceDisconnected(f"cannot open {port}: the server at {address} said {said!r}")
    if "Could not open port" in text:
        reason = text.rsplit(": ", 1)[-1]
        return DeviceDisconnected(
            f"cannot reach an RFC 2217 server at {address}: {reason}; check that ser2net or "
            "`belayfw emulator --rfc2217` is running there"
        )
    if "does not seem to support RFC2217" in text:
        return DeviceDisconnected(
            f"{address} answered but does not speak RFC 2217; for a raw TCP server "
            "(ser2net's plain `tcp` accepter) use socket:// instead"
        )
    if "timeout while waiting for option" in text:
        option = text.rsplit(" ", 1)[-1]
        return DeviceDisconnected(
            f"the RFC 2217 server at {address} did not answer the {option} option within "
            "its timeout; add ?timeout=10 to the URL for a slow link"
        )
    return DeviceDisconnected(f"cannot open {port}: {text}")
