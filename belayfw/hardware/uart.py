"""An emulator board's UART as a host byte stream: write to its RX, read its TX."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from belayfw.errors import ConfigurationError, VirtualHardwareError

if TYPE_CHECKING:
    from belayfw.hardware.wiring import Wiring

#: How long a read waits for the board by default.
READ_SECONDS = 30.0


class UARTBuffer:
    """Bytes a board wrote to one UART and the host has not read yet."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._grew = threading.Condition()

    def extend(self, data: bytes) -> None:
        with self._grew:
            self._data += data
            self._grew.notify_all()

    def clear(self) -> None:
        with self._grew:
            self._data.clear()

    def take(self, until: bytes | None, nbytes: int | None, timeout: float, what: str) -> bytes:
        deadline = time.monotonic() + timeout
        with self._grew:
            while True:
                end = self._end(until, nbytes)
                if end is not None:
                    data = bytes(self._data[:end])
                    del self._data[:end]
                    return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VirtualHardwareError(
                        f"{what}: waited {timeout:g} s; the board wrote only {bytes(self._data)!r}"
                    )
                self._grew.wait(remaining)

    def _end(self, until: bytes | None, nbytes: int | None) -> int | None:
        if until is not None:
            found = self._data.find(until)
            return None if found < 0 else found + len(until)
        if nbytes is not None:
            return nbytes if len(self._data) >= nbytes else None
        return len(self._data)


class VirtualUART:
    """UART ``n`` of the board, wired to the test: its TX comes here, our writes reach its RX."""

    def __init__(self, hardware: Wiring, uart: int, buffer: UARTBuffer) -> None:
        self._hardware = hardware
        self.id = uart
        self._buffer = buffer

    def write(self, data: bytes) -> None:
        """Send ``data`` to the board's RX: ``uart.read()`` / ``any()`` on the board see it now."""
        if not isinstance(data, bytes | bytearray):
            raise ConfigurationError(f"a UART carries bytes, not {type(data).__name__}")
        self._hardware.uart_send(self.id, bytes(data))

    def read(self) -> bytes:
        """Everything the board wrote and the host has not read yet (maybe ``b""``)."""
        self._hardware.settle()
        return self._buffer.take(None, None, 0, self._what("read"))

    def read_exactly(self, nbytes: int, timeout: float = READ_SECONDS) -> bytes:
        """The next ``nbytes`` bytes the board writes, waiting up to ``timeout`` seconds."""
        self._hardware.settle()
        return self._buffer.take(None, nbytes, timeout, self._what(f"read_exactly({nbytes})"))

    def read_until(self, terminator: bytes = b"\n", timeout: float = READ_SECONDS) -> bytes:
        """The board's output up to and including ``terminator``, waiting up to ``timeout``."""
        self._hardware.settle()
        return self._buffer.take(terminator, None, timeout, self._what("read_until"))

    def readline(self, timeout: float = READ_SECONDS) -> bytes:
        """The board's next line, ``b"\\n"`` included."""
        return self.read_until(b"\n", timeout)

    def _what(self, call: str) -> str:
        return f"UART({self.id!r}).{call} on {self._hardware.description}"
