"""A Ctrl-C (KeyboardInterrupt) that lands while ``close()`` runs still closes the device."""

from __future__ import annotations

import pytest

from belayfw import Device, SessionManager, SessionState, teardown, thread


class Interrupter:
    """An output sink that raises KeyboardInterrupt when the board prints a word.

    The host reads board output in the calling thread, so this is a Ctrl-C
    landing in the middle of a board call, at a point chosen by the board.
    """

    def __init__(self, word: str) -> None:
        self.word = word
        self.armed = True

    def __call__(self, text: str) -> None:
        if self.armed and self.word in text:
            self.armed = False
            raise KeyboardInterrupt


class Interrupted(Device):
    @thread
    def spin() -> None:
        import time

        while True:
            time.sleep(0.01)

    @teardown
    def bye() -> None:
        print("tearing-down")


def test_ctrl_c_during_close_leaves_the_device_closed_and_the_port_free() -> None:
    manager = SessionManager()
    device = Interrupted("emulator", output=Interrupter("tearing-down"), manager=manager)
    block = manager.new_session(device)
    second = block.__enter__()  # left open: close() must end it
    assert second.state is SessionState.ACTIVE
    device.spin()
    with pytest.raises(KeyboardInterrupt):
        device.close()
    assert not device.is_open
    assert device.primary_session is not None
    assert device.primary_session.state is SessionState.TERMINATED
    assert second.state is SessionState.TERMINATED
    assert manager.stats().active == 0
    assert manager.sessions_of(device) == []
    device.close()  # a second close is a quiet no-op, not an InvalidTransition
    block.__exit__(None, None, None)  # leaving the block of an ended session is quiet
    device.open()  # and the device opens again
    try:
        assert device.eval("1 + 1") == 2
    finally:
        device.close()
