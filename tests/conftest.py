"""Shared fixtures: real emulator boards, and a collector for board output."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from belayfw import Device


class OutputCollector:
    """Thread-safe sink for board output, with a deadline-based wait."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, text: str) -> None:
        with self._changed:
            self._parts.append(text)
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self._parts)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Wait until ``predicate(text)`` holds; fail the test at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate("".join(self._parts)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"board output never matched; got {''.join(self._parts)[-500:]!r}")
                self._changed.wait(remaining)
            return "".join(self._parts)


@pytest.fixture
def output() -> OutputCollector:
    return OutputCollector()


@pytest.fixture
def board(output: OutputCollector) -> Iterator[Device]:
    """A plain emulator board whose output goes to ``output``."""
    with Device("emulator", output=output) as device:
        yield device


def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Wait for a condition re-checked on a short cadence, failing at the deadline."""
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out waiting for {what}")
        event.wait(0.01)
