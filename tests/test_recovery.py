"""When the link drops: sessions suspend, reconnect restores the board, the breaker trips."""

from __future__ import annotations

import os
import signal

import pytest

from belayfw import (
    CircuitOpen,
    Device,
    DeviceDisconnected,
    EmulatorBoard,
    EventType,
    SessionError,
    SessionManager,
    SessionOptions,
    SessionState,
    setup,
    task,
    thread,
)


class Station(Device):
    @setup
    def init():
        import time

        boots = globals().get("boots", 0) + 1

    @thread(restart=True)
    def heartbeat():
        while True:
            time.sleep_ms(5)

    @thread
    def one_off():
        while True:
            time.sleep_ms(5)

    @task
    def boot_count():
        return boots


def _kill(device: Device) -> None:
    os.kill(device._link.transport.pid, signal.SIGKILL)  # type: ignore[attr-defined]


def test_link_loss_suspends_and_reconnect_restores_a_reset_board(output) -> None:
    with Station("emulator", output=output, manager=SessionManager()) as device:
        session = device.primary_session
        assert session is not None
        beat = device.heartbeat()
        other = device.one_off()
        _kill(device)
        with pytest.raises(DeviceDisconnected):
            device.boot_count()
        assert session.state is SessionState.SUSPENDED
        assert session.suspended_by == "link"
        with pytest.raises(DeviceDisconnected, match="reconnect"):
            device.boot_count()  # refused at once, with the way out in the message
        device.reconnect()
        assert session.state is SessionState.ACTIVE
        assert device.boot_count() == 1  # a fresh board: setup ran again on it
        assert device.deployed_bytes > 0  # everything was redeployed
        # The heartbeat (restart=True) runs again on the new board; the other is lost.
        assert beat.alive and beat.state == "running"
        running = "[t[0] for t in _bfw_TH.values() if t[1] == 'running']"
        assert device.eval(running) == ["heartbeat"]
        assert other.state == "lost"
        types = [event.type for event in session.events]
        for expected in (EventType.ERROR_OCCURRED, EventType.SUSPENDED, EventType.RESUMED):
            assert expected in types
        messages = " | ".join(event.message for event in session.events)
        assert "reconnected" in messages and "thread heartbeat restarted" in messages


def test_reconnect_without_a_reset_finds_code_and_threads_in_place(output) -> None:
    with (
        EmulatorBoard() as board,
        Station(board.port, output=output, manager=SessionManager()) as device,
    ):
        beat = device.heartbeat()
        device._link.transport.close()  # the link drops; the board keeps running
        with pytest.raises(DeviceDisconnected):
            device.boot_count()
        device.primary_session.resume()  # type: ignore[union-attr]  # reconnects
        assert device.deployed_bytes == 0  # the board still held every method
        assert device.boot_count() == 2  # setup ran again, on the same board
        assert beat.alive and beat.state == "running"  # the same thread, still running


def test_breaker_stops_hammering_a_dead_board(output) -> None:
    manager = SessionManager(SessionOptions(reconnect_attempts=2, reconnect_cooldown=60))
    board = EmulatorBoard()
    device = Station(board.port, output=output, manager=manager)
    session = device.primary_session
    assert session is not None
    board.close()  # gone for good
    with pytest.raises(DeviceDisconnected):
        device.boot_count()
    with pytest.raises(DeviceDisconnected, match="could not reconnect"):
        device.reconnect(attempts=2)
    assert session.state is SessionState.ERROR
    with pytest.raises(CircuitOpen, match="not trying again"):
        device.reconnect()
    with pytest.raises(SessionError, match="ERROR") as caught:
        device.boot_count()
    assert caught.value.recoverable
    device._abandon()
