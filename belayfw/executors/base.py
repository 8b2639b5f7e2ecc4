"""What every executor needs from a board, as a public protocol (no import of the device).

``Device`` implements :class:`BoardCaller`; so can anything else that runs
prepared board commands (the file system, streams, a test double).
"""

from __future__ import annotations

import inspect
from types import TracebackType
from typing import Any, Protocol

from belayfw import codec
from belayfw.decorators import BoardMethod
from belayfw.errors import ArgumentTypeError, DeviceError

#: Timeout of belayfw's own board calls (thread states, purges, capability detection).
INTERNAL_TIMEOUT = 10.0


class BoardLock(Protocol):
    """The board's lock (reentrant): held during any board call, and by ``hold()``."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class BoardCaller(Protocol):
    """Runs prepared board commands for executors, one at a time."""

    @property
    def setup_timeout(self) -> float | None:
        """Seconds a setup may run."""
        ...

    @property
    def teardown_timeout(self) -> float:
        """Seconds the teardowns may run."""
        ...

    @property
    def cut_calls(self) -> int:
        """Calls a host Ctrl-C has cut so far: what the board sent then may be lost."""
        ...

    def board_call(self, command: str, timeout: float | None = None) -> Any:
        """Run a prepared ``_bfw_c(...)`` command; board errors map to host lines."""
        ...

    def board_error(self, type_name: str, message: str, traceback: str) -> DeviceError:
        """A board exception reported outside a call, mapped to host files and lines."""
        ...

    def hold(self) -> BoardLock:
        """Keep every other caller off the board for a sequence of calls."""
        ...

    def reconnect(self, attempts: int = 3) -> None:
        """Reopen the link and bring the board back (used by task retries)."""
        ...


def bind_arguments(
    method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> inspect.BoundArguments:
    """Check a call against the user's signature on the host, before anything is sent."""
    try:
        return method.host_signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise ArgumentTypeError(f"{method.function.__qualname__}(): {exc}") from None


def call_arguments(method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The call's arguments as board source, checked against the signature first.

    The common case (exactly the positional parameters, nothing else) skips
    ``Signature.bind``, which costs more than the rest of the host side of a call.
    """
    if not kwargs and len(args) == method.plain_arity:
        return ",".join(codec.encode(value) for value in args)
    return encode_arguments(bind_arguments(method, args, kwargs))


def encode_arguments(bound: inspect.BoundArguments) -> str:
    """``args`` as board source: positional then keyword, literals only."""
    pieces = [codec.encode(value) for value in bound.args]
    pieces.extend(f"{key}={codec.encode(value)}" for key, value in bound.kwargs.items())
    return ",".join(pieces)


def call_command(function: str, *leading: str, arguments: str = "") -> str:
    """The board command ``_bfw_c(function, *leading, *arguments)``: one framed call."""
    parts = [function, *leading]
    if arguments:
        parts.append(arguments)
    return f"_bfw_c({','.join(parts)})"
