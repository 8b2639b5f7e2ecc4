"""dev.soft_reset(): board RAM cleared, code redeployed, setups re-run, sessions kept."""

from __future__ import annotations

import pytest

from belayfw import Device, SessionError, setup, task, thread
from belayfw.session import SessionManager, SessionState
from belayfw.transports.emulator import EmulatorBoard


class Counter(Device):
    @setup
    def init():
        import time

        boots = globals().get("boots", 0) + 1
        hits = [0]

    @task
    def hit():
        hits[0] += 1
        return hits[0]

    @task(cache=True)
    def cached_boots():
        return boots

    @thread(restart=True)
    def heartbeat():
        while True:
            time.sleep_ms(5)

    @thread
    def one_off():
        while True:
            time.sleep_ms(5)


def test_soft_reset_clears_board_ram_and_brings_the_code_back(output) -> None:
    with Counter("emulator", output=output, manager=SessionManager()) as device:
        assert device.hit() == 1 and device.hit() == 2
        device.exec("left_behind = 1")
        pid = device._link.transport.pid  # type: ignore[attr-defined]
        device.soft_reset()
        assert device._link.transport.pid != pid  # type: ignore[attr-defined]  # a fresh board
        assert device.eval("'left_behind' in globals()") is False  # RAM cleared
        assert device.deployed_bytes > 0  # runtime and methods sent again
        assert device.hit() == 1  # the setup ran again, on a clean board
        assert device.eval("boots") == 1  # ... once, with no memory of the old RAM


def test_soft_reset_keeps_sessions_and_restarts_marked_threads(output) -> None:
    manager = SessionManager()
    with Counter("emulator", output=output, manager=manager) as device:
        primary = device.primary_session
        assert primary is not None
        with manager.new_session(device) as other:
            beat = device.heartbeat()
            lost = device.one_off()
            device.soft_reset()
            assert device.primary_session is primary and primary.state is SessionState.ACTIVE
            assert other.state is SessionState.ACTIVE
            assert beat.alive and beat.state == "running"  # restart=True: started again
            assert lost.state == "lost"
            running = "[t[0] for t in _bfw_TH.values() if t[1] == 'running']"
            assert device.eval(running) == ["heartbeat"]
        assert any(event.message == "soft reset" for event in primary.events)


def test_soft_reset_drops_cached_results(output) -> None:
    with Counter("emulator", output=output, manager=SessionManager()) as device:
        device.exec("boots = 41")
        device.hit()
        assert device.cached_boots() == 41
        device.soft_reset()
        assert device.cached_boots() == 1  # not the cached value from before the reset


def test_soft_reset_keeps_the_emulator_boards_files(output) -> None:
    # The board's flash image outlives its process, as a real board's flash does.
    with EmulatorBoard() as board, Device(board.port, output=output) as device:
        device.exec("f = open('kept.txt', 'w')\nf.write('still here')\nf.close()\nram = 1")
        device.soft_reset()
        assert device.eval("'ram' in globals()") is False
        assert device.eval("open('kept.txt').read()") == "still here"
        assert sorted(device.eval("__import__('os').listdir('/')")) == ["kept.txt", "rom"]


def test_soft_reset_of_a_closed_device_is_refused() -> None:
    device = Device("emulator", open=False)
    with pytest.raises(SessionError, match="not open"):
        device.soft_reset()
