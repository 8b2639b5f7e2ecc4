"""Running a host script file on the board, as ``mpremote run`` does, with mapped tracebacks.

The script is compiled on the board under its own file name, so the board's
traceback already names the script and its lines; only belayfw's wrapper frames
are removed. It runs at board global scope (``__name__ == "__main__"``), and
what it prints streams to the device's output as the board prints it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Protocol

from belayfw.errors import BelayError, DeviceError


class ScriptBoard(Protocol):
    """What running a script needs from a device (``Device`` implements it)."""

    @property
    def timeout(self) -> float | None: ...

    def eval(self, expression: str, timeout: float | None = None) -> Any: ...


#: The frame of the REPL line belayfw sent to start the script: not the user's code.
_WRAPPER_FRAME = re.compile(r'^\s*File "<stdin>", line \d+, in <lambda>\n', re.MULTILINE)


class ScriptNotFound(BelayError, FileNotFoundError):
    """The script file to run does not exist on the host."""

    suggestion = "check the path; it names a file on this computer, not on the board"


def run_file(
    device: ScriptBoard, path: str | os.PathLike[str], timeout: float | None = None
) -> None:
    """Run the script at ``path`` on ``device``'s board at global scope.

    Output streams to the device's output sink while the script runs. A board
    exception raises :class:`~belayfw.errors.DeviceError` whose traceback names
    ``path`` and the script's own line numbers. ``timeout`` (seconds) interrupts
    the board and raises :class:`~belayfw.errors.TaskTimeout`; without one the
    script may run forever, and a host Ctrl-C interrupts it.
    """
    script = Path(path)
    try:
        text = script.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptNotFound(f"no such script: {script}") from None
    except (IsADirectoryError, UnicodeDecodeError) as error:
        raise ScriptNotFound(f"cannot read {script} as a Python script: {error}") from None
    run_source(device, text, str(path), timeout)


def run_source(device: ScriptBoard, text: str, filename: str, timeout: float | None = None) -> None:
    """Run ``text`` at board global scope as if it were the file ``filename``.

    What :func:`run_file` does once it has read the file; ``belayfw exec`` uses
    it too, so its output streams instead of arriving at the end.
    """
    statement = f"exec(compile({text!r},{filename!r},'exec'),globals())"
    if timeout is None:
        # A call with a timeout reports when its code starts, which is what makes it
        # safe to interrupt (Ctrl-C) at any moment; an infinite one never expires.
        timeout = device.timeout if device.timeout is not None else math.inf
    try:
        device.eval(statement, timeout=timeout)
    except DeviceError as error:
        raise without_wrapper(error) from None


def without_wrapper(error: DeviceError) -> DeviceError:
    """``error`` without the frame of the REPL line belayfw sent (not the user's code)."""
    traceback = _WRAPPER_FRAME.sub("", error.board_traceback)
    return DeviceError(error.type_name, error.message, traceback)
