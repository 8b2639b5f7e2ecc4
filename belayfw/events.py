"""Values a board thread pushes to the host with ``emit(value)``: its event queue.

Board code in a ``@thread`` body calls ``emit(value)``; the value (a literal,
through the same codec as results) reaches the host in a frame of its own,
between or inside other calls' replies, and is delivered here in the order the
thread emitted it. Nothing polls: the link's reader hands each event over as it
is read.

Overflow: a queue holds at most ``maxsize`` values (``EVENT_QUEUE_SIZE``); when
a new value finds it full, the OLDEST is dropped and counted in ``dropped``
(sensor readings: the newest matter most). The board itself never drops one:
``emit`` writes to the link, and waits if the host is not reading it.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

#: Values a thread's queue keeps before it drops the oldest.
EVENT_QUEUE_SIZE = 10_000

EventCallback = Callable[[Any], None]


class ThreadEvents:
    """The values one board thread emitted, in order.

    Iterating blocks for each next value and ends once the thread has ended
    and every value it emitted has been read. With a callback subscribed
    (:meth:`subscribe`), values go to the callbacks instead of the queue.
    """

    def __init__(self, name: str, maxsize: int = EVENT_QUEUE_SIZE) -> None:
        self.name = name
        self.maxsize = maxsize
        #: Values dropped because the queue was full (the oldest go first).
        self.dropped = 0
        self._values: collections.deque[Any] = collections.deque()
        self._changed = threading.Condition()
        self._ended = False
        self._callbacks: list[EventCallback] = []

    def subscribe(self, callback: EventCallback) -> None:
        """Call ``callback(value)`` for each later value, in the link's reader thread.

        Values already queued stay in the queue. A callback must return soon
        and must not call the device (hand the work to another thread).
        """
        with self._changed:
            self._callbacks.append(callback)

    def get(self, timeout: float | None = None) -> Any:
        """The next value; ``queue.Empty`` if none comes within ``timeout`` seconds
        or the thread has ended with none left (``ended`` tells which)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._values:
                if self._ended:
                    raise queue.Empty
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise queue.Empty
                self._changed.wait(remaining)
            return self._values.popleft()

    def get_nowait(self) -> Any:
        """The next value if one is queued, else ``queue.Empty``."""
        return self.get(timeout=0)

    @property
    def ended(self) -> bool:
        """The thread has ended: no value will be added."""
        return self._ended

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                yield self.get()
            except queue.Empty:
                return

    # -- from the link's reader -------------------------------------------------------

    def deliver(self, value: Any) -> None:
        """Queue or hand over one value (the link's reader calls this)."""
        with self._changed:
            callbacks = list(self._callbacks)
            if not callbacks:
                if len(self._values) >= self.maxsize:
                    self._values.popleft()
                    self.dropped += 1
                    if self.dropped == 1:
                        log.warning(
                            "board thread %s emits faster than its events are read: "
                            "dropping the oldest (queue of %d)",
                            self.name,
                            self.maxsize,
                        )
                self._values.append(value)
                self._changed.notify_all()
                return
        for callback in callbacks:
            try:
                callback(value)
            except Exception:
                log.exception("belayfw: an event callback of thread %s failed", self.name)

    def mark_ended(self, ended: bool = True) -> None:
        """The thread has ended (or, False: runs again after a restart)."""
        with self._changed:
            self._ended = ended
            self._changed.notify_all()
