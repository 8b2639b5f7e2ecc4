"""Which session a board call belongs to, and why a session refuses calls.

A call belongs to the session of its context (``with session.use():`` or a
manager's ``new_session`` block) when that session is on the same device, else
to the device's primary session. Only ACTIVE sessions take calls, except for
belayfw's own opening, ending or recovery of a session (see
:func:`~belayfw.session.session.maintaining`).
"""

from __future__ import annotations

import time

from belayfw.errors import BelayError, DeviceDisconnected, DeviceNotOpen, SessionError
from belayfw.session.lifecycle import SessionState
from belayfw.session.session import (
    DeviceSession,
    SessionBoard,
    current_session_var,
    maintaining_var,
)


def session_for_call(board: SessionBoard) -> DeviceSession:
    """The session a call on ``board`` belongs to; raises when it cannot take calls."""
    session = current_session_var.get()
    if session is None or session.device is not board:
        session = board.primary_session
        if session is None:
            raise not_open(board)
    if session.state is not SessionState.ACTIVE and maintaining_var.get() is not session:
        raise _refusal(board, session)
    session.last_activity = time.monotonic()
    return session


def not_open(board: SessionBoard) -> DeviceNotOpen:
    """The error for a call on a board that is not open, saying how to open it."""
    return DeviceNotOpen(
        f"{board.port} is not open; use `with {type(board).__name__}(...)` or call open()"
    )


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
