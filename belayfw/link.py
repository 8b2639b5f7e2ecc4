"""The device's link to its board: one connection at a time, one caller at a time.

:meth:`BoardLink.use` is the single door to the board. It takes the device's
lock (one order for calls, opening, closing and reconnecting, so no deadlock),
finds the session the call belongs to and refuses it when that session cannot
take calls, maps board errors to host files and lines, and tells the sessions
when the link is lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from belayfw.connection import Connection
from belayfw.errors import BelayError, BoardReset, DeviceDisconnected, DeviceError, TaskTimeout
from belayfw.recovery import heap_locked, recover_locked_heap, restart_if_heap_locked
from belayfw.response import FrameSink, OutputSink
from belayfw.session.routing import cut_by_close, not_open, session_for_call
from belayfw.session.session import DeviceSession, SessionBoard
from belayfw.transports.base import Restartable, Transport

T = TypeVar("T")

#: How long close() keeps interrupting a call another host thread is making
#: before it closes the link under that call.
CLOSE_GRACE_SECONDS = 5.0
#: How often that call is interrupted again meanwhile.
_INTERRUPT_AGAIN_SECONDS = 1.0


def still_busy_at_close(port: str) -> TaskTimeout:
    """What close() reports when a call in another host thread never let go of the board."""
    return TaskTimeout(
        f"closing {port}: a call in another host thread did not stop within "
        f"{2 * CLOSE_GRACE_SECONDS:.0f} s, even with the link closed under it; the device "
        "was closed without its teardowns"
    )


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
        #: Soft-resets the device; set, a heap left locked is recovered (recovery.py).
        self.reset: Callable[[], None] | None = None
        self._recovering = False
        #: Calls a host Ctrl-C (KeyboardInterrupt) cut: bytes read at that instant
        #: may be lost, a board thread's report among them (see ThreadHandle.join).
        self.cut_calls = 0

    def connect(
        self, port: str, *, output: OutputSink, frames: FrameSink, transport: Transport | None
    ) -> Connection:
        """Open a new connection (the caller holds the lock and dropped the old one)."""
        self.connection = Connection(port, on_output=output, on_frame=frames, transport=transport)
        return self.connection

    def use(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` on the connection for the current session."""
        connection = self.connection
        if connection is not None:
            # Before the lock: a callback of the board's output (in the thread reading
            # the link) would otherwise wait for a caller that waits for that thread.
            connection.repl.refuse_from_callback()
        with self.lock:
            session = session_for_call(self._board)
            connection = self.current
            self._busy_thread = threading.get_ident()
            session.call_started()
            try:
                return operation(connection)
            except DeviceError as error:
                closed = cut_by_close(self._board, error)
                if closed is not None:
                    raise closed from error
                raise self._board_failure(connection, self._map_error(error)) from None
            except TaskTimeout as timeout:
                self._after_interrupt(connection, timeout)
                raise
            except BoardReset as reset:
                raise self._after_board_reset(reset) from None
            except DeviceDisconnected as error:
                self._link_lost(error)
                closed = cut_by_close(self._board, error)
                if closed is not None:
                    raise closed from error
                raise
            except KeyboardInterrupt:
                self.cut_calls += 1
                raise
            finally:
                self._busy_thread = None
                session.call_finished()

    def _link_lost(self, error: DeviceDisconnected) -> None:
        for each in self._sessions():
            each.link_lost(str(error.args[0]), error)

    def _after_board_reset(self, reset: BoardReset) -> BoardReset:
        """An emulator board reset itself: bring it back on the same flash, as a board reboots.

        The device's soft-reset path restarts the process, redeploys the code and
        re-runs the setups; the sessions wait meanwhile and stay ACTIVE.
        """
        if self.reset is None or self._recovering:
            self._link_lost(reset)
            return reset
        self._recovering = True
        try:
            self.reset()
        except BelayError as failure:
            reset.add_note(f"belayfw: could not start the board again: {failure}")
            return reset
        finally:
            self._recovering = False
        return BoardReset(
            f"{reset.args[0]}; belayfw started it again with the device's code and setups "
            "(board globals and running threads are gone; threads with restart=True run again)",
            recovered=True,
        )

    def _board_failure(self, connection: Connection, error: DeviceError) -> DeviceError:
        """The error to raise for a board failure; a locked heap is dealt with first."""
        if self.reset is None or self._recovering or not heap_locked(error):
            return error
        self._recovering = True
        try:
            return recover_locked_heap(connection, error, self.reset)
        finally:
            self._recovering = False

    def _after_interrupt(self, connection: Connection, timeout: TaskTimeout) -> None:
        """A timeout interrupted the board: an emulator whose heap it locked is restarted."""
        if self.reset is None or self._recovering:
            return
        self._recovering = True
        try:
            if not isinstance(connection.transport, Restartable):
                return
            if connection.usable:
                if restart_if_heap_locked(connection, self.reset):
                    timeout.add_note(
                        "belayfw: the interrupt left the emulator's heap locked; the board "
                        "was restarted with the device's code and setups"
                    )
                return
            # The unix port can hang for good when an interrupt cuts into its
            # allocator; the link was given up. A new emulator board takes over.
            try:
                self._board.reconnect(attempts=1)
            except BelayError as error:
                timeout.add_note(f"belayfw: could not start the emulator board again: {error}")
            else:
                timeout.add_note(
                    "belayfw: the emulator board hung after the interrupt; a new one was "
                    "started with the device's code and setups"
                )
        finally:
            self._recovering = False

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

    @contextmanager
    def taken_for_close(self) -> Iterator[bool]:
        """The lock, taken from a call another host thread is making; yields False if never.

        That call is interrupted, and again every second while it holds on (an
        interrupt can miss: the board may not have started the code yet). After
        CLOSE_GRACE_SECONDS of a call still running, the link is dropped under it,
        so it ends with ``DeviceDisconnected``; if the lock is still held another
        grace period later, this yields False without it. A thread holding the
        device between calls (``hold()``, an exclusive stream) is waited for, as
        before: only a running call is cut.
        """
        dropped_at: float | None = None
        give_up_at = time.monotonic() + CLOSE_GRACE_SECONDS
        while not self.lock.acquire(timeout=_INTERRUPT_AGAIN_SECONDS):
            now = time.monotonic()
            if dropped_at is None and self._busy_thread is None:
                give_up_at = now + CLOSE_GRACE_SECONDS  # held between calls: wait
                continue
            if now < give_up_at:
                if dropped_at is None:
                    self.interrupt_other_caller()
                continue
            if dropped_at is not None:
                yield False
                return
            self.drop()
            dropped_at, give_up_at = now, now + CLOSE_GRACE_SECONDS
        try:
            yield True
        finally:
            self.lock.release()

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
