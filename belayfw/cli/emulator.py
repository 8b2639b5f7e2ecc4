"""``belayfw emulator``: serve an emulator board on a serial path until Ctrl-C.

Other programs open the printed path as if it were a USB board: another
``belayfw -p PATH ...``, ``mpremote connect PATH``, an IDE. Each way of serving
the board is one function below, chosen by an option; ``serve_pty`` is the
default.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from belayfw.cli.common import note
from belayfw.export import ExportedBoard, PtyExport


def emulator(
    *,
    profile: Annotated[str, Parameter(name=("--profile", "-P"))] = "unix",
    flash: Annotated[Path | None, Parameter(name="--flash")] = None,
) -> None:
    """Start an emulator board and serve it on a serial path until Ctrl-C.

    Prints the path on stdout. Open it like a USB board:
    `belayfw -p PATH repl`, `mpremote connect PATH`, or an IDE's serial setting.

    Parameters
    ----------
    profile
        The kind of board to imitate (its heap size): unix, pico or esp32.
    flash
        The board's flash as an image file that outlives it (created when missing):
        the board's files are there again next time. Default: a fresh flash each run.
    """
    serve_pty(ExportedBoard(profile, flash=flash))


def serve_pty(board: ExportedBoard) -> None:
    """Serve ``board`` on a pseudo-terminal until Ctrl-C."""
    with PtyExport(board) as export:
        sys.stdout.write(export.path + "\n")
        sys.stdout.flush()
        note(
            f"{board.description} board on {export.path}: open it with "
            f"`belayfw -p {export.path} repl` or `mpremote connect {export.path}`; Ctrl-C stops it"
        )
        with _stopped_by_signals(export.stop):
            export.serve_forever()
        note("emulator board stopped")


@contextmanager
def _stopped_by_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM end the serving cleanly, even where SIGINT was ignored."""
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in handled}
    for number in handled:
        signal.signal(number, lambda signum, frame: stop())
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
