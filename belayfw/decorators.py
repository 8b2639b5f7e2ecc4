"""``@task``, ``@thread``, ``@setup`` and ``@teardown``: mark methods that run on the board.

Each works bare (``@task``) and called (``@task(timeout=5)``). Options are
pydantic models, so a bad value raises a :class:`ConfigurationError` (also a
``ValueError``) naming the field, when the class is defined. The marked
function becomes a :class:`BoardMethod`: a wrapt proxy that keeps the user's
name, docstring and signature (so ``help()`` and IDEs show them) and, looked up
on a device, returns a callable that runs the method on that device's board.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar, overload

import wrapt
from pydantic import Field, model_validator

from belayfw.errors import ArgumentTypeError, ConfigurationError
from belayfw.validation import Options

P = ParamSpec("P")
R = TypeVar("R")


class Kind(enum.Enum):
    TASK = "task"
    THREAD = "thread"
    SETUP = "setup"
    TEARDOWN = "teardown"


_Options = Options


class TaskOptions(_Options):
    """Options of ``@task``."""

    where = "@task"

    cache: bool = False
    ttl: float | None = Field(default=None, gt=0, description="seconds a cached result lives")
    timeout: float | None = Field(default=None, gt=0, description="seconds before interrupting")
    exclusive: bool = False
    retries: int = Field(default=0, ge=0, le=100, description="retries after a disconnect")

    @model_validator(mode="after")
    def _ttl_needs_cache(self) -> TaskOptions:
        if self.ttl is not None and not self.cache:
            raise ValueError("ttl only applies to cached results; add cache=True")
        return self


class ThreadOptions(_Options):
    """Options of ``@thread``."""

    where = "@thread"

    name: str | None = Field(default=None, min_length=1, max_length=64)
    restart: bool = False


class SetupOptions(_Options):
    """Options of ``@setup``."""

    where = "@setup"

    autoinit: bool = True
    order: int = 0


class TeardownOptions(_Options):
    """Options of ``@teardown``."""

    where = "@teardown"

    order: int = 0
    ignore_errors: bool = False


AnyOptions = TaskOptions | ThreadOptions | SetupOptions | TeardownOptions


class MethodRunner(Protocol):
    """What runs a board method looked up on an instance (``Device`` does)."""

    def run_board_method(
        self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any: ...


class BoardMethod(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """A marked method as stored on the class: the user's function plus kind and options."""

    def __init__(self, function: Callable[..., Any], kind: Kind, options: AnyOptions) -> None:
        if inspect.iscoroutinefunction(function):
            raise ConfigurationError(f"{function.__qualname__}: board methods cannot be async")
        super().__init__(function)
        self._self_kind = kind
        self._self_options = options
        self._self_name = function.__name__
        self._self_host_signature = host_signature(function)
        self._self_arity = _plain_arity(self._self_host_signature)
        if isinstance(options, SetupOptions) and options.autoinit:
            _check_autoinit(function, self._self_host_signature)

    @property
    def kind(self) -> Kind:
        return self._self_kind

    @property
    def options(self) -> AnyOptions:
        return self._self_options

    @property
    def board_name(self) -> str:
        """The board global this method is deployed as (its attribute name)."""
        return self._self_name

    @property
    def function(self) -> Callable[..., Any]:
        return self.__wrapped__  # type: ignore[no-any-return]

    @property
    def host_signature(self) -> inspect.Signature:
        """The signature callers see (computed once: it is on every call's path)."""
        return self._self_host_signature

    @property
    def plain_arity(self) -> int | None:
        """N when the method takes exactly N positional parameters and nothing else."""
        return self._self_arity

    def __set_name__(self, owner: type, name: str) -> None:
        self._self_name = name

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.__wrapped__)

    def __get__(self, instance: MethodRunner | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return BoundBoardMethod(self, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ArgumentTypeError(
            f"{self.__wrapped__.__qualname__} runs on a board: call it on a device instance"
        )

    def __repr__(self) -> str:
        return f"<board {self.kind.value} {self.__wrapped__.__qualname__}>"


class BoundBoardMethod(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """A board method looked up on a device: calling it runs it on that board."""

    def __init__(self, method: BoardMethod, device: MethodRunner) -> None:
        super().__init__(method.function)
        self._self_method = method
        self._self_device = device

    @property
    def __signature__(self) -> inspect.Signature:
        return self._self_method.host_signature

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_device.run_board_method(self._self_method, args, kwargs)

    def __repr__(self) -> str:
        return f"<bound board {self._self_method.kind.value} {self.__wrapped__.__qualname__}>"


def host_signature(function: Callable[..., Any]) -> inspect.Signature:
    """The signature a caller sees: the user's, without a leading ``self``."""
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name == "self":
        parameters = parameters[1:]
    return signature.replace(parameters=parameters)


def _plain_arity(signature: inspect.Signature) -> int | None:
    parameters = signature.parameters.values()
    plain = all(
        parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        and parameter.default is inspect.Parameter.empty
        for parameter in parameters
    )
    return len(signature.parameters) if plain else None


def _check_autoinit(function: Callable[..., Any], signature: inspect.Signature) -> None:
    """An autoinit setup runs with no arguments at open: refuse required parameters now."""
    required = [
        name
        for name, parameter in signature.parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if required:
        raise ConfigurationError(
            f"@setup {function.__qualname__} runs with no arguments when the device opens, "
            f"but requires {', '.join(required)}; give defaults, or use @setup(autoinit=False) "
            "and call it yourself"
        )


def _marker(kind: Kind, options_type: type[_Options]) -> Callable[..., Any]:
    def decorator(function: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        parsed = options_type(**options)
        if function is None:
            return lambda inner: _mark(inner, kind, parsed)
        return _mark(function, kind, parsed)

    decorator.__name__ = kind.value
    decorator.__doc__ = f"Mark a method to run on the board as a {kind.value}."
    return decorator


def _mark(function: Any, kind: Kind, options: _Options) -> BoardMethod:
    if not callable(function):
        raise ArgumentTypeError(f"@{kind.value} decorates a function, got {function!r}")
    return BoardMethod(function, kind, options)  # type: ignore[arg-type]


# Typed overloads so both ``@task`` and ``@task(...)`` type-check and keep the signature.


@overload
def task(function: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def task(
    *,
    cache: bool = False,
    ttl: float | None = None,
    timeout: float | None = None,
    exclusive: bool = False,
    retries: int = 0,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def task(function: Any = None, /, **options: Any) -> Any:
    """A method that runs on the board and returns its value: one round trip per call.

    ``cache``/``ttl`` memoize results on the host per arguments; ``timeout``
    interrupts the board and raises ``TaskTimeout``; ``exclusive`` keeps every
    other call on the device out while it runs; ``retries`` re-runs it after a
    ``DeviceDisconnected``, reconnecting with backoff. A generator method
    streams its values to a host iterator.
    """
    return _task(function, **options)


@overload
def thread(function: Callable[P, Any], /) -> Callable[P, Any]: ...
@overload
def thread(
    *, name: str | None = None, restart: bool = False
) -> Callable[[Callable[P, Any]], Callable[P, Any]]: ...
def thread(function: Any = None, /, **options: Any) -> Any:
    """A method that starts a board thread and returns a ``ThreadHandle``.

    Loops and sleeps in its body are instrumented, so ``handle.stop()`` ends it
    at its next iteration or sleep; closing the device stops it for sure.
    """
    return _thread(function, **options)


@overload
def setup(function: Callable[P, Any], /) -> Callable[P, Any]: ...
@overload
def setup(
    *, autoinit: bool = True, order: int = 0
) -> Callable[[Callable[P, Any]], Callable[P, Any]]: ...
def setup(function: Any = None, /, **options: Any) -> Any:
    """A method whose body runs at board global scope: its locals become board globals.

    With ``autoinit`` it runs when the device opens (by ``order``, then
    definition order); call it again later with other arguments.
    """
    return _setup(function, **options)


@overload
def teardown(function: Callable[P, Any], /) -> Callable[P, Any]: ...
@overload
def teardown(
    *, order: int = 0, ignore_errors: bool = False
) -> Callable[[Callable[P, Any]], Callable[P, Any]]: ...
def teardown(function: Any = None, /, **options: Any) -> Any:
    """A method that runs on the board when the device closes, even after an error.

    Teardowns run in reverse (``order``, definition) order; one that fails
    does not stop the others.
    """
    return _teardown(function, **options)


_task = _marker(Kind.TASK, TaskOptions)
_thread = _marker(Kind.THREAD, ThreadOptions)
_setup = _marker(Kind.SETUP, SetupOptions)
_teardown = _marker(Kind.TEARDOWN, TeardownOptions)
