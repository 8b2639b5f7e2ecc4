"""The device's link to its board: one connection at a time, one caller at a time.

:meth:`BoardLink.use` is the single door to the board. It takes the device's
lock (one order for calls, opening, closing and reconnecting, so no deadlock),
finds the session the call belongs to and refuses it when that session cannot
take calls, maps board errors to host files and lines, and tells the sessions
when the link is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from belayfw.connection import Connection
from belayfw.errors import DeviceDisconnected, DeviceError
from belayfw.response import FrameSink, OutputSink
from belayfw.session.routing import not_open, session_for_call
from belayfw.session.session import DeviceSession, SessionBoard
from belayfw.transports.base import Transport

T = TypeVar("T")


class BoardLink:
    """Holds a device's open :class:`Connection` (None while closed) and serialises its use."""

    def __init__(
        self,
        board: SessionBoard,
        sessions: Callable[[], Iterable[DeviceSession]],
        map_error: Callable[[DeviceError], DeviceError],
    ) -> None:
        self.lock = threading.RLock()
        self.connection: Connection | None = None
        self._board = board
        self._sessions = sessions
        self._map_error = map_error
        self._busy_thread: int | None = None

    def connect(
        self, port: str, *, output: OutputSink, frames: FrameSink, transport: Transport | None
    ) -> Connection:
        """Open a new connection (the caller holds the lock and dropped the old one)."""
        self.connection = Connection(port, on_output=output, on_frame=frames, transport=transport)
        return self.connection

    def use(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` on the connection for the current session."""
        with self.lock:
            session = session_for_call(self._board)
            connection = self.current
            self._busy_thread = threading.get_ident()
            session.call_started()
            try:
                return operation(connection)
            except DeviceError as error:
                raise self._map_error(error) from None
            except DeviceDisconnected as error:
                for each in self._sessions():
                    each.link_lost(str(error.args[0]), error)
                raise
            finally:
                self._busy_thread = None
                session.call_finished()

    @property
    def current(self) -> Connection:
        """The open connection; raises ``DeviceDisconnected`` saying how to open it."""
        connection = self.connection
        if connection is None:
            raise not_open(self._board)
        return connection

    @property
    def usable(self) -> bool:
        """Open and not known to be broken: the board can still be asked things."""
        connection = self.connection
        return connection is not None and connection.usable

    def interrupt(self) -> bool:
        """Interrupt the board code running now; False when none was running."""
        connection = self.connection
        return connection.interrupt() if connection is not None else False

    def interrupt_other_caller(self) -> None:
        """Interrupt a call another host thread is making (before closing)."""
        busy = self._busy_thread
        if busy is not None and busy != threading.get_ident():
            self.interrupt()

    def drop(self) -> None:
        """Close the connection without talking to the board any more."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()
