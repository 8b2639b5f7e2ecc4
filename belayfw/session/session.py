"""``DeviceSession``: one unit of work on a device, with its own threads and resources.

A session moves through the validated :mod:`lifecycle <belayfw.session.lifecycle>`,
records what happens to it in a bounded event log, keeps a private key/value
store, tracks every thread and resource it started, and tracks its health
against its limits. Ending it stops its threads, cleans its resources, and
leaves other sessions on the same device alone.

The session drives its own lifecycle. What it needs from the board it runs on
(stop my threads, run the teardowns, purge the code, hold the board while I
end) is the small :class:`SessionBoard` protocol, which ``Device`` implements:
the session never reaches into the device, and this module never imports it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from belayfw.errors import ResourceCleanupError
from belayfw.fs.files import BoardFS
from belayfw.fs.session import SessionFiles
from belayfw.session.events import EventLog, EventType
from belayfw.session.health import HealthRecord, SessionHealth, check_limits
from belayfw.session.lifecycle import SessionState, StateMachine
from belayfw.session.options import SessionOptions
from belayfw.session.store import SessionStore
from belayfw.session.tracker import ResourceTracker

if TYPE_CHECKING:
    from belayfw.session.capabilities import DeviceCapabilities

log = logging.getLogger(__name__)

#: The session calls in this context belong to (None: the device's primary session).
current_session_var: ContextVar[DeviceSession | None] = ContextVar("belayfw_session", default=None)
#: The session whose own opening, ending or recovery this context is carrying out:
#: its board calls go through although the session is not ACTIVE.
maintaining_var: ContextVar[DeviceSession | None] = ContextVar("belayfw_maintaining", default=None)


@contextmanager
def maintaining(session: DeviceSession) -> Iterator[None]:
    """Run belayfw's own calls for ``session`` (opening, ending, reconnecting)."""
    token = current_session_var.set(session)
    maintaining_token = maintaining_var.set(session)
    try:
        yield
    finally:
        maintaining_var.reset(maintaining_token)
        current_session_var.reset(token)


class SessionBoard(Protocol):
    """What sessions and their manager need from the board they run on.

    ``Device`` implements it. Each step returns the problems it met instead of
    raising, so that ending a session carries on past a failed step.
    """

    port: str

    @property
    def manager(self) -> object: ...

    @property
    def is_open(self) -> bool: ...

    @property
    def primary_session(self) -> DeviceSession | None: ...

    def open(self) -> object: ...

    def close(self) -> None: ...

    def reconnect(self, attempts: int = 3) -> None: ...

    def eval(self, expression: str, timeout: float | None = None) -> Any: ...

    def hold(self) -> AbstractContextManager[object]:
        """Keep every other caller off the board for a sequence of calls."""
        ...

    def stop_threads(self, session: DeviceSession) -> list[Exception]:
        """Stop the board threads ``session`` started and confirm they ended."""
        ...

    def run_teardowns(self) -> list[Exception]:
        """Run the device's teardowns (when its primary session ends)."""
        ...

    def purge_code(self) -> list[Exception]:
        """Remove the device's methods from the board (``purge_on_end``)."""
        ...

    @property
    def fs(self) -> BoardFS:
        """The board's files (``dev.fs``)."""
        ...


class SessionOwner(Protocol):
    """The manager a session belongs to: it ends and forgets sessions."""

    def end(self, session: DeviceSession | str) -> None: ...


class SessionListener(Protocol):
    """Receives a session's state and capability changes (implement either or both)."""

    def state_changed(self, old: SessionState, new: SessionState) -> None: ...

    def capabilities_changed(self, capabilities: DeviceCapabilities) -> None: ...


