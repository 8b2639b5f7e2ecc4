"""Bringing a board back: reconnect backoff, a circuit breaker, and a heap left locked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from belayfw.errors import (
    BelayError,
    CircuitOpen,
    DeviceDisconnected,
    DeviceError,
    HeapLocked,
    ProtocolError,
)
from belayfw.transports.base import Restartable

if TYPE_CHECKING:
    from belayfw.connection import Connection


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


# -- a heap left locked --------------------------------------------------------------------

#: Seconds the board gets to answer the check that follows a locked-heap failure.
HEAP_CHECK_TIMEOUT = 5.0


def heap_locked(error: DeviceError) -> bool:
    """The board failed to allocate because its heap is locked.

    On the unix port an interrupt (a timeout) that cuts into a garbage
    collection leaves the heap locked for good: every later command fails to
    compile, with this error, until the process is restarted.
    """
    return error.type_name == "MemoryError" and "heap is locked" in error.message


def recover_locked_heap(
    connection: Connection, error: DeviceError, reset: Callable[[], None]
) -> HeapLocked:
    """After ``error`` (a locked heap): check the board, restart it when it stays locked.

    ``reset`` soft-resets the device: on an emulator it starts the board
    process afresh on the same files and restores the code and setups.
    Returns the error to raise; its ``recovered`` says whether the board works.
    """
    try:
        connection.call("_bfw_c(bool)", timeout=HEAP_CHECK_TIMEOUT)
    except DeviceError as again:
        if not heap_locked(again):
            return HeapLocked.of(error, restarted=False, recovered=False)
    except BelayError:
        return HeapLocked.of(error, restarted=False, recovered=False)
    else:
        return HeapLocked.of(error, restarted=False, recovered=True)
    if not isinstance(connection.transport, Restartable):
        return HeapLocked.of(error, restarted=False, recovered=False)
    try:
        reset()
    except BelayError as failure:
        locked = HeapLocked.of(error, restarted=False, recovered=False)
        locked.__cause__ = failure
        return locked
    return HeapLocked.of(error, restarted=True, recovered=True)


def restart_if_heap_locked(connection: Connection, reset: Callable[[], None]) -> bool:
    """After a timeout's interrupt on an emulator: restart the board if its heap is locked.

    One quick call tells; True when the board was restarted (code and setups
    restored), so the next call works instead of meeting the lock.
    """
    if not isinstance(connection.transport, Restartable):
        return False
    try:
        connection.call("_bfw_c(bool)", timeout=HEAP_CHECK_TIMEOUT)
    except DeviceError as error:
        if not heap_locked(error):
            return False
    except BelayError:
        return False
    else:
        return False
    reset()
    return True
