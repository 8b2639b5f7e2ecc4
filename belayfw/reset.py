"""Soft reset: the board's RAM is cleared and belayfw brings it back, sessions kept.

After the reset the board holds nothing belayfw sent: the runtime and the
device's board methods are deployed again, the autoinit setups run again, and
board threads are marked lost (those started with ``restart=True`` start
again). Sessions wait (SUSPENDED) during the reset and are ACTIVE again after
it, so a program or a test fixture can reset between uses without reopening.
"""

from __future__ import annotations

from collections.abc import Callable

from belayfw.errors import SessionError
from belayfw.link import BoardLink
from belayfw.session.manager import SessionManager
from belayfw.session.session import DeviceSession, SessionBoard

#: How long a board gets to reboot and show the raw-REPL prompt again.
RESET_TIMEOUT = 10.0


def soft_reset(
    device: SessionBoard,
    board: BoardLink,
    make_ready: Callable[[DeviceSession], None],
    timeout: float = RESET_TIMEOUT,
) -> None:
    """Soft-reset ``device``'s board, then ``make_ready`` redeploys, re-runs setups, restarts.

    On a real board this is Ctrl-D at the raw-REPL prompt; on the emulator the
    board process is restarted on the same files. If the board does not come
    back, the link is dropped, the sessions move to ERROR and the error is
    raised (``reconnect()`` may bring the board back).
    """
    manager = device.manager
    assert isinstance(manager, SessionManager)
    with board.lock:
        if not device.is_open:
            raise SessionError(f"{device.port} is not open; open it before resetting it")
        with manager.reconnecting(device, on_failure=board.drop) as primary:
            board.current.soft_reset(timeout)
            make_ready(primary)
        primary.record_event("soft reset")
