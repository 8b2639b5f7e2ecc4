"""What every command shares: the port option, timeouts, consoles and opening a board."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from cyclopts import Parameter
from rich.console import Console

from belayfw.device import Device
from belayfw.discovery import resolve_port
from belayfw.errors import BelayError

#: Tables and values go to stdout; progress, notes and errors go to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UsageError(BelayError, ValueError):
    """A command line that cannot be carried out as given."""

    suggestion = "see `belayfw COMMAND --help`"


def _check_timeout(type_: object, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a positive number of seconds, not {value}")


Port = Annotated[
    str | None,
    Parameter(
        name=("--port", "-p"),
        help=(
            "Board to use: a serial device (/dev/ttyACM0, COM3), socket:// or rfc2217:// URL, "
            "or emulator[:PROFILE]. Default: $BELAYFW_PORT, else the single attached "
            "MicroPython board, else the emulator."
        ),
    ),
]

Timeout = Annotated[
    float | None,
    Parameter(
        name=("--timeout", "-t"),
        validator=_check_timeout,
        help="Seconds before the board is interrupted (default: no limit).",
    ),
]


def pick_port(port: str | None) -> str:
    """The port to open; says on stderr which board was chosen when none was given."""
    if port:
        return port
    chosen = resolve_port(None)
    if os.environ.get("BELAYFW_PORT"):
        note(f"using {chosen} (from BELAYFW_PORT)")
    elif chosen != "emulator":  # falling back to the emulator, resolve_port warns itself
        note(f"using the MicroPython board on {chosen} (pass -p to choose)")
    return chosen


@contextmanager
def open_board(port: str | None) -> Iterator[Device]:
    """Open the board a command works on, closed when the command ends."""
    with Device(pick_port(port)) as device:
        yield device


def note(message: str) -> None:
    """A one-line remark for the user, on stderr (never mixed into command output)."""
    err.print(f"belayfw: {message}", style="dim", markup=False)


def print_text(text: str) -> None:
    """Board text as it came, on stdout, flushed at once."""
    sys.stdout.write(text)
    sys.stdout.flush()
