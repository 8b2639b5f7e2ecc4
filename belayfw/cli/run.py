"""``belayfw run``, ``exec`` and ``eval``: code on the board, output live on stdout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from belayfw.cli.common import Port, Timeout, UsageError, open_board, out, pick_port
from belayfw.errors import DeviceError, ProtocolError
from belayfw.protocol import RawRepl
from belayfw.scripts import ScriptNotFound, run_source, without_wrapper
from belayfw.transports import open_transport, scheme_of

#: How long a board gets to accept a --no-follow script (answer OK) before giving up.
_ACCEPT_SECONDS = 10.0


def run(
    file: Path,
    /,
    *,
    follow: Annotated[bool, Parameter(negative="--no-follow")] = True,
    timeout: Timeout = None,
    port: Port = None,
) -> None:
    """Run a Python script from this computer on the board, at its global scope.

    Output appears as the board prints it. A board exception prints the board's
    traceback, naming FILE and its lines, and exits 1; Ctrl-C interrupts the
    board and exits 130.

    Parameters
    ----------
    file
        The script on this computer.
    follow
        Wait for the script and show its output (--no-follow: start it, return at once,
        leave it running on a board that outlives this command).
    """
    if not file.is_file():
        raise ScriptNotFound(f"no such script: {file}")
    if not follow:
        if timeout is not None:
            raise UsageError("--timeout needs the script followed; drop --no-follow or it")
        _start_detached(pick_port(port), file)
        return
    with open_board(port) as device:
        device.run_file(file, timeout=timeout)


def exec_(code: str, /, *, timeout: Timeout = None, port: Port = None) -> None:
    """Run Python statements on the board at its global scope; show what they print.

    Parameters
    ----------
    code
        The statements, e.g. "import gc; print(gc.mem_free())".
    """
    with open_board(port) as device:
        run_source(device, code, "<exec>", timeout)


def eval_(expression: str, /, *, timeout: Timeout = None, port: Port = None) -> None:
    """Evaluate a Python expression on the board and print its value (its repr).

    Parameters
    ----------
    expression
        The expression, e.g. "sys.platform" or "[1, 2] * 2".
    """
    with open_board(port) as device:
        try:
            value = device.eval(expression, timeout=timeout)
        except DeviceError as error:
            raise without_wrapper(error) from None
    out.print(repr(value), markup=False)


def _start_detached(port: str, file: Path) -> None:
    """Send the script and return once the board has accepted it (mpremote's no-follow).

    The board keeps running it after this process exits, which only a board that
    outlives the process can do: not an emulator board this command starts itself.
    """
    if scheme_of(port) == "emulator":
        raise UsageError(
            "--no-follow needs a board that outlives this command; an emulator board "
            "started by it stops when it exits (serve one with `belayfw emulator` and "
            "pass its serial path with -p)"
        )
    code = f"exec(compile({file.read_text(encoding='utf-8')!r},{str(file)!r},'exec'))"
    repl = RawRepl(open_transport(port), token=b"\x02", on_output=lambda text: None)
    transport = repl.transport
    try:
        repl.enter()
        transport.write(code.encode() + b"\x04")
        deadline = time.monotonic() + _ACCEPT_SECONDS
        seen = b""
        while b"OK" not in seen:
            if time.monotonic() >= deadline:
                raise ProtocolError(f"{transport.description} did not accept the script")
            seen += transport.read(deadline)
    finally:
        repl.close()
