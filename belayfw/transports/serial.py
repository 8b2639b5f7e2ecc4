"""Boards on a serial port or a pyserial URL, through pyserial.

``serial.serial_for_url`` opens device paths (``/dev/ttyACM0``, ``COM3``) and
pyserial's other URLs (``loop://``, ``spy://``); ``socket://`` and ``rfc2217://``
have transports of their own (``network.py``, ``rfc2217.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import time

import serial

from belayfw.errors import (
    BelayError,
    ConfigurationError,
    DeviceDisconnected,
    PortNotFound,
)
from belayfw.transports.port_lock import PortLock, port_in_use

_READ_SIZE = 65536
#: A write that cannot complete in this time means the board or server stopped reading.
WRITE_TIMEOUT_SECONDS = 5.0
#: Without a selectable descriptor, pyserial waits in slices this long (set once:
#: changing a port's timeout reconfigures it).
_WAIT_SLICE_SECONDS = 0.05


class SerialTransport:
    """A board behind a pyserial port object."""

    interrupt_on_entry = True
    prefers_raw_paste = True
    lasting_identity = True
    wakeup = None  # reads wait in short slices: an interrupt goes out directly

    def __init__(self, port: str, *, baudrate: int = 115200) -> None:
        self.description = port
        self._lock = PortLock(port)
        self._lock.acquire()
        try:
            self._port = serial.serial_for_url(
                port,
                baudrate=baudrate,
                timeout=0,
                write_timeout=WRITE_TIMEOUT_SECONDS,
                exclusive=True,
            )
        except BaseException as exc:
            self._lock.release()
            if isinstance(exc, serial.SerialException | OSError | ValueError | KeyError):
                raise _open_error(port, exc) from None
            raise
        self._fd = _selectable_fd(self._port)
        if self._fd is None:
            self._port.timeout = _WAIT_SLICE_SECONDS

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except serial.SerialTimeoutException:
            raise DeviceDisconnected(
                f"{self.description}: the board stopped reading for {WRITE_TIMEOUT_SECONDS:g} s"
            ) from None
        except (serial.SerialException, OSError) as exc:
            raise DeviceDisconnected(f"{self.description}: write failed: {exc}") from None

    def read(self, deadline: float) -> bytes:
        try:
            if self._fd is not None:
                # Wait on the descriptor, then take everything there in one read.
                timeout = max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([self._fd], [], [], timeout)
                if not ready:
                    return b""
                return bytes(self._port.read(_READ_SIZE))
            # No descriptor (Windows): pyserial waits, in short slices.
            while True:
                data = bytes(self._port.read(max(1, self._port.in_waiting)))
                if data or time.monotonic() >= deadline:
                    return data
        except (serial.SerialException, OSError) as exc:
            raise DeviceDisconnected(f"{self.description}: {exc}") from None

    def interrupt(self) -> None:
        self.write(b"\x03")

    def fileno(self) -> int | None:
        return self._fd

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()
        self._lock.release()


def _open_error(port: str, exc: BaseException) -> BelayError:
    """The belayfw error for a port that would not open, in words (not pyserial's)."""
    if isinstance(exc, ValueError | KeyError):
        return ConfigurationError(f"{port!r} is not a valid port: {exc}")
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT:
        return PortNotFound(f"{port} does not exist")
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text:
        return port_in_use(port)
    if code == errno.EACCES:
        return DeviceDisconnected(
            f"no permission to open {port}; on Linux, add your user to the 'dialout' group"
        )
    if isinstance(code, int):
        return DeviceDisconnected(f"cannot open {port}: {os.strerror(code)}")
    reason = text.split(": ", 1)[1] if text.startswith("Could not open port") else text
    return DeviceDisconnected(f"cannot open {port}: {reason}")


def _selectable_fd(port: serial.SerialBase) -> int | None:
    try:
        fd = port.fileno()
    except (AttributeError, OSError, NotImplementedError, serial.SerialException):
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None
