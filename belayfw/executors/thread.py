"""Board threads: started by ``@thread`` methods, stoppable, confirmed dead at close."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from belayfw import codec
from belayfw.decorators import BoardMethod, ThreadOptions
from belayfw.errors import (
    BelayError,
    DeviceError,
    FeatureUnavailable,
    SessionLimitExceeded,
    ThreadJoinTimeout,
    ThreadNotFinished,
    ThreadReportLost,
)
from belayfw.events import EventCallback, ThreadEvents
from belayfw.executors.base import INTERNAL_TIMEOUT, BoardCaller, call_arguments, call_command

if TYPE_CHECKING:
    from belayfw.session.session import DeviceSession

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 5.0
#: Handles of threads known to have ended that a device keeps for its live
#: sessions (the oldest go first); an ended session's handles all go.
KEPT_ENDED_HANDLES = 64
#: How often a wait for a thread's end asks the board, once a host Ctrl-C has cut a
#: call since the thread started (the thread's report may have been in the cut read).
JOIN_CHECK_SECONDS = 1.0


class ThreadState(enum.StrEnum):
    """A board thread's state; a ``str``, so ``handle.state == "stopped"`` works too."""

    RUNNING = "running"
    FINISHED = "finished"  # returned
    STOPPED = "stopped"  # ended by stop() or by its session ending
    FAILED = "failed"  # raised; see ThreadHandle.error
    LOST = "lost"  # the board reset or forgot it


RUNNING = ThreadState.RUNNING

#: Applies one board report (a failure, an event, a return) to its handle, if known.
_Report = Callable[["ThreadHandle | None"], object]


def _state(value: str) -> ThreadState:
    """The board's word for a state; one belayfw does not know counts as lost."""
    try:
        return ThreadState(value)
    except ValueError:
        log.warning("board reported an unknown thread state %r", value)
        return ThreadState.LOST


