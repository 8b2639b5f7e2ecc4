"""``Device``: one board, opened like a file, programmed with marked methods.

Subclass it and mark methods with ``@task``, ``@thread``, ``@setup`` and
``@teardown``: they run on the board. The metaclass collects them (definition
order, through inheritance and mixins, overridable by name) and prepares their
board source once per class. Opening a device opens its primary session,
deploys only what the board does not already hold (by code hash) and runs the
autoinit setups. Closing it ends every session on it: threads stopped and
confirmed, teardowns run, resources cleaned, link closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Self, TypeVar

from belayfw import codec, source
from belayfw.connection import Connection, print_to_stdout
from belayfw.decorators import BoardMethod, Kind
from belayfw.deploy import deploy_missing
from belayfw.discovery import resolve_port
from belayfw.errors import (
    BelayError,
    DeviceDisconnected,
    DeviceError,
    ProtocolError,
    ResourceCleanupError,
    SessionError,
)
from belayfw.executors import SetupExecutor, TaskExecutor, TeardownExecutor, ThreadExecutor
from belayfw.executors.base import INTERNAL_TIMEOUT
from belayfw.executors.thread import ThreadHandle
from belayfw.protocol import LinkStats
from belayfw.recovery import CircuitBreaker, backoff_delay
from belayfw.response import OutputSink
from belayfw.session.capabilities import DeviceCapabilities, detect
from belayfw.session.health import check_limits
from belayfw.session.lifecycle import SessionState
from belayfw.session.manager import (
    SessionManager,
    cleanup_for,
    current_session_var,
    default_manager,
    maintaining_var,
)
from belayfw.session.session import DeviceSession
from belayfw.source import BoardSource

log = logging.getLogger(__name__)

T = TypeVar("T")


class DeviceMeta(type):
    """Collects a class's board methods and builds their board source at definition time."""

    __board_methods__: Mapping[str, BoardMethod]
    __board_sources__: Mapping[str, BoardSource]

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> DeviceMeta:
        minify = kwargs.pop("minify", None)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if minify is None:
            minify = getattr(cls, "__minify__", False)
        cls.__minify__ = bool(minify)  # type: ignore[attr-defined]
        methods: dict[str, BoardMethod] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                if isinstance(value, BoardMethod):
                    methods[attribute] = value  # an override keeps the original position
                elif attribute in methods:
                    del methods[attribute]  # overridden by a plain host attribute
        reserved = _RESERVED_NAMES.intersection(methods) if methods else set()
        if reserved:
            raise ValueError(
                f"{name}: board method name(s) {sorted(reserved)} would hide Device's own API"
            )
        cls.__board_methods__ = MappingProxyType(methods)
        cls.__board_sources__ = MappingProxyType(
            {
                attribute: _board_source(method, attribute, bool(minify))
                for attribute, method in methods.items()
            }
        )
        return cls


def _board_source(method: BoardMethod, name: str, minify: bool) -> BoardSource:
    return source.extract(
        method.function,
        name,
        body_only=method.kind is Kind.SETUP,
        instrument_thread=method.kind is Kind.THREAD,
        minify=minify,
    )


