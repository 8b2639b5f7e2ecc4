"""``belayfw emulator``: serve an emulator board on a serial path until Ctrl-C.

Other programs open the printed path as if it were a USB board: another
``belayfw -p PATH ...``, ``mpremote connect PATH``, an IDE. With ``--rfc2217`` or
``--tcp`` it is served over TCP instead and the printed port string is a URL
(``rfc2217://127.0.0.1:7000``). Each way of serving the board is one function
below, chosen by an option; ``serve_pty`` is the default.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from belayfw.cli.common import UsageError, note
from belayfw.export import ExportedBoard, NetworkExport, PtyExport


def emulator(
    *,
    profile: Annotated[str, Parameter(name=("--profile", "-P"))] = "unix",
    flash: Annotated[Path | None, Parameter(name="--flash")] = None,
    rfc2217: Annotated[str | None, Parameter(name="--rfc2217")] = None,
    tcp: Annotated[str | None, Parameter(name="--tcp")] = None,
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
    rfc2217
        Serve the board as an RFC 2217 server on [HOST:]PORT (host 127.0.0.1 unless
        given) for rfc2217:// clients: belayfw, mpremote, labgrid. One client at a time.
    tcp
        Serve the board's raw bytes on [HOST:]PORT, for socket:// clients.
    """
    if rfc2217 is not None and tcp is not None:
        raise UsageError("choose one of --rfc2217 and --tcp")
    address = rfc2217 if rfc2217 is not None else tcp
    if address is None:
        serve_pty(ExportedBoard(profile, flash=flash))
        return
    host, port = _host_and_port(address)
    board = ExportedBoard(profile, flash=flash)
    try:
        export = NetworkExport(board, host, port, telnet=rfc2217 is not None)
    except OSError as exc:
        board.close()
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    serve_network(export)


def serve_network(export: NetworkExport) -> None:
    """Serve ``export`` over TCP until Ctrl-C."""
    with export:
        sys.stdout.write(export.url + "\n")
        sys.stdout.flush()
        note(
            f"{export.board.description} board on {export.url}, one client at a time: open it "
            f"with `belayfw -p {export.url} repl`; Ctrl-C stops it"
        )
        with _stopped_by_signals(export.stop):
            export.serve_forever()
        note("emulator board stopped")


def _host_and_port(address: str) -> tuple[str, int]:
    """``[HOST:]PORT`` as a host and a TCP port; the host defaults to loopback."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise UsageError(f"{address!r} is not [HOST:]PORT, e.g. 7000 or 127.0.0.1:7000")
    return host, int(port)


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
