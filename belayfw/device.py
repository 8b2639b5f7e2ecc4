"""``Device``: one board, opened like a file, programmed with marked methods.

Subclass it and mark methods with ``@task``, ``@thread``, ``@setup`` and
``@teardown``: they run on the board. The metaclass collects them (definition
order, through inheritance and mixins, overridable by name) and prepares their
board source once per class. Opening a device opens its primary session,
deploys only what the board does not already hold (by code hash) and runs the
autoinit setups. Closing it ends every session on it: threads stopped and
confirmed, teardowns run, resources cleaned, link closed.

``Device`` is a facade: it opens, closes and reconnects the link, runs
``exec``/``eval``, and hands out what other modules own (sessions, capabilities,
threads). It implements the small public protocols its parts depend on
(:class:`~belayfw.executors.base.BoardCaller`,
:class:`~belayfw.session.session.SessionBoard`,
:class:`~belayfw.decorators.MethodRunner`); none of them imports this module.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
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
    ResourceCleanupError,
    SessionError,
)
from belayfw.executors import SetupExecutor, TaskExecutor, TeardownExecutor, ThreadExecutor
from belayfw.executors.base import INTERNAL_TIMEOUT
from belayfw.executors.thread import ThreadHandle
from belayfw.output import BoardFrames
from belayfw.protocol import LinkStats
from belayfw.recovery import CircuitBreaker, reconnect_with_backoff
from belayfw.response import OutputSink
from belayfw.session.capabilities import DeviceCapabilities, detect
from belayfw.session.capability_keeper import CapabilityKeeper
from belayfw.session.lifecycle import SessionState
from belayfw.session.manager import SessionManager, default_manager
from belayfw.session.routing import not_open, session_for_call
from belayfw.session.session import DeviceSession, maintaining
from belayfw.source import BoardSource
from belayfw.transports.base import Transport

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
    picks one (see :func:`belayfw.discovery.resolve_port`). ``transport`` is an
    already-open byte link to use for the first open instead (a test's
    ``ScriptedTransport``, say); reconnecting opens ``port`` as usual.

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
        transport: Transport | None = None,
        open: bool = True,
    ) -> None:
        if port is None and transport is not None:
            port = transport.description
        self.port = resolve_port(port)
        self.timeout = timeout
        self.setup_timeout = setup_timeout
        self.teardown_timeout = teardown_timeout
        self.manager = manager or default_manager()
        #: Bytes of board code sent by the last open (0 when the board held it all).
        self.deployed_bytes = 0
        self._output = output or print_to_stdout
        self._transport = transport
        self._primary: DeviceSession | None = None
        self._connection: Connection | None = None
        # One lock for calls, opening, closing and reconnecting: a single order, no deadlock.
        self._lock = threading.RLock()
        self._busy_thread: int | None = None
        options = self.manager.options
        self._breaker = CircuitBreaker(options.reconnect_attempts, options.reconnect_cooldown)
        self._capabilities = CapabilityKeeper(
            self.manager.capabilities,
            use_cache=options.cache_capabilities,
            on_change=self._capabilities_changed,
        )
        self._frames = BoardFrames(self._output, self._thread_failed)
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
            stale = self._primary  # left behind by a failed reconnect
            if stale is not None and not stale.state.is_final:
                for problem in self.manager.terminate(stale):
                    log.warning("retiring the previous session of %s: %s", self.port, problem)
            session = self._primary = self.manager.create(self, primary=True)
            try:
                with maintaining(session):
                    self._connect(session, restoring=False)
                session.activate()
            except BaseException as error:
                self._abandon()
                session.fail(error)
                for problem in self.manager.terminate(session):  # nothing ran yet: normally none
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
        session = self._primary
        return (
            self._connection is not None
            and session is not None
            and not session.state.is_final
            and session.state is not SessionState.INITIALIZING
        )

    def reconnect(self, attempts: int = 3) -> None:
        """Reopen the link and bring the board back: redeploy, setups, restartable threads.

        Tries ``attempts`` times with exponential backoff. A circuit breaker
        refuses attempts (``CircuitOpen``) after repeated failures, so a dead
        board is not hammered. Suspended sessions return to ACTIVE.
        """
        with self._lock:
            primary = self._primary
            if primary is None or primary.state.is_final:
                raise SessionError(f"{self.port} is not open; call open()")
            sessions = [s for s in self.manager.sessions_of(self) if not s.state.is_final]
            for session in sessions:
                session.link_lost("reconnecting")
            try:
                with maintaining(primary):
                    reconnect_with_backoff(
                        self.port,
                        self._breaker,
                        attempts,
                        connect=lambda: self._connect(primary, restoring=True),
                        drop=self._abandon,
                    )
            except BaseException as error:
                # Whatever stopped it (the link, the breaker, a setup), nothing is resumed.
                self._abandon()
                for session in sessions:
                    session.fail(error)
                raise
            for session in sessions:
                session.link_restored()

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

    # -- what other modules own --------------------------------------------------------------

    @property
    def primary_session(self) -> DeviceSession | None:
        """The device's own session: opened with it, ended when it closes.

        A new session on the same device comes from ``manager.new_session(device)``.
        """
        return self._primary

    @property
    def session(self) -> DeviceSession | None:
        """Deprecated name of :attr:`primary_session`."""
        warnings.warn(
            "Device.session is now Device.primary_session", DeprecationWarning, stacklevel=2
        )
        return self._primary

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
        current = self._capabilities.current
        if current is None:
            raise DeviceDisconnected(
                f"{self.port} is not open; capabilities are read when it opens"
            )
        return current

    def refresh_capabilities(self) -> DeviceCapabilities:
        """Detect the board's capabilities again, update the cache and tell listeners."""
        lasting = self._link.transport.lasting_identity
        detected = self._use_link(lambda link: detect(_internal_call(link), link.board_id))
        self._capabilities.adopt(detected, lasting=lasting)
        return detected

    # -- the board, for executors and sessions (BoardCaller, SessionBoard) -------------------

    def run_board_method(
        self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run one of this class's board methods (what ``device.name(...)`` does)."""
        kind = method.kind
        if kind is Kind.TASK:
            return self._tasks.call(method, args, kwargs)
        if kind is Kind.THREAD:
            return self._threads.call(method, args, kwargs, session_for_call(self))
        if kind is Kind.SETUP:
            return self._setups.call(method, args, kwargs)
        return self._teardowns.call(method, args, kwargs)

    def board_call(self, command: str, timeout: float | None = None) -> Any:
        """Run a prepared ``_bfw_c(...)`` command; board errors map to host lines."""
        return self._use_link(lambda link: link.call(command, timeout=timeout))

    def board_error(self, type_name: str, message: str, traceback: str) -> DeviceError:
        """A board exception with its frames mapped to host files and lines."""
        mapped = source.map_traceback(traceback, dict(self.__board_sources__))
        return DeviceError(type_name, message, mapped)

    def hold(self) -> AbstractContextManager[object]:
        """Keep every other caller off the board for a sequence of calls."""
        return self._lock

    def stop_threads(self, session: DeviceSession) -> list[Exception]:
        """Stop the board threads ``session`` started and confirm it; return the problems."""
        owned = [h for h in self._threads.handles if h.session is session]
        if not any(handle.state_known_running for handle in owned):
            return []
        if not self._usable():
            return [DeviceDisconnected(f"{self.port}: the link is gone; threads not stopped")]
        timeout = session.options.thread_stop_timeout
        try:
            survivors = self._threads.stop(owned, timeout)
        except BelayError as error:
            return [error]
        return [
            DeviceError(
                "ThreadStillRunning",
                f"board thread {h.name!r} (id {h.id}) did not stop within {timeout:g} s",
            )
            for h in survivors
        ]

    def run_teardowns(self) -> list[Exception]:
        """Run the teardowns (reverse order), all of them; return the failures."""
        teardowns = [m for m in self.__board_methods__.values() if m.kind is Kind.TEARDOWN]
        if not teardowns:
            return []
        if not self._usable():
            return [DeviceDisconnected(f"{self.port}: the link is gone; teardowns did not run")]
        try:
            return list(self._teardowns.run_all(teardowns))
        except BelayError as error:
            return [error]

    def purge_code(self) -> list[Exception]:
        """Remove this class's methods from the board; return the problem, if any."""
        names = list(self.__board_sources__)
        if not names or not self._usable():
            return []
        try:
            self.board_call(f"_bfw_c(_bfw_purge,{codec.encode(names)})", INTERNAL_TIMEOUT)
        except BelayError as error:
            return [error]
        return []

    # -- internals ---------------------------------------------------------------------------

    def _use_link(self, operation: Callable[[Connection], T]) -> T:
        """Run ``operation`` on the link for the current session, serialised with other calls."""
        with self._lock:
            session = session_for_call(self)
            link = self._link
            self._busy_thread = threading.get_ident()
            try:
                with session.calling():
                    return operation(link)
            except DeviceError as error:
                raise self.board_error(
                    error.type_name, error.message, error.board_traceback
                ) from None
            except DeviceDisconnected as error:
                for each in self.manager.sessions_of(self):
                    each.link_lost(str(error.args[0]), error)
                raise
            finally:
                self._busy_thread = None

    def _connect(self, primary: DeviceSession, *, restoring: bool) -> None:
        """Open a link and make the board ready: code, capabilities, setups (and threads)."""
        transport, self._transport = self._transport, None
        link = self._connection = Connection(
            self.port, on_output=self._output, on_frame=self._frames, transport=transport
        )
        board_was_reset = link.runtime_stale
        self.deployed_bytes = deploy_missing(
            link, self.__board_sources__, self.__board_methods__, primary
        )
        # Detection uses the runtime just made sure of.
        lasting = link.transport.lasting_identity
        self._capabilities.load(_internal_call(link), link.board_id, lasting=lasting)
        setups = [method for method in self.__board_methods__.values() if method.kind is Kind.SETUP]
        self._setups.run_autoinit(setups)
        primary.check_health(free_memory=link.free_memory)
        if not restoring:
            return
        primary.record_event(
            f"reconnected; {self.deployed_bytes} bytes of code sent", redeployed=self.deployed_bytes
        )
        if not board_was_reset:
            self._threads.refresh_states()  # a board that kept its RAM kept its threads
        else:
            self._threads.mark_lost()
        for handle in self._threads.restart_marked():
            handle.session.record_event(f"thread {handle.name} restarted", thread=handle.id)

    def _shutdown(self) -> list[Exception]:
        busy = self._busy_thread
        if busy is not None and busy != threading.get_ident():
            self.interrupt()  # a call running in another host thread
        with self._lock:
            primary = self._primary
            if primary is None or primary.state.is_final:
                self._abandon()
                return []
            errors = self.manager.terminate_all(self)
            self._abandon()
            self._tasks.clear_cache()
        return errors

    def _abandon(self) -> None:
        """Drop the link without talking to the board any more."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _usable(self) -> bool:
        connection = self._connection
        return connection is not None and connection.usable

    def _thread_failed(self, thread_id: int, type_name: str, message: str, tb: str) -> None:
        self._threads.on_failure(thread_id, self.board_error(type_name, message, tb))

    def _capabilities_changed(self, capabilities: DeviceCapabilities) -> None:
        for session in self.manager.sessions_of(self):
            session.capabilities_changed(capabilities)

    @property
    def _link(self) -> Connection:
        connection = self._connection
        if connection is None:
            raise not_open(self)
        return connection

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout


def _internal_call(link: Connection) -> Callable[[str], Any]:
    return lambda command: link.call(command, timeout=INTERNAL_TIMEOUT)


_RESERVED_NAMES = frozenset(name for name in vars(Device) if not name.startswith("__")) | {
    "port",
    "timeout",
    "setup_timeout",
    "teardown_timeout",
    "manager",
    "deployed_bytes",
}