class ThreadHandle:
    """A thread running on the board, started by a ``@thread`` method."""

    def __init__(
        self,
        executor: ThreadExecutor,
        thread_id: int,
        name: str,
        method: BoardMethod,
        session: DeviceSession,
        arguments: str,
    ) -> None:
        self._executor = executor
        self.id = thread_id
        self.name = name
        self.method = method
        #: The session that started the thread; ending it stops the thread.
        self.session = session
        self._arguments = arguments
        self.started_at = time.time()
        #: The board exception that ended the thread, once it has failed.
        self.error: DeviceError | None = None
        self._last_state: ThreadState = RUNNING
        self._ended = threading.Event()
        self._result: Any = None
        #: The board's report of the end (a return value or an error) arrived.
        self._reported = False
        #: Host Ctrl-Cs that had cut calls when the thread started (see join).
        self._cuts_at_start = executor.cut_calls()
        #: The values the thread emitted (``emit(value)`` on the board), in order.
        self.events = ThreadEvents(name)

    @property
    def state(self) -> ThreadState:
        """Running, finished, stopped, failed or lost (read from the board while running)."""
        if self._last_state == RUNNING:
            state = self._executor.states([self]).get(self.id, ThreadState.LOST)
            self._executor.board_says(self, state)
        return self._last_state

    @property
    def _report_lost(self) -> bool:
        """The board says the thread returned or failed, but its report never came.

        The board sends the report before its thread table says the thread ended
        (board/threads.py), so once that is recorded the report has arrived or never will.
        """
        return (
            self._last_state is ThreadState.FINISHED or self._last_state is ThreadState.FAILED
        ) and not self._reported

    @property
    def state_known_running(self) -> bool:
        """True unless the thread is already known to have ended (no round trip)."""
        return self._last_state == RUNNING

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

    def on_event(self, callback: EventCallback) -> None:
        """Call ``callback(value)`` for each value the thread emits from now on.

        It runs in the link's reader thread: it must return soon and must not
        call the device. Values go to callbacks instead of ``events``.
        """
        self.events.subscribe(callback)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the thread has ended; True if it has.

        The board reports a return or a failure by itself, so waiting costs no
        round trip; a stop or a lost board is recorded when belayfw learns of it.
        A host Ctrl-C that cuts a call can drop a report read at that instant:
        once one has since the thread started, the wait also asks the board
        every JOIN_CHECK_SECONDS, so it never waits for a report that is gone
        (only when no other host thread has the board: see ask_if_free).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._executor.cut_calls() != self._cuts_at_start and self._last_state == RUNNING:
                try:
                    self._executor.ask_if_free(self)
                except BelayError as error:  # the link's own end is recorded where it happens
                    log.debug("could not ask the board about thread %s: %s", self.name, error)
            if self._last_state != RUNNING:
                return True  # the state is the truth, even if a Ctrl-C cut _record short
            if deadline is None:
                wait = JOIN_CHECK_SECONDS
            else:
                wait = min(JOIN_CHECK_SECONDS, deadline - time.monotonic())
                if wait <= 0:
                    return self._ended.is_set()
            if self._ended.wait(wait):
                return True

    def result(self, timeout: float | None = None) -> Any:
        """The thread function's return value, once it has returned.

        Raises the board exception (a ``DeviceError``) if it failed,
        ``ThreadNotFinished`` if it was stopped or lost, and ``ThreadJoinTimeout``
        if it is still running after ``timeout`` seconds.
        """
        error = self.exception(timeout)
        if error is not None:
            raise error
        return self._result

    def exception(self, timeout: float | None = None) -> BelayError | None:
        """What ended the thread instead of a return: None once it has returned."""
        if not self.join(timeout):
            raise ThreadJoinTimeout(
                f"board thread {self.name!r} (id {self.id}) still runs after {timeout:g} s"
            )
        state = self._last_state
        if self._report_lost:
            what = "return value" if state is ThreadState.FINISHED else "error"
            return ThreadReportLost(
                f"board thread {self.name!r} (id {self.id}) {state.value} on the board, but "
                f"its {what} never reached the host: a host Ctrl-C that cut a read, or a link "
                "that dropped, lost the report"
            )
        if state is ThreadState.FINISHED:
            return None
        if state is ThreadState.FAILED and self.error is not None:
            return self.error
        return ThreadNotFinished(f"board thread {self.name!r} (id {self.id}) was {state.value}")

    def _record(self, state: ThreadState, error: DeviceError | None = None) -> None:
        self._last_state = state
        if error is not None:
            self.error = error
        if state != RUNNING:
            self._ended.set()
            self.events.mark_ended()

    def __repr__(self) -> str:
        return f"<ThreadHandle {self.name!r} id={self.id} {self._last_state.value}>"


