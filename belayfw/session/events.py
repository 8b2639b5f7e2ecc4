"""The session's bounded event log."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventType(enum.Enum):
    CREATED = "created"
    STARTED = "started"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    TERMINATED = "terminated"
    ERROR_OCCURRED = "error_occurred"
    RESOURCE_LIMIT_EXCEEDED = "resource_limit_exceeded"
    HEALTH_CHANGED = "health_changed"
    CUSTOM = "custom"


class SessionEvent(BaseModel):
    """One thing that happened to a session."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    message: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = Field(default_factory=dict)


_Entry = tuple[EventType, str, float, dict[str, Any] | None]


class EventLog:
    """The last ``capacity`` events, oldest first; thread-safe and iterable.

    Entries are kept as compact tuples and become :class:`SessionEvent` records
    when read: a session records a few events on every state change, and
    pydantic models cost about 1 KB each.
    """

    __slots__ = ("_capacity", "_events", "_lock")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        # A list, not a deque: a deque allocates a 64-slot block for its first entry.
        self._events: list[_Entry] = []
        self._lock = threading.Lock()

    def record(self, type: EventType, message: str, **data: Any) -> None:
        with self._lock:
            self._events.append((type, message, time.time(), data or None))
            if len(self._events) > self._capacity:
                del self._events[0]

    def of_type(self, type: EventType) -> list[SessionEvent]:
        with self._lock:
            entries = [entry for entry in self._events if entry[0] is type]
        return [_event(entry) for entry in entries]

    def __iter__(self) -> Iterator[SessionEvent]:
        with self._lock:
            entries = list(self._events)
        return iter([_event(entry) for entry in entries])

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> SessionEvent:
        with self._lock:
            return _event(self._events[index])


def _event(entry: _Entry) -> SessionEvent:
    type, message, at, data = entry
    return SessionEvent(
        type=type, message=message, at=datetime.fromtimestamp(at, UTC), data=data or {}
    )
