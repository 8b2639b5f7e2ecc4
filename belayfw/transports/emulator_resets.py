"""How an emulator board resets itself, and what its host makes of it.

The unix port cannot reboot. Board code that resets the board
(``machine.reset()``, ``machine.soft_reset()``, a watchdog not fed, the wake-up
from ``machine.deepsleep()``) ends the board process with a signal naming the
kind of reset (``board/machine_system.py``). The transport reads that end as a
:class:`~belayfw.errors.BoardReset`; restarting the board on the same flash
passes the reason to the new process, which ``machine.reset_cause()`` reports.
"""

from __future__ import annotations

import signal
from typing import NamedTuple


class ResetKind(NamedTuple):
    """One way an emulator board resets itself."""

    #: What happened, for messages.
    what: str
    #: Why the next start happened (``BELAYFW_RESET_CAUSE``), or None to keep the
    #: previous one: a soft reset leaves a board's reset cause as it was.
    cause: str | None


#: The signal that ended the board process -> the reset it stands for.
RESET_SIGNALS: dict[int, ResetKind] = {
    signal.SIGUSR2: ResetKind("a hard reset (machine.reset())", "HARD"),
    signal.SIGUSR1: ResetKind("a soft reset (machine.soft_reset())", None),
    signal.SIGALRM: ResetKind("a watchdog reset (machine.WDT not fed in time)", "WDT"),
    signal.SIGVTALRM: ResetKind("a wake-up from machine.deepsleep()", "DEEPSLEEP"),
}

#: The cause a board reports after power-on (its first start).
POWER_ON = "PWRON"


def reset_by_board(returncode: int) -> ResetKind | None:
    """The reset a board process's exit status stands for, or None (it crashed or was killed)."""
    return RESET_SIGNALS.get(-returncode) if returncode < 0 else None
