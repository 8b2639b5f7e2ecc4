"""Reconnecting without hammering a dead board: backoff and a circuit breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from belayfw.errors import BelayError, CircuitOpen, DeviceDisconnected, ProtocolError


class CircuitBreaker:
    """Opens after ``threshold`` failures in a row; refuses attempts until ``cooldown`` passes.

    After the cool-down one attempt is let through (half-open): success closes
    the circuit, failure opens it again for another cool-down.
    """

    def __init__(self, threshold: int, cooldown: float, *, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._opened_at is not None and self._clock() - self._opened_at < self.cooldown

    def before_attempt(self, what: str) -> None:
        """Raise :class:`CircuitOpen` while the breaker is open."""
        with self._lock:
            if self._opened_at is None:
                return
            waited = self._clock() - self._opened_at
            if waited < self.cooldown:
                raise CircuitOpen(
                    f"{what}: {self._failures} reconnects failed in a row; not trying again "
                    f"for {self.cooldown - waited:.1f} s"
                )

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._clock()


def backoff_delay(attempt: int, base: float = 0.1, cap: float = 2.0) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): doubling from ``base``, capped."""
    return min(base * 2.0**attempt, cap)


def reconnect_with_backoff(
    what: str,
    breaker: CircuitBreaker,
    attempts: int,
    connect: Callable[[], None],
    drop: Callable[[], None],
) -> None:
    """Call ``connect`` up to ``attempts`` times, with backoff, through ``breaker``.

    A link or protocol failure drops the half-made link and tries again; any
    other error (a failing setup, the breaker refusing) stops at once.
    """
    last: BelayError | None = None
    for attempt in range(attempts):
        breaker.before_attempt(what)
        drop()
        try:
            connect()
        except (DeviceDisconnected, ProtocolError) as error:
            breaker.failed()
            drop()
            last = error
            if attempt + 1 < attempts:
                threading.Event().wait(backoff_delay(attempt))
            continue
        breaker.succeeded()
        return
    assert last is not None
    raise DeviceDisconnected(
        f"could not reconnect to {what} after {attempts} attempt(s): {last.args[0]}"
    ) from last
