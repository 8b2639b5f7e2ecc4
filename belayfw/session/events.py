"""The session's bounded event log."""

from __future__ import annotations

import enum
import threading
from collections import deque
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


class EventLog:
    """The last ``capacity`` events, oldest first; thread-safe and iterable."""

    def __init__(self, capacity: int) -> None:
        self._events: deque[SessionEvent] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(self, type: EventType, message: str, **data: Any) -> SessionEvent:
        event = SessionEvent(type=type, message=message, data=data)
        with self._lock:
            self._events.append(event)
        return event

    def of_type(self, type: EventType) -> list[SessionEvent]:
        with self._lock:
            return [event for event in self._events if event.type is type]

    def __iter__(self) -> Iterator[SessionEvent]:
        with self._lock:
            return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> SessionEvent:
        with self._lock:
            return self._events[index]