class ThreadExecutor:
    """Starts ``@thread`` methods and keeps every handle it started."""

    def __init__(self, device: BoardCaller) -> None:
        self._device = device
        self._handles: dict[int, ThreadHandle] = {}
        # Reentrant: early reports are applied under it, and an event callback
        # may look at the handles.
        self._lock = threading.RLock()
        # A thread can fail before the board has even sent the reply that names it
        # (it runs at once; the board's main thread may be descheduled meanwhile):
        # failures reported while a start is under way wait here for their handle.
        self._starting = False
        self._early: list[tuple[int, _Report]] = []

    @property
    def handles(self) -> list[ThreadHandle]:
        with self._lock:
            return list(self._handles.values())

    def call(
        self,
        method: BoardMethod,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        session: DeviceSession,
    ) -> ThreadHandle:
        options = method.options
        assert isinstance(options, ThreadOptions)
        arguments = call_arguments(method, args, kwargs)
        name = options.name or method.board_name
        with self._device.hold():  # the limit check and the start are one step
            self._check_thread_limit(method, session)
            try:
                self._starting = True
                thread_id = self._start(method, name, arguments)
                handle = ThreadHandle(self, thread_id, name, method, session, arguments)
                self._track(handle)
            finally:
                self._apply_early_reports()
        return handle

    def _check_thread_limit(self, method: BoardMethod, session: DeviceSession) -> None:
        limit = session.options.limits.max_threads
        if limit is None:
            return
        if len(session.resources.threads) >= limit:
            # Threads that ended on their own no longer count: ask the board.
            for handle in self.handles:
                if handle.session is session and handle.state_known_running:
                    handle.state  # noqa: B018 - reading it untracks a thread that has ended
        running = len(session.resources.threads)
        if running >= limit:
            session.limit_reached("max_threads", running + 1, limit)
            raise SessionLimitExceeded(
                f"cannot start {method.board_name}: session {session.id} already runs "
                f"{running} board thread(s) and max_threads is {limit}; stop one first",
                recoverable=True,
            )

    def _start(self, method: BoardMethod, name: str, arguments: str) -> int:
        # Through _bfw_tr (board/streams.py), which reports the function's return value.
        command = call_command(
            "_bfw_ts", codec.encode(name), "_bfw_tr", method.board_name, arguments=arguments
        )
        try:
            thread_id: int = self._device.board_call(command)
        except DeviceError as exc:
            if exc.type_name == "OSError" and "no _thread" in exc.message:
                raise FeatureUnavailable(
                    f"@thread {method.function.__qualname__} needs _thread, which this board lacks"
                ) from None
            raise
        return thread_id

    def _track(self, handle: ThreadHandle) -> None:
        with self._lock:
            self._handles[handle.id] = handle
            ended = [key for key, kept in self._handles.items() if not kept.state_known_running]
            for key in ended[: max(0, len(ended) - KEPT_ENDED_HANDLES)]:
                del self._handles[key]
        handle.session.resources.register_thread(handle.id, handle.method.board_name)

    def forget_session(self, session: DeviceSession) -> None:
        """Drop the handles of a session that has ended (callers keep theirs usable)."""
        with self._lock:
            for key, handle in list(self._handles.items()):
                if handle.session is session:
                    del self._handles[key]

    def _untrack(self, handle: ThreadHandle) -> None:
        handle.session.resources.unregister_thread(handle.id)

    def restart_marked(self) -> list[ThreadHandle]:
        """After a board reset: start again every lost thread marked ``restart=True``.

        The same handle object carries on, with the new board id.
        """
        restarted = []
        for handle in self.handles:
            options = handle.method.options
            assert isinstance(options, ThreadOptions)
            if (
                not options.restart
                or handle._last_state is not ThreadState.LOST
                or handle.session.state.is_final
            ):
                continue
            with self._device.hold():
                with self._lock:
                    self._handles.pop(handle.id, None)
                # As in call(): its reports may come before the reply that names it, and
                # its new id (a reset board counts from 1 again) may be an old handle's.
                try:
                    self._starting = True
                    handle.id = self._start(handle.method, handle.name, handle._arguments)
                    handle.started_at = time.time()
                    handle._reported = False
                    handle._cuts_at_start = self.cut_calls()
                    # Running again last: a join() in between sees the old end, whole.
                    handle._ended.clear()
                    handle.events.mark_ended(False)
                    handle._record(RUNNING)
                    self._track(handle)
                    restarted.append(handle)
                finally:
                    self._apply_early_reports()
        return restarted

    def cut_calls(self) -> int:
        """How many calls a host Ctrl-C has cut on this device (see ThreadHandle.join)."""
        return self._device.cut_calls

    def board_says(self, handle: ThreadHandle, state: ThreadState) -> None:
        """Record what the board's thread table says of a thread presumed running."""
        if state != RUNNING:
            handle._record(state)
            self._untrack(handle)  # it no longer counts against max_threads

    def ask_if_free(self, handle: ThreadHandle) -> None:
        """Read a thread's state from the board, unless another caller has the board now.

        That caller's reads (or the idle drainer's) bring the thread's report if
        it still comes; waiting for the board would hold a ``join`` past its
        timeout, or for good if that caller waits for the joining thread.
        """
        lock = self._device.hold()
        if not lock.acquire(blocking=False):
            return
        try:
            self.board_says(handle, self.states([handle]).get(handle.id, ThreadState.LOST))
        finally:
            lock.release()

    def states(self, handles: Iterable[ThreadHandle]) -> dict[int, ThreadState]:
        ids = [handle.id for handle in handles]
        command = f"_bfw_c(_bfw_tstate,{codec.encode(ids)})"
        states: dict[int, str] = self._device.board_call(command, INTERNAL_TIMEOUT)
        return {thread_id: _state(state) for thread_id, state in states.items()}

    def refresh_states(self) -> None:
        """Re-read the state of threads presumed running (after a reconnect without reset)."""
        running = [handle for handle in self.handles if handle._last_state == RUNNING]
        if not running:
            return
        states = self.states(running)
        for handle in running:
            self.board_says(handle, states.get(handle.id, ThreadState.LOST))

    def stop(self, handles: Iterable[ThreadHandle], timeout: float) -> list[ThreadHandle]:
        """Stop threads and confirm on the board; return those still running."""
        chosen = [handle for handle in handles if handle._last_state == RUNNING]
        if not chosen:
            return []
        ids = [handle.id for handle in chosen]
        milliseconds = max(1, int(timeout * 1000))
        states = self._device.board_call(
            f"_bfw_c(_bfw_tstop,{codec.encode(ids)},{milliseconds})", timeout + 5.0
        )
        survivors = []
        for handle in chosen:
            state = _state(states.get(handle.id, ThreadState.LOST))
            self.board_says(handle, state)
            if state == RUNNING:
                survivors.append(handle)
        finished = [handle.id for handle in chosen if handle not in survivors]
        if finished:
            self._device.board_call(
                f"_bfw_c(_bfw_tforget,{codec.encode(finished)})", INTERNAL_TIMEOUT
            )
        return survivors

    def stop_session(self, session: DeviceSession, timeout: float) -> list[ThreadHandle]:
        """Stop the threads ``session`` started; return those still running."""
        return self.stop([handle for handle in self.handles if handle.session is session], timeout)

    def on_failure(self, thread_id: int, error: DeviceError) -> None:
        """The board reported a thread's unhandled exception."""
        self._report(thread_id, lambda handle: self._failed(thread_id, handle, error))

    def on_event(self, thread_id: int, value: Any) -> None:
        """A board thread emitted ``value``."""

        def put(handle: ThreadHandle | None) -> None:
            if handle is not None:
                handle.events.deliver(value)

        self._report(thread_id, put)

    def on_return(self, thread_id: int, value: Any) -> None:
        """A board thread's function returned ``value``."""

        def returned(handle: ThreadHandle | None) -> None:
            if handle is not None:
                handle._result = value
                handle._reported = True
                handle._record(ThreadState.FINISHED)
                self._untrack(handle)

        self._report(thread_id, returned)

    def _report(self, thread_id: int, apply: _Report) -> None:
        """Apply a board report to its handle, in the order the board sent them.

        A thread can report before the board has even sent the reply that names
        it (it runs at once; the board's main thread may be descheduled
        meanwhile): reports that come while a start is under way wait, in order,
        until its handle exists.
        """
        with self._lock:
            if self._starting:
                self._early.append((thread_id, apply))
                return
            handle = self._handles.get(thread_id)
        apply(handle)

    def _apply_early_reports(self) -> None:
        """Apply the reports that came while a thread was starting (in order)."""
        with self._lock:
            self._starting = False
            early, self._early = self._early, []
            for thread_id, apply in early:
                apply(self._handles.get(thread_id))

    def _failed(self, thread_id: int, handle: ThreadHandle | None, error: DeviceError) -> None:
        name = handle.name if handle else f"#{thread_id}"
        log.error("board thread %s failed: %s", name, error)
        if handle is not None:
            handle._reported = True
            handle._record(ThreadState.FAILED, error)
            self._untrack(handle)

    def mark_lost(self) -> None:
        """The link dropped: the board may have reset, its threads are presumed gone."""
        for handle in self.handles:
            if handle._last_state == RUNNING:
                handle._record(ThreadState.LOST)
                self._untrack(handle)
