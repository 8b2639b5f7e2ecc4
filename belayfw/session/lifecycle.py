"""Session states and the only moves between them.

::

    INITIALIZING ──> ACTIVE <──> SUSPENDED
         │             │            │
         │             v            v
         │         TERMINATING ─> TERMINATED
         │             │            ^
         └──> ERROR <──┴────────────┘ (ERROR -> ACTIVE on recovery,
                                       or -> TERMINATING / TERMINATED)

Every change goes through :class:`StateMachine`, which refuses anything not in
the table with :class:`~belayfw.errors.InvalidTransition`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable

from belayfw.errors import InvalidTransition


class SessionState(enum.Enum):
    INITIALIZING = "initializing"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    ERROR = "error"

    def next_states(self) -> frozenset[SessionState]:
        """The states this one may move to."""
        return _TRANSITIONS[self]

    def can_transition_to(self, other: SessionState) -> bool:
        return other in _TRANSITIONS[self]

    @property
    def is_final(self) -> bool:
        return not _TRANSITIONS[self]


_S = SessionState
_TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    _S.INITIALIZING: frozenset({_S.ACTIVE, _S.ERROR, _S.TERMINATED}),
    _S.ACTIVE: frozenset({_S.SUSPENDED, _S.TERMINATING, _S.ERROR}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.TERMINATING, _S.ERROR}),
    _S.TERMINATING: frozenset({_S.TERMINATED, _S.ERROR}),
    _S.ERROR: frozenset({_S.ACTIVE, _S.TERMINATING, _S.TERMINATED}),
    _S.TERMINATED: frozenset(),
}

TransitionCallback = Callable[[SessionState, SessionState], None]


class StateMachine:
    """The current state, changed only along the table; thread-safe."""

    __slots__ = ("_lock", "_on_change", "_owner", "_state")

    def __init__(self, on_change: TransitionCallback, owner: str) -> None:
        self._state = SessionState.INITIALIZING
        self._lock = threading.Lock()
        self._on_change = on_change
        self._owner = owner

    @property
    def state(self) -> SessionState:
        return self._state

    def move(self, new: SessionState) -> SessionState:
        """Change to ``new``; returns the old state. Raises InvalidTransition if not allowed."""
        with self._lock:
            old = self._state
            if not old.can_transition_to(new):
                allowed = ", ".join(sorted(state.name for state in old.next_states())) or "nothing"
                raise InvalidTransition(
                    f"{self._owner} cannot go from {old.name} to {new.name} (allowed: {allowed})"
                )
            self._state = new
        self._on_change(old, new)
        return old
