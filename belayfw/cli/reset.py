"""``belayfw reset``: soft-reset the board (RAM cleared) or hard-reset it (a reboot)."""

from __future__ import annotations

from typing import Annotated

from cyclopts import Parameter

from belayfw.cli.common import Port, UsageError, note, open_board, pick_port
from belayfw.protocol import RawRepl
from belayfw.transports import open_transport
from belayfw.transports.base import Restartable


def reset(
    *,
    soft: Annotated[bool, Parameter(negative=())] = False,
    hard: Annotated[bool, Parameter(negative=())] = False,
    port: Port = None,
) -> None:
    """Reset the board.

    Parameters
    ----------
    soft
        Soft reset (the default): the board's RAM is cleared, its files are kept;
        as Ctrl-D at the REPL.
    hard
        Hard reset: machine.reset(), a reboot (a USB board drops off the bus for a moment).
    """
    if soft and hard:
        raise UsageError("choose one of --soft and --hard")
    if hard:
        _hard_reset(pick_port(port))
        note("hard reset sent")
        return
    with open_board(port) as device:
        device.soft_reset()
    note(f"{device.port} soft-reset")


def _hard_reset(port: str) -> None:
    """Send machine.reset() without waiting for an answer: the board reboots instead."""
    repl = RawRepl(open_transport(port), token=b"\x02", on_output=lambda text: None)
    try:
        if isinstance(repl.transport, Restartable):
            repl.transport.restart()  # an emulator board: a new process is its reboot
            return
        repl.enter()
        repl.transport.write(b"import machine\nmachine.reset()\x04")
    finally:
        repl.close()
