"""A key/value store private to one session."""

from __future__ import annotations

import threading
from typing import Any


class SessionStore:
    """Host-side values that live as long as their session; thread-safe."""

    __slots__ = ("_lock", "_values")

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._values[key] = value

    def clear(self, key: str | None = None) -> None:
        """Remove ``key``, or everything when no key is given."""
        with self._lock:
            if key is None:
                self._values.clear()
            else:
                self._values.pop(key, None)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._values)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values

    def __len__(self) -> int:
        return len(self._values)
