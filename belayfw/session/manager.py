"""``SessionManager``: creates, tracks, limits and ends sessions.

Every ``Device`` opens its own (primary) session through a manager: the
module's default one unless you pass ``manager=``. ``with
manager.new_session(dev) as s:`` adds a session on the same device. Calls made
inside the block belong to ``s`` (a context variable, so each host thread and
asyncio task sees its own), and so do the threads and resources they start;
ending ``s`` cleans those up and leaves the device's other sessions alone.

Ending goes one way: :meth:`SessionManager.end` for a user, and
:meth:`SessionManager.terminate` / :meth:`SessionManager.terminate_all` for the
device while it closes; all three run the session's own ending steps and then
forget it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

from belayfw.deprecation import renamed
from belayfw.errors import (
    ArgumentTypeError,
    BelayError,
    ResourceCleanupError,
    SessionError,
    SessionLimitExceeded,
)
from belayfw.session.capabilities import CapabilityCache, DeviceCapabilities
from belayfw.session.lifecycle import SessionState
from belayfw.session.options import SessionOptions
from belayfw.session.routing import closed, is_closing
from belayfw.session.session import (
    DeviceSession,
    SessionBoard,
    current_session_var,
    maintaining,
    maintaining_var,
)
from belayfw.session.shutdown import close_at_exit

log = logging.getLogger(__name__)

#: Former name of :func:`belayfw.session.session.maintaining`.
cleanup_for = maintaining

__all__ = [
    "SessionManager",
    "SessionStats",
    "cleanup_for",
    "current_session",
    "current_session_var",
    "default_manager",
    "maintaining",
    "maintaining_var",
]


def current_session() -> DeviceSession | None:
    """The session the current host thread or task is working in, if any."""
    return current_session_var.get()


class SessionStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    active: int
    total: int
    max: int


class SessionManager:
    """Coordinates sessions; ``max_concurrent_sessions`` is enforced across all devices."""

    def __init__(self, options: SessionOptions | None = None, **option_values: Any) -> None:
        if options is not None and option_values:
            raise ArgumentTypeError("pass SessionOptions or keyword options, not both")
        if options is not None and not isinstance(options, SessionOptions):
            raise ArgumentTypeError(
                f"options must be SessionOptions or None, not {type(options).__name__}; "
                "or pass the options as keywords, e.g. SessionManager(max_concurrent_sessions=8)"
            )
        self.options = options or SessionOptions(**option_values)
        self.capabilities = CapabilityCache(self.options.capability_cache)
        self._sessions: dict[str, DeviceSession] = {}
        self._total = 0
        self._lock = threading.Lock()
        self._reaper_wake = threading.Condition(self._lock)
        self._reaper: threading.Thread | None = None

    # -- creating ----------------------------------------------------------------------

    def create(self, device: SessionBoard, *, primary: bool = False) -> DeviceSession:
        """Register a new session on ``device`` (INITIALIZING); refuses past the limit."""
        if device.manager is not self:
            raise SessionError(
                f"{device.port} belongs to another SessionManager; pass manager= when creating "
                "the device so that one manager sees all of its sessions"
            )
        with self._lock:
            live = [s for s in self._sessions.values() if not s.state.is_final]
            if len(live) >= self.options.max_concurrent_sessions:
                raise SessionLimitExceeded(
                    f"{len(live)} sessions are open, the limit is "
                    f"{self.options.max_concurrent_sessions} (max_concurrent_sessions)",
                    recoverable=True,
                )
            session = DeviceSession(device, self, self.options, primary=primary)
            self._sessions[session.id] = session
            self._total += 1
            self._reaper_wake.notify_all()
        self._start_reaper()
        return session

    @contextmanager
    def new_session(self, device: SessionBoard) -> Iterator[DeviceSession]:
        """A new session on ``device`` for the block; always ended (and cleaned) after it.

        Opens the device if it is not open, and closes it again afterwards in
        that case. (The device's own session is ``device.primary_session``.)
        """
        opened_here = not device.is_open
        if opened_here:
            device.open()
        try:
            session = self.create(device)
            session.activate()
            with session.use():
                try:
                    yield session
                except BaseException as body_error:
                    self._end_after(session, body_error)
                    raise
            if not session.state.is_final:  # it may have been ended inside the block
                self.end(session)
        finally:
            if opened_here:
                device.close()

    #: Deprecated name of :meth:`new_session`.
    session = renamed("new_session")

    @contextmanager
    def opening(
        self, device: SessionBoard, *, on_failure: Callable[[], None]
    ) -> Iterator[DeviceSession]:
        """A device's new primary session, ACTIVE once the block has readied the board.

        A primary session a failed reconnect left behind is ended first. If the
        block fails, ``on_failure`` drops the link and the session is ended.
        """
        stale = device.primary_session
        if stale is not None and not stale.state.is_final:
            for problem in self.terminate(stale):
                log.warning("retiring the previous session of %s: %s", device.port, problem)
        session = self.create(device, primary=True)
        try:
            with maintaining(session):
                yield session
            session.activate()
            close_at_exit(device)
        except BaseException as error:
            on_failure()
            session.fail(error)
            for problem in self.terminate(session):  # nothing ran yet: normally none
                error.add_note(f"belayfw: while giving up the session: {problem}")
            raise

    @contextmanager
    def reconnecting(
        self, device: SessionBoard, *, on_failure: Callable[[], None]
    ) -> Iterator[DeviceSession]:
        """The device's live sessions wait (SUSPENDED) while the block brings the board back.

        They return to ACTIVE after it; if it fails, ``on_failure`` drops the
        link and they move to ERROR, whatever stopped it. A device whose
        ``close()`` began is never brought back (``DeviceClosed``).
        """
        if is_closing(device):
            raise closed(device)
        primary = device.primary_session
        if primary is None or primary.state.is_final:
            raise SessionError(f"{device.port} is not open; call open()")
        sessions = [s for s in self.sessions_of(device) if not s.state.is_final]
        for session in sessions:
            session.link_lost("reconnecting")
        try:
            with maintaining(primary):
                yield primary
        except BaseException as error:
            on_failure()
            for session in sessions:
                session.fail(error)
            raise
        for session in sessions:
            session.link_restored()

    def get_or_create(self, device: SessionBoard) -> DeviceSession:
        """The session current calls on ``device`` belong to, opening the device if needed."""
        session = current_session_var.get()
        if session is not None and session.device is device and not session.state.is_final:
            return session
        if not device.is_open:
            device.open()
        primary = device.primary_session
        assert primary is not None
        return primary

    # -- ending ------------------------------------------------------------------------

    def end(self, session: DeviceSession | str) -> None:
        """End a session (or session id): its threads stop, its resources are cleaned.

        Ending a device's primary session closes the device. Every cleanup
        failure is raised together as one :class:`ResourceCleanupError`.
        """
        session_id = session if isinstance(session, str) else session.id
        found = self.get(session_id)
        if found is None:
            raise SessionError(f"no session {session_id!r} in this manager")
        if found.primary and found.device.primary_session is found:
            try:
                found.device.close()  # ends every session on the device, this one last
            finally:
                self._forget(found)
            return
        session = found
        problems = self.terminate(session)
        if problems:
            raise ResourceCleanupError(
                f"ending session {session.id} left {len(problems)} problem(s)", problems
            )

    def terminate(self, session: DeviceSession) -> list[Exception]:
        """End exactly ``session`` and forget it; return its problems instead of raising.

        For a closing device, which carries on past each problem.
        """
        try:
            return session.terminate()
        except BelayError as error:
            return [error]
        finally:
            self._forget(session)

    def terminate_all(self, device: SessionBoard) -> list[Exception]:
        """End every session on ``device``, its primary session last; return the problems."""
        problems: list[Exception] = []
        primary = device.primary_session
        try:
            for session in self.sessions_of(device):
                if session is not primary and not session.state.is_final:
                    problems.extend(self.terminate(session))
            if primary is not None:
                problems.extend(self.terminate(primary))
        except BaseException as interrupt:
            # Ctrl-C while closing: the device closes anyway, so its other
            # sessions end too (uncleaned) instead of staying counted as live.
            self.abandon_all(device, interrupt)
            raise
        return problems

    def abandon_all(self, device: SessionBoard, error: BaseException) -> None:
        """End every session on ``device`` at once, uncleaned (close() could not get the board)."""
        for session in self.sessions_of(device):
            session.abandon(error)
            self._forget(session)

    def _end_after(self, session: DeviceSession, body_error: BaseException) -> None:
        """End the block's session without hiding the error that ended the block."""
        if session.state.is_final:
            return
        try:
            self.end(session)
        except BelayError as cleanup:
            body_error.add_note(f"belayfw: ending session {session.id}: {cleanup}")
            log.error("ending session %s after an error: %s", session.id, cleanup)

    def _forget(self, session: DeviceSession) -> None:
        if session.state.is_final:
            with self._lock:
                self._sessions.pop(session.id, None)

    def capabilities_changed(self, device: SessionBoard, capabilities: DeviceCapabilities) -> None:
        """Tell every session on ``device`` (and their listeners) its board changed."""
        for session in self.sessions_of(device):
            session.capabilities_changed(capabilities)

    # -- looking ------------------------------------------------------------------------

    def stats(self) -> SessionStats:
        with self._lock:
            active = sum(1 for s in self._sessions.values() if s.state is SessionState.ACTIVE)
            return SessionStats(
                active=active, total=self._total, max=self.options.max_concurrent_sessions
            )

    @property
    def sessions(self) -> list[DeviceSession]:
        with self._lock:
            return list(self._sessions.values())

    def sessions_of(self, device: SessionBoard) -> list[DeviceSession]:
        with self._lock:
            return [s for s in self._sessions.values() if s.device is device]

    def get(self, session_id: str) -> DeviceSession | None:
        with self._lock:
            return self._sessions.get(session_id)

    # -- idle sessions ------------------------------------------------------------------

    def _start_reaper(self) -> None:
        if self.options.default_session_timeout is None or self._reaper is not None:
            return
        with self._lock:
            if self._reaper is None:
                self._reaper = threading.Thread(
                    target=self._reap, name="belayfw-session-reaper", daemon=True
                )
                self._reaper.start()

    def _reap(self) -> None:
        """End sessions idle longer than ``default_session_timeout``, waking at each deadline."""
        timeout = self.options.default_session_timeout
        assert timeout is not None
        while True:
            with self._lock:
                live = [s for s in self._sessions.values() if s.state in _REAPABLE]
                last_use = _last_use(live)
                now = time.monotonic()
                expired = [s for s in live if now - last_use[s.id] >= timeout]
                if not expired:
                    waits = [last_use[s.id] + timeout - now for s in live]
                    # Sessions still opening have no deadline yet: look again in a while.
                    self._reaper_wake.wait(min(waits, default=timeout))
                    continue
            # Non-primary sessions first: ending a primary closes its device, which
            # ends that device's other sessions too.
            for session in sorted(expired, key=lambda s: s.primary):
                fresh = _last_use([s for s in self.sessions if s.state in _REAPABLE])
                idle = time.monotonic() - fresh.get(session.id, time.monotonic())
                if session.state.is_final or idle < timeout:
                    continue  # ended with its device, or used again meanwhile
                session.record_event(f"ended after {idle:.1f} s idle", reason="idle")
                try:
                    self.end(session)
                except Exception:
                    log.exception("ending idle session %s failed", session.id)


def _last_use(sessions: list[DeviceSession]) -> dict[str, float]:
    """When each session was last used; a primary session counts its device's others too,
    so a device stays open while any of its sessions is in use. A session in the
    middle of a call is in use now."""
    now = time.monotonic()
    latest: dict[int, float] = {}
    for session in sessions:
        if session.busy:
            session.last_activity = now
        key = id(session.device)
        latest[key] = max(latest.get(key, session.last_activity), session.last_activity)
    return {
        session.id: latest[id(session.device)] if session.primary else session.last_activity
        for session in sessions
    }


_REAPABLE = frozenset({SessionState.ACTIVE, SessionState.SUSPENDED})

_default_manager: SessionManager | None = None
_default_lock = threading.Lock()


def default_manager() -> SessionManager:
    """The manager devices use when none is given."""
    global _default_manager
    with _default_lock:
        if _default_manager is None:
            _default_manager = SessionManager()
        return _default_manager
