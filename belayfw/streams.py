"""Generator streams: a board generator read in windows of values the host grants.

Calling a generator ``@task`` returns a :class:`BoardStream`. Each time its
buffer runs dry it grants the board a window of ``n`` values (its credit): the
board runs the generator for up to ``n`` values, or until ``WINDOW_SECONDS``
have passed with at least one value, and sends them back as one result. A
stream therefore costs one turnaround per window, not per value, and the host
never holds more than one window. Windows start small (the first value comes
back soon) and grow while values keep coming, up to ``MAX_WINDOW`` values and
about ``WINDOW_BYTES`` of encoded values, so a board's RAM bounds them too.

The stream is a context manager and an iterator; closing it closes the board
generator (its ``finally`` blocks run on the board). Dropping it unclosed
leaves that close to the device's next task call (:class:`AbandonedStreams`):
a finalizer may run in any thread, even the link's reader or in the middle of
another board call, where a board call of its own would hang or cut an exchange.
"""

from __future__ import annotations

import collections
import logging
import threading
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self

from belayfw.errors import BelayError, StreamSendError
from belayfw.executors.base import BoardCaller

log = logging.getLogger(__name__)

#: The first window: small, so the first value is not held back behind many.
FIRST_WINDOW = 16
#: The largest window, in values.
MAX_WINDOW = 4096
#: A window ends this long after it began once it holds a value: a slow
#: generator's values reach the host about as soon as they are made.
WINDOW_SECONDS = 0.01
#: A window is sized to hold about this many bytes of encoded values.
WINDOW_BYTES = 32768
#: Seconds the board gets to close a generator the host drops.
CLOSE_TIMEOUT = 5.0


class AbandonedStreams:
    """Board generators whose host streams were dropped unclosed: closed at the next call.

    A stream's finalizer only queues its id here; the device's next task call
    (or stream window), from a user thread that may use the link, closes them.
    """

    def __init__(self, caller: BoardCaller) -> None:
        self._caller = caller
        self._ids: collections.deque[int] = collections.deque()

    def add(self, stream_id: int) -> None:
        self._ids.append(stream_id)  # deque.append: safe from any thread, never blocks

    def close_all(self) -> None:
        """Close every queued board generator (their ``finally`` blocks run on the board)."""
        while self._ids:
            try:
                stream_id = self._ids.popleft()
            except IndexError:  # another thread took the last one
                return
            self.close(stream_id)

    def close(self, stream_id: int) -> None:
        """Close one board generator now; one cut by Ctrl-C is closed at the next call."""
        try:
            self._caller.board_call(f"_bfw_c(_bfw_gx,{stream_id})", CLOSE_TIMEOUT)
        except BelayError as exc:
            log.debug("could not close board generator %d: %s", stream_id, exc)
        except BaseException:
            self._ids.append(stream_id)  # the board may still run it: try again later
            raise


