"""``Device``: one board, opened like a file, programmed with marked methods.

Subclass it and mark methods with ``@task``, ``@thread``, ``@setup`` and
``@teardown``: they run on the board. The metaclass collects them (definition
order, through inheritance and mixins, overridable by name) and prepares their
board source once per class. Opening a device deploys only what the board does
not already hold (by code hash) in one round trip, then runs autoinit setups;
closing it stops every thread it started, runs teardowns in reverse order, and
disconnects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Self

from belayfw import source
from belayfw.connection import Connection, DeployItem, print_to_stdout
from belayfw.decorators import BoardMethod, Kind
from belayfw.discovery import resolve_port
from belayfw.errors import BelayError, DeviceDisconnected, DeviceError, ResourceCleanupError
from belayfw.executors import SetupExecutor, TaskExecutor, TeardownExecutor, ThreadExecutor
from belayfw.executors.thread import DEFAULT_STOP_TIMEOUT
from belayfw.protocol import LinkStats
from belayfw.response import OutputSink
from belayfw.source import BoardSource

log = logging.getLogger(__name__)


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
    ``timeout`` is the default timeout, in seconds, of ``exec`` and ``eval``.
    """

    __board_methods__: ClassVar[Mapping[str, BoardMethod]]
    __board_sources__: ClassVar[Mapping[str, BoardSource]]

    def __init__(
        self,
        port: str | None = None,
        *,
        output: OutputSink | None = None,
        timeout: float | None = None,
        open: bool = True,
    ) -> None:
        self.port = resolve_port(port)
        self.timeout = timeout
        self._output = output or print_to_stdout
        self._connection: Connection | None = None
        self._open_lock = threading.RLock()
        self._call_lock = threading.RLock()
        self._line_start: dict[str, bool] = {}
        self._tasks = TaskExecutor(self)
        self._threads = ThreadExecutor(self)
        self._setups = SetupExecutor(self)
        self._teardowns = TeardownExecutor(self)
        #: Bytes of board source sent by the last open (0 when the board held it all).
        self.deployed_bytes = 0
        if open:
            self.open()

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> Self:
        """Connect, deploy what the board lacks, run autoinit setups (no-op when open)."""
        with self._open_lock:
            if self._connection is not None and not self._connection.closed:
                return self
            self._connection = Connection(
                self.port, on_output=self._output, on_frame=self._on_board_frame
            )
            try:
                self._prepare_board()
            except BaseException:
                self._abandon()
                raise
        return self

    def close(self) -> None:
        """Stop the board threads this device started, run teardowns, disconnect.

        Every step runs even if an earlier one fails; the failures are raised
        together as one :class:`ResourceCleanupError` at the end.
        """
        errors = self._shutdown()
        if errors:
            raise ResourceCleanupError(f"closing {self.port} left {len(errors)} problem(s)", errors)

    @property
    def is_open(self) -> bool:
        return self._connection is not None and not self._connection.closed

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
            log.error(
                "while closing %s after %s: %s",
                self.port,
                exc_type.__name__ if exc_type else "",
                error,
            )
            exc.add_note(f"belayfw: while closing {self.port}: {type(error).__name__}: {error}")

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<{type(self).__name__} {self.port!r} {state}>"

    # -- running code ------------------------------------------------------------------------

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Run statements on the board at global scope; return what they printed."""
        with self._call_lock:
            return self._link.run(code, timeout=self._timeout(timeout))

    def eval(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate an expression on the board and return its value."""
        with self._call_lock:
            return self._link.evaluate(expression, timeout=self._timeout(timeout))

    def interrupt(self) -> bool:
        """Interrupt the board code running now (from another host thread).

        Returns False when nothing was running: nothing is sent then, since a
        stray interrupt can reset some boards.
        """
        connection = self._connection
        return connection.interrupt() if connection is not None else False

    @property
    def link_stats(self) -> LinkStats:
        """Bytes sent and received and round trips since the board was opened."""
        return self._link.stats

    @property
    def threads(self) -> list[Any]:
        """Handles of every board thread this device started (see ``ThreadHandle``)."""
        return self._threads.handles

    # -- board methods ------------------------------------------------------------------------

    def _run_board_method(
        self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        kind = method.kind
        if kind is Kind.TASK:
            return self._tasks.call(method, args, kwargs)
        if kind is Kind.THREAD:
            return self._threads.call(method, args, kwargs)
        if kind is Kind.SETUP:
            return self._setups.call(method, args, kwargs)
        return self._teardowns.call(method, args, kwargs)

    def _call(self, command: str, timeout: float | None = None) -> Any:
        """Run a prepared board command; board errors come back mapped to host lines."""
        with self._call_lock:
            link = self._link
            try:
                return link.call(command, timeout=timeout)
            except DeviceError as error:
                raise self._board_error(
                    error.type_name, error.message, error.board_traceback
                ) from None

    def _board_error(self, type_name: str, message: str, traceback: str) -> DeviceError:
        return DeviceError(
            type_name, message, source.map_traceback(traceback, dict(self.__board_sources__))
        )

    def _prepare_board(self) -> None:
        connection = self._link
        held = connection.board_hashes
        missing = [
            DeployItem(item.name, item.code_hash, item.kind, item.text)
            for item in self.__board_sources__.values()
            if held.get(item.name) != item.code_hash
        ]
        self.deployed_bytes = connection.install(missing)
        setups = [method for method in self.__board_methods__.values() if method.kind is Kind.SETUP]
        self._setups.run_autoinit(setups)

    def _reconnect(self) -> None:
        """Open a fresh link to the same port and bring the board back to a ready state."""
        with self._open_lock:
            self._abandon()
            self._threads.forget_all("lost")
            self._tasks.clear_cache()
            self.open()

    def _shutdown(self) -> list[BelayError]:
        errors: list[BelayError] = []
        with self._open_lock:
            connection = self._connection
            if connection is None:
                return errors
            if not connection.closed:
                errors.extend(self._stop_threads())
                errors.extend(self._run_teardowns())
            self._abandon()
        return errors

    def _stop_threads(self) -> list[BelayError]:
        try:
            survivors = self._threads.stop_all(DEFAULT_STOP_TIMEOUT)
        except BelayError as error:
            return [error]
        return [
            DeviceError(
                "ThreadStillRunning",
                f"board thread {handle.name!r} (id {handle.id}) did not stop within "
                f"{DEFAULT_STOP_TIMEOUT:g} s",
            )
            for handle in survivors
        ]

    def _run_teardowns(self) -> list[BelayError]:
        teardowns = [
            method for method in self.__board_methods__.values() if method.kind is Kind.TEARDOWN
        ]
        try:
            return list(self._teardowns.run_all(teardowns))
        except BelayError as error:
            return [error]

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
            thread_id, type_name, message, traceback = _decode(payload)
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
                pieces.append(
                    (prefix if (at_start or index) else "") + line + ("" if last else "\n")
                )
        self._line_start[name] = text.endswith("\n")
        return "".join(pieces)

    # -- internals ---------------------------------------------------------------------------

    @property
    def _link(self) -> Connection:
        connection = self._connection
        if connection is None:
            raise DeviceDisconnected(
                f"{self.port} is not open; use `with {type(self).__name__}(...)` or call open()"
            )
        return connection

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout


def _decode(payload: bytes) -> Any:
    from belayfw import codec

    return codec.decode_repr(payload.decode("utf-8", "replace"))


_RESERVED_NAMES = frozenset(name for name in vars(Device) if not name.startswith("__")) | {
    "port",
    "timeout",
    "deployed_bytes",
}
