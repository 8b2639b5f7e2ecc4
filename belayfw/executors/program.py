"""A device class's board program on one board: its code and the four executors.

``Device`` hands its board methods to a :class:`BoardProgram`: it sends the
code the board lacks, runs each kind of method through its executor, and does
the board work sessions ask for when they end (stop threads, run teardowns,
purge the code). It talks to the board only through a
:class:`~belayfw.executors.base.BoardCaller`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from belayfw import codec, source
from belayfw.connection import Connection
from belayfw.decorators import BoardMethod, Kind
from belayfw.deploy import deploy_missing
from belayfw.emit_use import explain_missing_emit
from belayfw.errors import BelayError, DeviceDisconnected, DeviceError
from belayfw.executors.base import INTERNAL_TIMEOUT, BoardCaller
from belayfw.executors.setup import SetupExecutor
from belayfw.executors.task import TaskExecutor
from belayfw.executors.teardown import TeardownExecutor
from belayfw.executors.thread import ThreadExecutor, ThreadHandle
from belayfw.source import BoardSource

if TYPE_CHECKING:
    from belayfw.session.session import DeviceSession


class BoardProgram:
    """Runs one device's board methods; ``session_for_call`` names a new thread's session."""

    def __init__(
        self,
        port: str,
        caller: BoardCaller,
        methods: Mapping[str, BoardMethod],
        sources: Mapping[str, BoardSource],
        session_for_call: Callable[[], DeviceSession],
    ) -> None:
        self.port = port
        self.methods = methods
        self.sources = sources
        self._caller = caller
        self._session_for_call = session_for_call
        self.tasks = TaskExecutor(caller)
        self.threads = ThreadExecutor(caller)
        self.setups = SetupExecutor(caller)
        self.teardowns = TeardownExecutor(caller)

    def run(self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one board method through the executor of its kind."""
        kind = method.kind
        if kind is Kind.TASK:
            return self.tasks.call(method, args, kwargs)
        if kind is Kind.THREAD:
            return self.threads.call(method, args, kwargs, self._session_for_call())
        if kind is Kind.SETUP:
            return self.setups.call(method, args, kwargs)
        return self.teardowns.call(method, args, kwargs)

    def make_ready(
        self,
        link: Connection,
        primary: DeviceSession,
        load_capabilities: Callable[[Connection], object],
        *,
        restoring: bool,
    ) -> int:
        """Bring the board on ``link`` up to date; returns the bytes of code sent.

        Sends the code the board lacks (recorded in ``primary``), loads the
        capabilities (with the runtime just made sure of), runs the autoinit
        setups and checks the session's limits. ``restoring`` (after a reconnect
        or reset) also drops cached results and brings the threads back.
        """
        board_was_reset = link.runtime_stale
        if restoring:
            self.tasks.clear_cache()  # cached results may describe a board now reset
        sent = deploy_missing(link, self.sources, self.methods, primary)
        load_capabilities(link)
        self.setups.run_autoinit(self._of_kind(Kind.SETUP))
        primary.check_health(free_memory=link.free_memory)
        if restoring:
            primary.record_event(f"reconnected; {sent} bytes of code sent", redeployed=sent)
            for handle in self._restore_threads(board_was_reset):
                handle.session.record_event(f"thread {handle.name} restarted", thread=handle.id)
        return sent

    def _restore_threads(self, board_was_reset: bool) -> list[ThreadHandle]:
        """After a reconnect: re-read or mark lost the threads; restart the marked ones."""
        if board_was_reset:
            self.threads.mark_lost()
        else:
            self.threads.refresh_states()  # a board that kept its RAM kept its threads
        return self.threads.restart_marked()

    def board_error(self, type_name: str, message: str, traceback: str) -> DeviceError:
        """A board exception with its frames mapped to host files and lines."""
        mapped = source.map_traceback(traceback, dict(self.sources))
        return explain_missing_emit(DeviceError(type_name, message, mapped))

    def map_error(self, error: DeviceError) -> DeviceError:
        """``error`` with its board frames mapped to host files and lines."""
        return self.board_error(error.type_name, error.message, error.board_traceback)

    def thread_failed(self, thread_id: int, type_name: str, message: str, traceback: str) -> None:
        """The board reported a thread's unhandled exception."""
        self.threads.on_failure(thread_id, self.board_error(type_name, message, traceback))

    def thread_emitted(self, thread_id: int, value: Any) -> None:
        """A board thread called ``emit(value)``."""
        self.threads.on_event(thread_id, value)

    def thread_returned(self, thread_id: int, value: Any) -> None:
        """A board thread's function returned ``value``."""
        self.threads.on_return(thread_id, value)

    # -- what ending sessions ask for ---------------------------------------------------

    def stop_threads(self, session: DeviceSession, *, usable: bool) -> list[Exception]:
        """Stop the board threads ``session`` (which is ending) started; return the problems.

        The device then forgets the session's handles, so ended sessions cost no memory.
        """
        try:
            return self._stop_threads(session, usable=usable)
        finally:
            self.threads.forget_session(session)

    def _stop_threads(self, session: DeviceSession, *, usable: bool) -> list[Exception]:
        owned = [handle for handle in self.threads.handles if handle.session is session]
        if not any(handle.state_known_running for handle in owned):
            return []
        if not usable:
            return [DeviceDisconnected(f"{self.port}: the link is gone; threads not stopped")]
        timeout = session.options.thread_stop_timeout
        try:
            survivors = self.threads.stop(owned, timeout)
        except BelayError as error:
            return [error]
        return [
            DeviceError(
                "ThreadStillRunning",
                f"board thread {handle.name!r} (id {handle.id}) did not stop within {timeout:g} s",
            )
            for handle in survivors
        ]

    def run_teardowns(self, *, usable: bool) -> list[Exception]:
        """Run every teardown (reverse order); return the failures."""
        teardowns = self._of_kind(Kind.TEARDOWN)
        if not teardowns:
            return []
        if not usable:
            return [DeviceDisconnected(f"{self.port}: the link is gone; teardowns did not run")]
        try:
            return list(self.teardowns.run_all(teardowns))
        except BelayError as error:
            return [error]

    def purge(self, *, usable: bool) -> list[Exception]:
        """Remove the program's methods from the board; return the problem, if any."""
        names = list(self.sources)
        if not names or not usable:
            return []
        try:
            self._caller.board_call(f"_bfw_c(_bfw_purge,{codec.encode(names)})", INTERNAL_TIMEOUT)
        except BelayError as error:
            return [error]
        return []

    def _of_kind(self, kind: Kind) -> list[BoardMethod]:
        return [method for method in self.methods.values() if method.kind is kind]
