"""Board threads: started by ``@thread`` methods, stoppable, confirmed dead at close."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from belayfw import codec
from belayfw.decorators import BoardMethod, ThreadOptions
from belayfw.errors import DeviceError, FeatureUnavailable
from belayfw.executors.base import BoardCaller, call_arguments, call_command

log = logging.getLogger(__name__)

#: Board thread states (``running`` until it returns, is stopped, or fails).
RUNNING = "running"
DEFAULT_STOP_TIMEOUT = 5.0


class ThreadHandle:
    """A thread running on the board, started by a ``@thread`` method."""

    def __init__(
        self, executor: ThreadExecutor, thread_id: int, name: str, method: BoardMethod
    ) -> None:
        self._executor = executor
        self.id = thread_id
        self.name = name
        self.method = method
        self.started_at = time.time()
        #: The board exception that ended the thread, once it has failed.
        self.error: DeviceError | None = None
        self._last_state = RUNNING
        self._ended = threading.Event()

    @property
    def state(self) -> str:
        """``running``, ``finished``, ``stopped``, ``failed`` or ``lost`` (read from the board)."""
        if self._last_state == RUNNING:
            self._last_state = self._executor.states([self]).get(self.id, "lost")
        return self._last_state

    @property
    def alive(self) -> bool:
        """True while the thread runs on the board (one round trip to find out)."""
        return self.state == RUNNING

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> bool:
        """Ask the thread to stop and wait, on the board, until it has; True if it did."""
        return not self._executor.stop([self], timeout)

    def wait_error(self, timeout: float) -> DeviceError | None:
        """Wait until the board reports this thread failed (for callbacks and tests)."""
        self._ended.wait(timeout)
        return self.error

    def _record(self, state: str, error: DeviceError | None = None) -> None:
        self._last_state = state
        if error is not None:
            self.error = error
        if state != RUNNING:
            self._ended.set()

    def __repr__(self) -> str:
        return f"<ThreadHandle {self.name!r} id={self.id} {self._last_state}>"


class ThreadExecutor:
    """Starts ``@thread`` methods and keeps every handle it started."""

    def __init__(self, device: BoardCaller) -> None:
        self._device = device
        self._handles: dict[int, ThreadHandle] = {}
        self._lock = threading.Lock()

    @property
    def handles(self) -> list[ThreadHandle]:
        with self._lock:
            return list(self._handles.values())

    def call(
        self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> ThreadHandle:
        options = method.options
        assert isinstance(options, ThreadOptions)
        arguments = call_arguments(method, args, kwargs)
        name = options.name or method.board_name
        command = call_command(
            "_bfw_ts", codec.encode(name), method.board_name, arguments=arguments
        )
        try:
            thread_id = self._device._call(command)
        except DeviceError as exc:
            if exc.type_name == "OSError" and "no _thread" in exc.message:
                raise FeatureUnavailable(
                    f"@thread {method.function.__qualname__} needs _thread, which this board lacks"
                ) from None
            raise
        handle = ThreadHandle(self, thread_id, name, method)
        with self._lock:
            self._handles[thread_id] = handle
        return handle

    def states(self, handles: Iterable[ThreadHandle]) -> dict[int, str]:
        ids = [handle.id for handle in handles]
        states: dict[int, str] = self._device._call(f"_bfw_c(_bfw_tstate,{codec.encode(ids)})")
        return states

    def stop(self, handles: Iterable[ThreadHandle], timeout: float) -> list[ThreadHandle]:
        """Stop threads and confirm on the board; return those still running."""
        chosen = [handle for handle in handles if handle._last_state == RUNNING]
        if not chosen:
            return []
        ids = [handle.id for handle in chosen]
        milliseconds = max(1, int(timeout * 1000))
        states = self._device._call(
            f"_bfw_c(_bfw_tstop,{codec.encode(ids)},{milliseconds})", timeout + 5.0
        )
        survivors = []
        for handle in chosen:
            state = states.get(handle.id, "lost")
            handle._record(state)
            if state == RUNNING:
                survivors.append(handle)
        finished = [handle.id for handle in chosen if handle not in survivors]
        if finished:
            self._device._call(f"_bfw_c(_bfw_tforget,{codec.encode(finished)})")
        return survivors

    def stop_all(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> list[ThreadHandle]:
        return self.stop(self.handles, timeout)

    def on_failure(self, thread_id: int, error: DeviceError) -> None:
        """The board reported a thread's unhandled exception."""
        with self._lock:
            handle = self._handles.get(thread_id)
        name = handle.name if handle else f"#{thread_id}"
        log.error("board thread %s failed: %s", name, error)
        if handle is not None:
            handle._record("failed", error)

    def forget_all(self, state: str = "lost") -> None:
        """The board was reset: its threads are gone."""
        for handle in self.handles:
            if handle._last_state == RUNNING:
                handle._record(state)
