"""Which session a board call belongs to, and why a session refuses calls.

A call belongs to the session of its context (``with session.use():`` or a
manager's ``new_session`` block) when that session is on the same device, else
to the device's primary session. Only ACTIVE sessions take calls, except for
belayfw's own opening, ending or recovery of a session (see
:func:`~belayfw.session.session.maintaining`). Once ``close()`` has begun, only
close()'s own calls go through: the device is closed for everyone else.
"""

from __future__ import annotations

import time

from belayfw.errors import (
    BelayError,
    DeviceClosed,
    DeviceDisconnected,
    DeviceError,
    DeviceNotOpen,
    SessionError,
)
from belayfw.session.lifecycle import SessionState
from belayfw.session.session import (
    DeviceSession,
    SessionBoard,
    current_session_var,
    maintaining_var,
)


def session_for_call(board: SessionBoard) -> DeviceSession:
    """The session a call on ``board`` belongs to; raises when it cannot take calls."""
    if is_closing(board) and not _maintaining(board):
        raise closed(board)
    session = current_session_var.get()
    if session is None or session.device is not board:
        session = board.primary_session
        if session is None:
            raise not_open(board)
    if session.state is not SessionState.ACTIVE and maintaining_var.get() is not session:
        raise _refusal(board, session)
    session.last_activity = time.monotonic()
    return session


def is_closing(board: SessionBoard) -> bool:
    """``close()`` began on ``board`` (it may have finished) and no ``open()`` followed."""
    primary = board.primary_session
    return primary is not None and primary.closing


def closed(board: SessionBoard) -> DeviceClosed:
    """The error for a call, retry or reconnect on a board that close() closed or is closing."""
    primary = board.primary_session
    again = f"call open() or use `with {type(board).__name__}(...)` to use it again"
    if primary is None or primary.state.is_final:
        return DeviceClosed(
            f"{board.port} is not open: close() closed it; {again} "
            "(nothing reopens a closed device by itself)"
        )
    return DeviceClosed(
        f"{board.port} is being closed (close() was called): no new call, retry or "
        f"reconnect is let through; once it is closed, {again}"
    )


def cut_by_close(board: SessionBoard, error: BelayError) -> DeviceClosed | None:
    """The error for a call that close(), from another thread, cut short; None if not that.

    close() interrupts such a call (the board reports a KeyboardInterrupt) and, if
    it holds on, drops the link under it (DeviceDisconnected). close()'s own calls
    (teardowns, thread stops) keep their errors: close() reports them.
    """
    if not is_closing(board) or _maintaining(board):
        return None
    if isinstance(error, DeviceError) and error.type_name == "KeyboardInterrupt":
        how = "the board code was interrupted"
    elif isinstance(error, DeviceDisconnected) and not isinstance(error, DeviceNotOpen):
        how = str(error.args[0])
    else:
        return None
    return DeviceClosed(
        f"{board.port} was closed during this call: close() was called in another host "
        f"thread and cut the call short ({how})"
    )


def not_open(board: SessionBoard) -> DeviceNotOpen:
    """The error for a call on a board that is not open, saying how to open it."""
    if is_closing(board):
        return closed(board)
    return DeviceNotOpen(
        f"{board.port} is not open; use `with {type(board).__name__}(...)` or call open()"
    )


def _maintaining(board: SessionBoard) -> bool:
    """This context carries out belayfw's own opening, ending or recovery on ``board``."""
    session = maintaining_var.get()
    return session is not None and session.device is board


def _refusal(board: SessionBoard, session: DeviceSession) -> BelayError:
    state = session.state
    if state is SessionState.SUSPENDED and session.suspended_by == "link":
        return DeviceDisconnected(
            f"{board.port}: the link was lost; call reconnect() or session.resume()"
        )
    if state is SessionState.SUSPENDED:
        return SessionError(f"session {session.id} is suspended; call resume()", recoverable=True)
    if state is SessionState.ERROR:
        return SessionError(
            f"session {session.id} is in ERROR (see its events); call reconnect()",
            recoverable=True,
        )
    if session is board.primary_session:
        return not_open(board)
    return SessionError(f"session {session.id} has ended")