class Device(metaclass=DeviceMeta):
    """A MicroPython board.

    ``Device(port)`` opens the board at once (pass ``open=False`` to defer);
    use it as a context manager, or call :meth:`close`. ``port`` is a serial
    device (``/dev/ttyACM0``, ``COM3``), a pyserial URL (``socket://host:port``,
    ``rfc2217://host:port``), ``emulator`` or ``emulator:<profile>``; ``None``
    picks one (see :func:`belayfw.discovery.resolve_port`).

    Board output that is not a result (prints from tasks and board threads) goes
    to ``output``: a callable taking text, or the host's stdout by default.
    ``timeout`` is the default timeout, in seconds, of ``exec`` and ``eval``;
    ``setup_timeout`` and ``teardown_timeout`` bound the setups run at open
    and the teardowns run at close, so neither can hang. Sessions come from
    ``manager`` (the module's default manager when None).
    """

    __board_methods__: ClassVar[Mapping[str, BoardMethod]]
    __board_sources__: ClassVar[Mapping[str, BoardSource]]

    def __init__(
        self,
        port: str | None = None,
        *,
        output: OutputSink | None = None,
        timeout: float | None = None,
        setup_timeout: float | None = 30.0,
        teardown_timeout: float = 10.0,
        manager: SessionManager | None = None,
        open: bool = True,
    ) -> None:
        self.port = resolve_port(port)
        self.timeout = timeout
        self.setup_timeout = setup_timeout
        self.teardown_timeout = teardown_timeout
        self.manager = manager or default_manager()
        #: The device's primary session: opened with the device, ended when it closes.
        self.session: DeviceSession | None = None
        #: Bytes of board code sent by the last open (0 when the board held it all).
        self.deployed_bytes = 0
        self._output = output or print_to_stdout
        self._connection: Connection | None = None
        self._capabilities: DeviceCapabilities | None = None
        # One lock for calls, opening, closing and reconnecting: a single order, no deadlock.
        self._lock = threading.RLock()
        self._busy_thread: int | None = None
        options = self.manager.options
        self._breaker = CircuitBreaker(options.reconnect_attempts, options.reconnect_cooldown)
        self._line_start: dict[str, bool] = {}
        self._tasks = TaskExecutor(self)
        self._threads = ThreadExecutor(self)
        self._setups = SetupExecutor(self)
        self._teardowns = TeardownExecutor(self)
        if open:
            self.open()

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> Self:
        """Connect, deploy what the board lacks, run autoinit setups (no-op when open)."""
        with self._lock:
            if self.is_open:
                return self
            self._retire_primary()
            session = self.manager.create(self, primary=True)
            self.session = session
            try:
                with cleanup_for(session):
                    self._connect(session, restoring=False)
                session._activate()
            except BaseException as error:
                self._abandon()
                session._fail(error)
                for problem in _terminate(session):  # nothing ran yet: normally no problems
                    error.add_note(f"belayfw: while giving up the session: {problem}")
                raise
        return self

    def close(self) -> None:
        """End every session on this device and disconnect.

        Board threads the sessions started are stopped and confirmed dead,
        teardowns run (reverse order), registered resources are cleaned (newest
        first), then the link closes. Every step runs even when an earlier one
        fails; the failures are raised together as one
        :class:`ResourceCleanupError`. A call running in another host thread is
        interrupted first.
        """
        errors = self._shutdown()
        if errors:
            raise ResourceCleanupError(f"closing {self.port} left {len(errors)} problem(s)", errors)

    @property
    def is_open(self) -> bool:
        session = self.session
        return (
            self._connection is not None
            and session is not None
            and not session.state.is_final
            and session.state is not SessionState.INITIALIZING
        )

    def _retire_primary(self) -> None:
        """End a primary session left behind by a failed reconnect before opening anew."""
        stale = self.session
        if stale is not None and not stale.state.is_final:
            for problem in _terminate(stale):
                log.warning("retiring the previous session of %s: %s", self.port, problem)

    def reconnect(self, attempts: int = 3) -> None:
        """Reopen the link and bring the board back: redeploy, setups, restartable threads.

        Tries ``attempts`` times with exponential backoff. A circuit breaker
        refuses attempts (``CircuitOpen``) after repeated failures, so a dead
        board is not hammered. Suspended sessions return to ACTIVE.
        """
        with self._lock:
            primary = self.session
            if primary is None or primary.state.is_final:
                raise SessionError(f"{self.port} is not open; call open()")
            sessions = [s for s in self.manager.sessions_of(self) if not s.state.is_final]
            for session in sessions:
                if session.state is SessionState.ACTIVE:
                    session._suspend("link", "reconnecting")
            try:
                with cleanup_for(primary):
                    self._reconnect_attempts(primary, attempts)
            except BaseException as error:
                # Whatever stopped it (the link, the breaker, a setup), nothing is resumed.
                self._abandon()
                for session in sessions:
                    session._fail(error)
                raise
            for session in sessions:
                session._resume_after_reconnect()

    def _reconnect_attempts(self, primary: DeviceSession, attempts: int) -> None:
        last: BelayError | None = None
        for attempt in range(attempts):
            self._breaker.before_attempt(self.port)
            self._abandon()
            try:
                self._connect(primary, restoring=True)
            except (DeviceDisconnected, ProtocolError) as error:
                self._breaker.failed()
                self._abandon()
                last = error
                if attempt + 1 < attempts:
                    threading.Event().wait(backoff_delay(attempt))
                continue
            self._breaker.succeeded()
            return
        assert last is not None
        raise DeviceDisconnected(
            f"could not reconnect to {self.port} after {attempts} attempt(s): {last.args[0]}"
        ) from last

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Clean up fully, but let the error from the with-body be the one raised.
        for error in self._shutdown():
            log.error("while closing %s after an error: %s", self.port, error)
            exc.add_note(f"belayfw: while closing {self.port}: {type(error).__name__}: {error}")

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<{type(self).__name__} {self.port!r} {state}>"

    # -- running code ------------------------------------------------------------------------

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run statements on the board at global scope; return what they printed."""
        return self._use_link(lambda link: link.run(code, timeout=self._timeout(timeout)))

    def eval(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate an expression on the board and return its value."""
        return self._use_link(
            lambda link: link.evaluate(expression, timeout=self._timeout(timeout))
        )

    def interrupt(self) -> bool:
        """Interrupt the board code running now (from another host thread).

        Returns False when no board code was running: nothing is sent then,
        since a stray interrupt can reset some boards.
        """
        connection = self._connection
        return connection.interrupt() if connection is not None else False

    @property
    def link_stats(self) -> LinkStats:
        """Bytes sent and received and round trips since the board was opened."""
        return self._link.stats

    @property
    def threads(self) -> list[ThreadHandle]:
        """Handles of every board thread this device started."""
        return self._threads.handles

    @property
    def capabilities(self) -> DeviceCapabilities:
        """What the board is and can do (detected once per board, then cached)."""
        if self._capabilities is None:
            raise DeviceDisconnected(
                f"{self.port} is not open; capabilities are read when it opens"
            )
        return self._capabilities

    def refresh_capabilities(self) -> DeviceCapabilities:
        """Detect the board's capabilities again, update the cache and tell listeners."""
        link = self._link
        detected = self._use_link(lambda link: detect(self._internal_call(link), link.board_id))
        self.manager.capabilities.put(detected, persistent=_lasting_identity(link))
        self._set_capabilities(detected)
        return detected

    # -- board methods ------------------------------------------------------------------------

    def _run_board_method(
        self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        kind = method.kind
        if kind is Kind.TASK:
            return self._tasks.call(method, args, kwargs)
        if kind is Kind.THREAD:
            return self._threads.call(method, args, kwargs, self._session_for_call())
        if kind is Kind.SETUP:
            return self._setups.call(method, args, kwargs)
        return self._teardowns.call(method, args, kwargs)

    def _call(self, command: str, timeout: float | None = None) -> Any:
        """Run a prepared board command; board errors come back mapped to host lines."""
        return self._use_link(lambda link: link.call(command, timeout=timeout))

    def _use_link(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` on the link for the current session, serialised with other calls."""
        with self._lock:
            session = self._session_for_call()
            link = self._link
            self._busy_thread = threading.get_ident()
            session._busy_calls += 1
            try:
                return operation(link)
            except DeviceError as error:
                raise self._board_error(
                    error.type_name, error.message, error.board_traceback
                ) from None
            except DeviceDisconnected as error:
                self._link_lost(error)
                raise
            finally:
                self._busy_thread = None
                session._busy_calls -= 1
                session.last_activity = time.monotonic()

    def _board_error(self, type_name: str, message: str, traceback: str) -> DeviceError:
        """A board exception with its frames mapped to host files and lines."""
        mapped = source.map_traceback(traceback, dict(self.__board_sources__))
        return DeviceError(type_name, message, mapped)

    def _session_for_call(self) -> DeviceSession:
        """The session a call belongs to (the context's, else this device's); refuse if unusable."""
        session = current_session_var.get()
        if session is None or session.device is not self:
            session = self.session
            if session is None:
                raise self._not_open()
        if session.state is not SessionState.ACTIVE and maintaining_var.get() is not session:
            # Only belayfw's own opening, ending or recovery of a session may use it then.
            raise self._refusal(session)
        session.last_activity = time.monotonic()
        return session

    def _refusal(self, session: DeviceSession) -> BelayError:
        state = session.state
        if state is SessionState.SUSPENDED and session.suspended_by == "link":
            return DeviceDisconnected(
                f"{self.port}: the link was lost; call reconnect() or session.resume()"
            )
        if state is SessionState.SUSPENDED:
            return SessionError(
                f"session {session.id} is suspended; call resume()", recoverable=True
            )
        if state is SessionState.ERROR:
            return SessionError(
                f"session {session.id} is in ERROR (see its events); call reconnect()",
                recoverable=True,
            )
        if session is self.session:
            return self._not_open()
        return SessionError(f"session {session.id} has ended")

    def _not_open(self) -> DeviceDisconnected:
        return DeviceDisconnected(
            f"{self.port} is not open; use `with {type(self).__name__}(...)` or call open()"
        )

    # -- opening and restoring -------------------------------------------------------------

    def _connect(self, primary: DeviceSession, *, restoring: bool) -> None:
        """Open a link and make the board ready: capabilities, code, setups (and threads)."""
        self._connection = Connection(
            self.port, on_output=self._output, on_frame=self._on_board_frame
        )
        link = self._connection
        board_was_reset = link.runtime_stale
        self.deployed_bytes = deploy_missing(
            link, self.__board_sources__, self.__board_methods__, primary
        )
        self._load_capabilities(link)  # detection uses the runtime just made sure of
        setups = [method for method in self.__board_methods__.values() if method.kind is Kind.SETUP]
        self._setups.run_autoinit(setups)
        checks = check_limits(
            primary.options.limits,
            threads=len(primary.resources.threads),
            deployed_bytes=primary.resources.deployed_bytes,
            free_memory=link.free_memory,
        )
        primary._apply_checks(checks)
        if restoring:
            self._after_reconnect(primary, board_was_reset)

    def _after_reconnect(self, primary: DeviceSession, board_was_reset: bool) -> None:
        primary.record_event(
            f"reconnected; {self.deployed_bytes} bytes of code sent", redeployed=self.deployed_bytes
        )
        if not board_was_reset:
            self._threads.refresh_states()  # a board that kept its RAM kept its threads
        else:
            self._threads.mark_lost()
        for handle in self._threads.restart_marked():
            handle.session.record_event(f"thread {handle.name} restarted", thread=handle.id)

    def _load_capabilities(self, link: Connection) -> None:
        cache = self.manager.capabilities
        options = self.manager.options
        board_id = link.board_id
        found = cache.get(board_id) if board_id and options.cache_capabilities else None
        if found is None:
            found = detect(self._internal_call(link), board_id)
            cache.put(found, persistent=_lasting_identity(link))
        self._set_capabilities(found)

    def _set_capabilities(self, capabilities: DeviceCapabilities) -> None:
        previous, self._capabilities = self._capabilities, capabilities
        if previous is None or _comparable(previous) != _comparable(capabilities):
            for session in self.manager.sessions_of(self):
                session._capabilities_changed(capabilities)

    @staticmethod
    def _internal_call(link: Connection) -> Callable[[str], Any]:
        return lambda command: link.call(command, timeout=INTERNAL_TIMEOUT)

    def _link_lost(self, error: DeviceDisconnected) -> None:
        for session in self.manager.sessions_of(self):
            if session.state is SessionState.ACTIVE:
                session._record_error(error)
                session._suspend("link", str(error.args[0]))

    # -- closing ---------------------------------------------------------------------------

    def _shutdown(self) -> list[Exception]:
        self._interrupt_other_callers()
        errors: list[Exception] = []
        with self._lock:
            primary = self.session
            if primary is None or primary.state.is_final:
                self._abandon()
                return errors
            for session in self.manager.sessions_of(self):
                if session is not primary and not session.state.is_final:
                    errors.extend(_terminate(session))
            errors.extend(_terminate(primary))
            self._abandon()
            self._tasks.clear_cache()
        return errors

    def _interrupt_other_callers(self) -> None:
        busy = self._busy_thread
        if busy is not None and busy != threading.get_ident():
            self.interrupt()

    def _stop_session_work(self, session: DeviceSession) -> list[Exception]:
        """Stop the session's threads and, for the primary session, run the teardowns."""
        errors: list[Exception] = []
        link = self._connection
        teardowns = [m for m in self.__board_methods__.values() if m.kind is Kind.TEARDOWN]
        owned = [handle for handle in self._threads.handles if handle.session is session]
        has_work = bool([h for h in owned if h.state_known_running]) or (
            session.primary and teardowns
        )
        if link is None or not link.usable:
            if has_work:
                errors.append(
                    DeviceDisconnected(
                        f"{self.port}: the link is gone, so threads could not be stopped "
                        "and teardowns could not run"
                    )
                )
            return errors
        try:
            for handle in self._threads.stop_session(session, session.options.thread_stop_timeout):
                errors.append(
                    DeviceError(
                        "ThreadStillRunning",
                        f"board thread {handle.name!r} (id {handle.id}) did not stop within "
                        f"{session.options.thread_stop_timeout:g} s",
                    )
                )
        except BelayError as error:
            errors.append(error)
        if session.primary and teardowns:
            try:
                errors.extend(self._teardowns.run_all(teardowns))
            except BelayError as error:
                errors.append(error)
        return errors

    def _release_session_code(self, session: DeviceSession) -> list[Exception]:
        """With ``purge_on_end``, remove the primary session's code from the board."""
        if not (session.primary and session.options.purge_on_end):
            return []
        link = self._connection
        names = list(self.__board_sources__)
        if link is None or not link.usable or not names:
            return []
        try:
            self._call(f"_bfw_c(_bfw_purge,{codec.encode(names)})", INTERNAL_TIMEOUT)
        except BelayError as error:
            return [error]
        session.resources.forget_methods()
        return []

    def _abandon(self) -> None:
        """Drop the link without talking to the board any more."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    # -- board output ---------------------------------------------------------------------------

    def _on_board_frame(self, tag: str, payload: bytes) -> None:
        if tag == "o":
            name, _, text = payload.decode("utf-8", "replace").partition("\x1f")
            self._output(self._prefixed(name, text))
        elif tag == "x":
            thread_id, type_name, message, traceback = codec.decode_repr(
                payload.decode("utf-8", "replace")
            )
            self._threads.on_failure(thread_id, self._board_error(type_name, message, traceback))
        else:
            log.debug("unknown board frame %r", tag)

    def _prefixed(self, name: str, text: str) -> str:
        """Prefix each line a board thread prints with its name: ``[blink] tick``."""
        prefix = f"[{name}] "
        at_start = self._line_start.get(name, True)
        lines = text.split("\n")
        pieces = []
        for index, line in enumerate(lines):
            last = index == len(lines) - 1
            if line or not last:
                head = prefix if (at_start or index) else ""
                pieces.append(head + line + ("" if last else "\n"))
        self._line_start[name] = text.endswith("\n")
        return "".join(pieces)

    # -- internals ---------------------------------------------------------------------------

    @property
    def _link(self) -> Connection:
        connection = self._connection
        if connection is None:
            raise self._not_open()
        return connection

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout


def _terminate(session: DeviceSession) -> list[Exception]:
    """End ``session``; return its problems instead of raising (closing carries on)."""
    try:
        session._terminate()
    except ResourceCleanupError as group:
        return list(group.exceptions)
    except BelayError as error:
        return [error]
    finally:
        session.manager._forget(session)
    return []


def _lasting_identity(link: Connection) -> bool:
    """False for boards whose id dies with them (each emulator process)."""
    return bool(getattr(link.transport, "lasting_identity", True))


def _comparable(capabilities: DeviceCapabilities) -> dict[str, Any]:
    return capabilities.model_dump(exclude={"detected_at", "performance", "mem_free", "mem_alloc"})


_RESERVED_NAMES = frozenset(name for name in vars(Device) if not name.startswith("__")) | {
    "port",
    "timeout",
    "setup_timeout",
    "teardown_timeout",
    "manager",
    "session",
    "deployed_bytes",
}
