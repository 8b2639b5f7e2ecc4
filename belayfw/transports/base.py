"""The transport interface: how raw bytes reach a board, and nothing more.

A transport knows nothing of the REPL. The protocol above it needs only these
operations, which keeps real ports, the emulator and test doubles interchangeable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """A byte link to one board.

    ``read`` returns the bytes available now, waiting at most until ``deadline``
    (a :func:`time.monotonic` instant) for the first one, and ``b""`` when the
    deadline passes with nothing read. It raises
    :class:`~belayfw.errors.DeviceDisconnected` when the link is gone: it never
    blocks past the deadline.
    """

    #: Human-readable name for messages and logs, e.g. ``"/dev/ttyACM0"``.
    description: str
    #: True when a Ctrl-C byte may be sent before entering raw REPL (a real board
    #: may be running a program). The emulator says False: a stray interrupt while
    #: it is idle ends the process.
    interrupt_on_entry: bool
    #: True when large code must go in raw-paste mode, whose flow control keeps a
    #: board's UART buffer from overflowing. A pty never drops input: False there.
    prefers_raw_paste: bool
    #: True when the board's id survives a restart, so what was learnt about it may
    #: be kept on disk (real hardware). False for each emulator process.
    lasting_identity: bool

    @property
    def wakeup(self) -> Callable[[], None] | None:
        """Makes a ``read`` waiting in another thread return early; None if it cannot.

        With it, the reading thread sends an interrupt itself, right after a last
        look, so the interrupt cannot arrive after the command has finished.
        """
        ...

    def write(self, data: bytes) -> None: ...

    def read(self, deadline: float) -> bytes: ...

    def interrupt(self) -> None:
        """Ask the board to interrupt the code it is running now."""
        ...

    def fileno(self) -> int | None:
        """A selectable descriptor that turns readable when bytes arrive, or None."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Restartable(Protocol):
    """A transport that owns its board and resets it by starting it afresh.

    The unix port ends where a board would soft-reset (Ctrl-D at the raw-REPL
    prompt), so an emulator transport implements a soft reset as ``restart``:
    the board's RAM is cleared and its files are kept, as on a board.
    """

    def restart(self) -> None:
        """Reset the board; afterwards it starts up as after power-on (friendly REPL)."""
        ...
