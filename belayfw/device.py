"""``Device``: one board, opened like a file, driven with ordinary Python."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

from belayfw.connection import Connection, print_to_stdout
from belayfw.discovery import resolve_port
from belayfw.errors import DeviceDisconnected
from belayfw.protocol import LinkStats
from belayfw.response import OutputSink


class Device:
    """A MicroPython board.

    ``Device(port)`` opens the board at once (pass ``open=False`` to defer);
    use it as a context manager, or call :meth:`close`. ``port`` is a serial
    device (``/dev/ttyACM0``, ``COM3``), a pyserial URL (``socket://host:port``,
    ``rfc2217://host:port``), ``emulator`` or ``emulator:<profile>``; ``None``
    picks one (see :func:`belayfw.discovery.resolve_port`).

    Board output that is not a result (prints from tasks and board threads) goes
    to ``output``: a callable taking text, or the host's stdout by default.
    ``timeout`` is the default timeout, in seconds, of every call.
    """

    def __init__(
        self,
        port: str | None = None,
        *,
        output: OutputSink | None = None,
        timeout: float | None = None,
        open: bool = True,
    ) -> None:
        self.port = resolve_port(port)
        self.timeout = timeout
        self._output = output or print_to_stdout
        self._connection: Connection | None = None
        self._open_lock = threading.Lock()
        if open:
            self.open()

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> Self:
        """Connect to the board (a no-op when already open)."""
        with self._open_lock:
            if self._connection is None or self._connection.closed:
                self._connection = Connection(self.port, on_output=self._output)
        return self

    def close(self) -> None:
        """Disconnect; an emulator board is stopped and its sandbox removed."""
        with self._open_lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    @property
    def is_open(self) -> bool:
        return self._connection is not None and not self._connection.closed

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<{type(self).__name__} {self.port!r} {state}>"

    # -- running code ------------------------------------------------------------------------

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run statements on the board at global scope; return what they printed."""
        return self._link.run(code, timeout=self._timeout(timeout))

    def eval(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate an expression on the board and return its value."""
        return self._link.evaluate(expression, timeout=self._timeout(timeout))

    def interrupt(self) -> bool:
        """Interrupt the board code running now (from another host thread).

        Returns False when nothing was running: nothing is sent then, since a
        stray interrupt can reset some boards.
        """
        connection = self._connection
        return connection.interrupt() if connection is not None else False

    @property
    def link_stats(self) -> LinkStats:
        """Bytes sent and received and round trips since the board was opened."""
        return self._link.stats

    # -- internals ---------------------------------------------------------------------------

    @property
    def _link(self) -> Connection:
        connection = self._connection
        if connection is None:
            raise DeviceDisconnected(
                f"{self.port} is not open; use `with {type(self).__name__}(...)` or call open()"
            )
        return connection

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout
