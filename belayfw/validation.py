"""Checks on what users pass in, refused at once with a :class:`ConfigurationError`.

Options are pydantic models built on :class:`Options`, which turns pydantic's
report into one belayfw error that names the field, says what is wrong and suggests
the right name for a typo. Nonsense (a timeout of 0 or NaN) never reaches the
board, where it would fail later and further from its cause.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, overload

from pydantic import BaseModel, ConfigDict, ValidationError

from belayfw.errors import ArgumentTypeError, ConfigurationError, did_you_mean


class Options(BaseModel):
    """Frozen options that refuse unknown names; a bad value raises ConfigurationError."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    #: How messages name these options (default: the class name).
    where: ClassVar[str] = ""

    def __init__(self, /, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise options_error(exc, type(self), type(self).where or type(self).__name__) from None


def options_error(exc: ValidationError, model: type[BaseModel], where: str) -> ConfigurationError:
    """One readable error for every problem pydantic found (no links, no internals)."""
    known = list(model.model_fields)
    problems = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if not name:  # a check across options
            problems.append(message)
        elif error["type"] == "extra_forbidden":
            hint = did_you_mean(name, known) or f" (options: {', '.join(known)})"
            problems.append(f"unknown option {name!r}{hint}")
        else:
            problems.append(f"{name}={error.get('input')!r}: {message}")
    return ConfigurationError(f"{where}: {'; '.join(problems)}")


@overload
def check_timeout(name: str, value: float) -> float: ...
@overload
def check_timeout(name: str, value: float | None) -> float | None: ...
def check_timeout(name: str, value: float | None) -> float | None:
    """``value`` when it is None or a positive number of seconds; else a clear error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(
            f"{name} must be a number of seconds or None, not {type(value).__name__}"
        )
    if math.isnan(value) or value <= 0:
        raise ConfigurationError(
            f"{name}={value!r} is not a timeout; pass a positive number of seconds, "
            "or None to wait without limit"
        )
    return value


def check_source(name: str, value: object) -> str:
    """``value`` when it is board source text; else a clear error before anything is sent."""
    if isinstance(value, bytes | bytearray):
        raise ArgumentTypeError(
            f"{name}() takes board source as str, not {type(value).__name__}; "
            "decode it first (e.g. code.decode())"
        )
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name}() takes board source as str, not {type(value).__name__}")
    return value


def check_instance(name: str, value: object, kind: type[Any], example: str) -> Any:
    """``value`` when it is None or a ``kind``; else a clear error naming what to pass."""
    if value is not None and not isinstance(value, kind):
        raise ArgumentTypeError(f"{name} must be {example} or None, not {type(value).__name__}")
    return value


def check_callable(name: str, value: object, example: str) -> Any:
    """``value`` when it is None or callable; else a clear error naming what to pass."""
    if value is not None and not callable(value):
        raise ArgumentTypeError(f"{name} must be {example} or None, not {type(value).__name__}")
    return value