class BoardStream(AbstractContextManager["BoardStream"]):
    """The values of a board generator, read a window at a time.

    ``timeout`` (the task's) limits each window: how long the board may take to
    produce the next values, not the whole stream. A window that runs past it is
    interrupted on the board, which ends the generator, and raises
    :class:`~belayfw.errors.TaskTimeout`.
    """

    def __init__(
        self,
        caller: BoardCaller,
        stream_id: int,
        start: str,
        timeout: float | None,
        hold: AbstractContextManager[Any] | None,
        abandoned: AbandonedStreams,
        window_bytes: int = WINDOW_BYTES,
    ) -> None:
        self._caller = caller
        self._abandoned = abandoned
        self._id = stream_id
        self._start: str | None = start
        self._timeout = timeout
        self._hold = hold
        self._holding = False  # inside self._hold (from the first window to the end)
        self._holder: int | None = None  # the thread that entered self._hold (only it may exit)
        self._closed = False
        self._reader: int | None = None  # the thread that read the last window
        self._board = caller.hold()  # the board's lock (held during any board call)
        self._window_bytes = window_bytes
        self._window = FIRST_WINDOW
        self._buffer: collections.deque[Any] = collections.deque()
        self._more = True  # the board generator may yield more
        self._open_on_board = False  # the board holds the generator (close it when dropped)
        #: Windows read so far (each one turnaround).
        self.windows = 0

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        if self._closed:
            self.close()  # finishes a close another thread asked for while this one held the board
            raise StopIteration
        if not self._buffer:
            if not self._more:
                raise StopIteration
            self._fill()
            if not self._buffer:
                raise StopIteration
        return self._buffer.popleft()

    def send(self, value: Any) -> Any:
        """``send(None)`` is ``next()``; any other value raises :class:`StreamSendError`."""
        if value is None:
            return next(self)
        raise StreamSendError(
            f"cannot send {type(value).__name__} values into a board generator stream: the "
            "board runs ahead of the host by a window of values, so the yield it would "
            "answer has already passed"
        )

    def close(self) -> None:
        """Stop reading; the board generator is closed (its ``finally`` blocks run).

        From another thread than the one reading an ``exclusive`` stream (which
        holds the board), the stream ends at once and the reader's next read
        closes the board generator: only the holder can let go of the board.
        """
        self._closed = True
        self._more = False
        self._buffer.clear()
        if self._holding and self._holder != threading.get_ident():
            return
        if self._open_on_board:
            self._open_on_board = False
            self._abandoned.close(self._id)
        self._release()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Cyclic garbage is collected in whatever thread allocates: the link's reader
        # (a board call there waits for a reply only it can read) or a thread in the
        # middle of a board call (a nested one would cut that exchange). A board call
        # is only made here from the thread that read the stream, outside any call.
        me = threading.get_ident()
        if self._holding and self._holder == me:
            self._release()
        if self._open_on_board:
            if self._reader == me and not _owned_by_this_thread(self._board):
                self.close()
            else:
                self._open_on_board = False
                self._abandoned.add(self._id)
        if self._holding:
            log.warning(
                "an exclusive board stream was dropped unclosed outside the thread that read "
                "it: that thread keeps the board; close streams (use a with block)"
            )

    # -- windows ------------------------------------------------------------------------

    def _fill(self) -> None:
        caller = self._caller
        self._reader = threading.get_ident()
        try:
            if self._start is not None:
                if self._hold is not None:
                    self._hold.__enter__()
                    self._holding = True
                    self._holder = threading.get_ident()
                self._abandoned.close_all()
                start, self._start = self._start, None
                # Open before the call: an interrupt may cut the reply of a start the
                # board made, and closing a generator the board lacks is harmless.
                self._open_on_board = True
                caller.board_call(start, self._timeout)
            command = f"_bfw_c(_bfw_gw,{self._id},{self._window},{_WINDOW_MS})"
            more, values = caller.board_call(command, self._timeout)
        except (BelayError, KeyboardInterrupt):
            # Whatever failed, the board may still hold the generator (a window the host
            # could not decode, an interrupt that landed between two values): close it.
            self._more = False
            self.close()
            raise
        if self._closed:  # closed from another thread while this window was under way
            self.close()  # (again, in this thread: it may hold the board)
            return
        self.windows += 1
        self._buffer.extend(values)
        if not more:
            self._more = False
            self._open_on_board = False
            self._release()
        self._grow(values)

    def _grow(self, values: list[Any]) -> None:
        """Double a window the board filled, within the byte budget."""
        if len(values) < self._window:
            return
        size = max(1, len(repr(values[:8])) // max(1, min(8, len(values))))
        self._window = max(1, min(MAX_WINDOW, self._window * 2, self._window_bytes // size))

    def _release(self) -> None:
        if self._holding and self._hold is not None:
            self._holding = False
            self._hold.__exit__(None, None, None)


def _owned_by_this_thread(lock: object) -> bool:
    """Does this thread hold ``lock`` (an RLock: in a board call)? True when unknowable."""
    is_owned = getattr(lock, "_is_owned", None)
    return True if is_owned is None else bool(is_owned())


_WINDOW_MS = max(1, int(WINDOW_SECONDS * 1000))
