"""What every executor needs from its device, as a protocol (no import cycle)."""

from __future__ import annotations

import inspect
import threading
from typing import Any, Protocol

from belayfw import codec
from belayfw.decorators import BoardMethod
from belayfw.errors import DeviceError

#: Timeout of belayfw's own board calls (thread states, purges, capability detection).
INTERNAL_TIMEOUT = 10.0


class BoardCaller(Protocol):
    """The part of a ``Device`` executors use."""

    _lock: threading.RLock
    setup_timeout: float | None
    teardown_timeout: float

    def _call(self, command: str, timeout: float | None = None) -> Any: ...

    def reconnect(self, attempts: int = 3) -> None: ...

    def _board_error(self, type_name: str, message: str, traceback: str) -> DeviceError: ...


def bind_arguments(
    method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> inspect.BoundArguments:
    """Check a call against the user's signature on the host, before anything is sent."""
    try:
        return method.host_signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{method.function.__qualname__}(): {exc}") from None


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
