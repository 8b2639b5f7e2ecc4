"""``Device``: one board, opened like a file, programmed with marked methods.

``Device`` is a facade. It opens, closes and reconnects the link, runs
``exec``/``eval``, and hands out what other modules own: the class's board
program (:mod:`belayfw.executors.program`), sessions (:mod:`belayfw.session`),
capabilities and board threads. It implements the small public protocols those
parts depend on (``BoardCaller``, ``SessionBoard``, ``MethodRunner``), so none
of them imports this module (see docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from belayfw import reset, scripts
from belayfw.board_class import DeviceMeta
from belayfw.connection import Connection, print_to_stdout
from belayfw.decorators import BoardMethod
from belayfw.deprecation import renamed
from belayfw.discovery import resolve_port
from belayfw.errors import DeviceError, ResourceCleanupError
from belayfw.executors.base import INTERNAL_TIMEOUT, BoardLock
from belayfw.executors.program import BoardProgram
from belayfw.executors.thread import ThreadHandle
from belayfw.fs import BoardFS, SyncProgress, SyncReport
from belayfw.link import BoardLink, still_busy_at_close
from belayfw.output import BoardFrames
from belayfw.protocol import LinkStats
from belayfw.recovery import CircuitBreaker, reconnect_with_backoff
from belayfw.response import OutputSink
from belayfw.session.capabilities import DeviceCapabilities, detect
from belayfw.session.capability_keeper import CapabilityKeeper
from belayfw.session.lifecycle import SessionState
from belayfw.session.manager import SessionManager, default_manager
from belayfw.session.routing import session_for_call
from belayfw.session.session import DeviceSession
from belayfw.source import BoardSource
from belayfw.transports.base import Transport
from belayfw.validation import check_callable, check_instance, check_timeout

if TYPE_CHECKING:
    from belayfw.hardware import VirtualHardware

log = logging.getLogger(__name__)


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
    #: Instance attributes of the API; with the methods, board methods may not use them.
    __device_api__ = frozenset(
        {"port", "timeout", "setup_timeout", "teardown_timeout", "manager", "deployed_bytes"}
    )

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
        transport = check_instance("transport", transport, Transport, "a Transport")
        if port is None and transport is not None:
            port = transport.description
        self.port = resolve_port(port)
        self.timeout = check_timeout("timeout", timeout)
        self.setup_timeout = check_timeout("setup_timeout", setup_timeout)
        self.teardown_timeout = check_timeout("teardown_timeout", teardown_timeout)
        manager = check_instance("manager", manager, SessionManager, "a SessionManager")
        self.manager = manager or default_manager()
        #: Bytes of board code sent by the last open (0 when the board held it all).
        self.deployed_bytes = 0
        self._output = check_callable("output", output, "a function of one str") or print_to_stdout
        self._transport = transport
        self._primary: DeviceSession | None = None
        self._program = BoardProgram(
            self.port,
            self,
            self.__board_methods__,
            self.__board_sources__,
            lambda: session_for_call(self),
        )
        self._board = BoardLink(
            self, lambda: self.manager.sessions_of(self), self._program.map_error
        )
        self._board.reset = self.soft_reset
        options = self.manager.options
        self._breaker = CircuitBreaker(options.reconnect_attempts, options.reconnect_cooldown)
        self._capabilities = CapabilityKeeper(
            self.manager.capabilities,
            use_cache=options.cache_capabilities,
            on_change=lambda capabilities: self.manager.capabilities_changed(self, capabilities),
        )
        self._frames = BoardFrames(self._output, self._program)
        if open:
            self.open()

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> Self:
        """Connect, deploy what the board lacks, run autoinit setups (no-op when open)."""
        with self._board.lock:
            if not self.is_open:
                with self.manager.opening(self, on_failure=self._abandon) as session:
                    self._primary = session
                    self._connect(session, restoring=False)
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
            self._board.connection is not None
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
        with (
            self._board.lock,
            self.manager.reconnecting(self, on_failure=self._abandon) as primary,
        ):
            reconnect_with_backoff(
                self.port,
                self._breaker,
                attempts,
                connect=lambda: self._connect(primary, restoring=True),
                drop=self._abandon,
            )

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
        return self._board.use(lambda link: link.run(code, timeout=self._timeout(timeout)))

    def eval(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate an expression on the board and return its value."""
        return self._board.use(
            lambda link: link.evaluate(expression, timeout=self._timeout(timeout))
        )

    def run_file(self, path: str | os.PathLike[str], timeout: float | None = None) -> None:
        """Run a script file at board global scope (see :func:`belayfw.scripts.run_file`)."""
        scripts.run_file(self, path, timeout)

    def soft_reset(self) -> None:
        """Soft-reset the board, keeping sessions (see :func:`belayfw.reset.soft_reset`)."""
        reset.soft_reset(
            self, self._board, lambda primary: self._make_ready(primary, restoring=True)
        )

    def interrupt(self) -> bool:
        """Interrupt the board code running now (from another host thread).

        Returns False when no board code was running: nothing is sent then,
        since a stray interrupt can reset some boards.
        """
        return self._board.interrupt()

    # -- what other modules own --------------------------------------------------------------

    @property
    def primary_session(self) -> DeviceSession | None:
        """The device's own session: opened with it, ended when it closes.

        A new session on the same device comes from ``manager.new_session(device)``.
        """
        return self._primary

    #: Deprecated name of :attr:`primary_session`.
    session = renamed("primary_session")

    @cached_property
    def fs(self) -> BoardFS:
        """The board's files: list, read, write, transfer, hash (see :mod:`belayfw.fs`)."""
        return BoardFS(self)

    def sync(
        self,
        local_dir: str | os.PathLike[str],
        remote: str = "/",
        *,
        delete: bool = False,
        ignore: list[str] | None = None,
        dry_run: bool = False,
        progress: SyncProgress | None = None,
    ) -> SyncReport:
        """Make board folder ``remote`` match ``local_dir`` (see :meth:`BoardFS.sync`)."""
        return self.fs.sync(
            local_dir, remote, delete=delete, ignore=ignore, dry_run=dry_run, progress=progress
        )

    @property
    def hardware(self) -> VirtualHardware:
        """An emulator board's pins, buses and peripherals (see :mod:`belayfw.hardware`)."""
        from belayfw.hardware import hardware_of  # loaded only by tests that wire hardware

        return hardware_of(self._link.transport)

    @property
    def link_stats(self) -> LinkStats:
        """Bytes sent and received and round trips since the board was opened."""
        return self._link.stats

    @property
    def threads(self) -> list[ThreadHandle]:
        """Handles of the board threads this device's live sessions started."""
        return self._program.threads.handles

    @property
    def capabilities(self) -> DeviceCapabilities:
        """What the board is and can do (detected once per board, then cached)."""
        return self._capabilities.require(self.port)

    def refresh_capabilities(self) -> DeviceCapabilities:
        """Detect the board's capabilities again, update the cache and tell listeners."""
        lasting = self._link.transport.lasting_identity
        detected = self._board.use(lambda link: detect(_internal_call(link), link.board_id))
        self._capabilities.adopt(detected, lasting=lasting)
        return detected

    # -- the board, for executors and sessions (BoardCaller, SessionBoard) -------------------

    def run_board_method(
        self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run one of this class's board methods (what ``device.name(...)`` does)."""
        return self._program.run(method, args, kwargs)

    @property
    def cut_calls(self) -> int:
        """Calls a host Ctrl-C has cut so far: what the board sent then may be lost."""
        return self._board.cut_calls

    def board_call(self, command: str, timeout: float | None = None) -> Any:
        """Run a prepared ``_bfw_c(...)`` command; board errors map to host lines."""
        return self._board.use(lambda link: link.call(command, timeout=timeout))

    def board_error(self, type_name: str, message: str, traceback: str) -> DeviceError:
        """A board exception with its frames mapped to host files and lines."""
        return self._program.board_error(type_name, message, traceback)

    def hold(self) -> BoardLock:
        """Keep every other caller off the board for a sequence of calls."""
        return self._board.lock

    def stop_threads(self, session: DeviceSession) -> list[Exception]:
        """Stop the board threads ``session`` started and confirm it; return the problems."""
        return self._program.stop_threads(session, usable=self._board.usable)

    def run_teardowns(self) -> list[Exception]:
        """Run the teardowns (reverse order), all of them; return the failures."""
        return self._program.run_teardowns(usable=self._board.usable)

    def purge_code(self) -> list[Exception]:
        """Remove this class's methods from the board; return the problem, if any."""
        return self._program.purge(usable=self._board.usable)

    # -- internals ---------------------------------------------------------------------------

    def _connect(self, primary: DeviceSession, *, restoring: bool) -> None:
        """Open a link and make the board ready: code, capabilities, setups (and threads)."""
        transport, self._transport = self._transport, None
        self._board.connect(
            self.port, output=self._output, frames=self._frames, transport=transport
        )
        self._make_ready(primary, restoring=restoring)

    def _make_ready(self, primary: DeviceSession, *, restoring: bool) -> None:
        """Bring the board on the open link up to date: code, capabilities, setups, threads."""
        self.deployed_bytes = self._program.make_ready(
            self._link,
            primary,
            lambda link: self._capabilities.load_from(link, _internal_call(link)),
            restoring=restoring,
        )

    def _shutdown(self) -> list[Exception]:
        primary = self._primary
        if primary is not None:
            primary.closing = True  # from now on no call, retry or reconnect but ours
        self._board.interrupt_other_caller()
        with self._board.taken_for_close() as held:
            try:  # even on Ctrl-C: a close that was asked for closes
                if not held:
                    self.manager.abandon_all(self, gave_up := still_busy_at_close(self.port))
                    return [gave_up]
                if primary is None or primary.state.is_final:
                    return []
                return self.manager.terminate_all(self)
            finally:
                self._abandon()
                self._program.tasks.clear_cache()

    def _abandon(self) -> None:
        self._board.drop()

    @property
    def _link(self) -> Connection:
        return self._board.current

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else check_timeout("timeout", timeout)


def _internal_call(link: Connection) -> Callable[[str], Any]:
    return lambda command: link.call(command, timeout=INTERNAL_TIMEOUT)