class DeviceSession:
    """A session on one device; create it with a :class:`SessionManager`."""

    __slots__ = (
        "_busy_calls",
        "_end_lock",
        "_fs",
        "_health",
        "_listeners",
        "_lock",
        "_machine",
        "_was_active",
        "closing",
        "created_at",
        "device",
        "events",
        "id",
        "last_activity",
        "manager",
        "options",
        "primary",
        "resources",
        "store",
        "suspended_by",
    )

    def __init__(
        self,
        device: SessionBoard,
        manager: SessionOwner,
        options: SessionOptions,
        *,
        primary: bool,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.device = device
        self.manager = manager
        self.options = options
        #: The device's own session (opened and ended with the device).
        self.primary = primary
        self.created_at = datetime.now(UTC)
        self.store = SessionStore()
        self.resources = ResourceTracker(self.id)
        self.events = EventLog(options.max_events)
        #: Why the session is suspended: "link" (the board went away) or "request".
        self.suspended_by: str | None = None
        #: The device's close() began (primary sessions): from then on no call,
        #: retry or reconnect but close()'s own goes through (see routing.py).
        self.closing = False
        self.last_activity = time.monotonic()
        self._health = HealthRecord(self.events)
        self._listeners: list[Any] = []
        self._lock = threading.Lock()
        self._end_lock = threading.Lock()  # one termination at a time; later callers wait
        self._fs: SessionFiles | None = None
        self._busy_calls = 0  # calls in flight: a session running a long call is not idle
        self._was_active = False  # reached ACTIVE once: it may have started board work
        self._machine = StateMachine(self._state_changed, owner=f"session {self.id}")
        self.events.record(EventType.CREATED, f"session created on {device.port}", primary=primary)

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._machine.state

    @property
    def duration(self) -> timedelta:
        return datetime.now(UTC) - self.created_at

    @property
    def is_active(self) -> bool:
        return self._machine.state is SessionState.ACTIVE

    @property
    def busy(self) -> bool:
        """True while a call of this session runs on the board (it is not idle then)."""
        return self._busy_calls > 0

    def suspend(self, reason: str = "requested") -> None:
        """Pause the session: its calls are refused until :meth:`resume`."""
        self._suspend("request", reason)

    def resume(self) -> None:
        """Return to ACTIVE; reconnects first when the link was lost."""
        if self.state.is_final:
            self._machine.move(SessionState.ACTIVE)  # raises InvalidTransition, as it should
        if self.suspended_by == "link" or self.state is SessionState.ERROR:
            self.device.reconnect()  # resumes the device's link-suspended sessions
            if self.state is SessionState.ACTIVE:
                return
        self._machine.move(SessionState.ACTIVE)
        self.suspended_by = None
        self.events.record(EventType.RESUMED, "session resumed")

    def end(self) -> None:
        """End the session: stop its threads, clean its resources (see ``SessionManager.end``)."""
        self.manager.end(self)

    @property
    def fs(self) -> SessionFiles:
        """The board's files as this session sees them (cached listings, logged changes)."""
        if self._fs is None:
            self._fs = SessionFiles(self, self.device.fs)
        return self._fs

    def record_event(self, message: str, **data: Any) -> None:
        """Add a custom event to the session's log."""
        self.events.record(EventType.CUSTOM, message, **data)

    def add_listener(self, listener: Any) -> None:
        """``listener.state_changed(old, new)`` / ``listener.capabilities_changed(caps)``."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Any) -> None:
        with self._lock:
            self._listeners = [item for item in self._listeners if item is not listener]

    @contextmanager
    def use(self) -> Iterator[DeviceSession]:
        """Make calls in this block (this host thread or task) belong to this session."""
        token = current_session_var.set(self)
        try:
            yield self
        finally:
            current_session_var.reset(token)

    # -- health --------------------------------------------------------------------------

    def check_health(self, free_memory: int | None = None) -> SessionHealth:
        """Compare usage with the limits now; ``free_memory`` None reads it from the board."""
        if free_memory is None and self.options.limits.min_free_memory is not None:
            free_memory = self.device.eval("__import__('gc').mem_free()")
        checks = check_limits(
            self.options.limits,
            threads=len(self.resources.threads),
            deployed_bytes=self.resources.deployed_bytes,
            free_memory=free_memory,
        )
        self._health.apply(checks)
        return self.health

    @property
    def health(self) -> SessionHealth:
        """The worst level among the limits: healthy, degraded or critical."""
        return self._health.level

    def limit_reached(self, limit: str, value: int, bound: int) -> None:
        """A refused request (e.g. one thread too many): record it and degrade health."""
        self._health.refused(limit, value, bound)

    # -- driven by the device and the manager ----------------------------------------------

    def activate(self) -> None:
        """INITIALIZING -> ACTIVE, once the board is ready for this session."""
        self._machine.move(SessionState.ACTIVE)
        self._was_active = True
        self.events.record(EventType.STARTED, "session active")

    def call_started(self) -> None:
        """A call of this session is on the board now (the idle reaper leaves it alone)."""
        self._busy_calls += 1

    def call_finished(self) -> None:
        """Pairs with :meth:`call_started` (plain methods: this is every call's path)."""
        self._busy_calls -= 1
        self.last_activity = time.monotonic()

    def link_lost(self, reason: str, error: BaseException | None = None) -> None:
        """The board went away: an ACTIVE session is suspended until it comes back."""
        if self.state is not SessionState.ACTIVE:
            return
        if error is not None:
            self._record_error(error)
        self._suspend("link", reason)

    def link_restored(self) -> None:
        """Back to ACTIVE after a reconnect, unless the user suspended this session."""
        link_suspended = self.state is SessionState.SUSPENDED and self.suspended_by == "link"
        if link_suspended or self.state is SessionState.ERROR:
            self._machine.move(SessionState.ACTIVE)
            self.suspended_by = None
            self.events.record(EventType.RESUMED, "session resumed after reconnecting")

    def fail(self, error: BaseException) -> None:
        """Opening or recovering failed: record why and move to ERROR."""
        self._record_error(error)
        if SessionState.ERROR in self.state.next_states():
            self._machine.move(SessionState.ERROR)

    def capabilities_changed(self, capabilities: DeviceCapabilities) -> None:
        """Tell the listeners the board's capabilities changed."""
        for listener in list(self._listeners):
            callback = getattr(listener, "capabilities_changed", None)
            if callback is None:
                continue
            try:
                callback(capabilities)
            except Exception:
                log.exception("session listener %r failed on capabilities_changed", listener)

    def terminate(self) -> list[Exception]:
        """Stop this session's threads and clean its resources; return every problem.

        Its manager calls this (end a session with :meth:`end` or
        ``SessionManager.end``). Only one caller terminates; a concurrent one
        waits for it and returns. The board calls made here belong to this
        session, from this thread only.
        """
        failures: list[Exception] = []
        with self._end_lock:
            if self.state.is_final:
                return failures
            reached_active = self._was_active
            if self.state is SessionState.INITIALIZING:
                self._machine.move(SessionState.TERMINATED)
            else:
                self._machine.move(SessionState.TERMINATING)
                try:
                    self._clean_up(reached_active, failures)
                except BaseException as interrupt:
                    # Ctrl-C mid-cleanup: the session is over all the same; a retry
                    # must not find it half-ended (TERMINATING cannot be re-entered).
                    self.abandon(interrupt)
                    raise
                self._machine.move(SessionState.TERMINATED)
            self.suspended_by = None
            self.events.record(
                EventType.TERMINATED,
                "session ended" + (f" with {len(failures)} cleanup failure(s)" if failures else ""),
            )
        return failures

    def abandon(self, error: BaseException) -> None:
        """End at once without cleaning up: an interrupt stopped the ending midway."""
        if self.state.is_final:
            return
        self._record_error(error)
        if SessionState.TERMINATED not in self.state.next_states():
            self._machine.move(SessionState.ERROR)
        self._machine.move(SessionState.TERMINATED)
        self.suspended_by = None
        self.events.record(
            EventType.TERMINATED, f"session ended unfinished by {type(error).__name__}"
        )

    def _clean_up(self, reached_active: bool, failures: list[Exception]) -> None:
        """Stop threads, run teardowns, clean resources, purge code; collect failures."""
        with maintaining(self), self.device.hold():
            # Threads stop and teardowns run first, then resources are cleaned
            # (they may still use board code), then the code may be purged.
            if reached_active:
                failures.extend(self.device.stop_threads(self))
                if self.primary:
                    failures.extend(self.device.run_teardowns())
            try:
                self.resources.cleanup()
            except ResourceCleanupError as group:
                failures.extend(group.exceptions)
            if reached_active and self.primary and self.options.purge_on_end:
                purge_failures = self.device.purge_code()
                if not purge_failures:
                    self.resources.forget_methods()
                failures.extend(purge_failures)

    # -- internals -----------------------------------------------------------------------

    def _suspend(self, by: str, reason: str) -> None:
        self._machine.move(SessionState.SUSPENDED)
        self.suspended_by = by
        self.events.record(EventType.SUSPENDED, f"session suspended: {reason}", by=by)

    def _record_error(self, error: BaseException) -> None:
        self.events.record(
            EventType.ERROR_OCCURRED, f"{type(error).__name__}: {error}", error=type(error).__name__
        )

    def _state_changed(self, old: SessionState, new: SessionState) -> None:
        for listener in list(self._listeners):
            callback = getattr(listener, "state_changed", None)
            if callback is None:
                continue
            try:
                callback(old, new)
            except Exception:
                log.exception("session listener %r failed on state_changed", listener)

    def __repr__(self) -> str:
        return f"<DeviceSession {self.id} {self.state.name} on {self.device.port!r}>"
