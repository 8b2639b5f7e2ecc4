"""Session faults found in review: ownership during close, races, the reaper, recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from belayfw import (
    BaseSessionResource,
    CircuitOpen,
    Device,
    DeviceDisconnected,
    DeviceError,
    EmulatorBoard,
    InvalidTransition,
    SessionError,
    SessionLimits,
    SessionManager,
    SessionOptions,
    SessionState,
    setup,
    task,
    teardown,
    thread,
)

from .conftest import wait_until


class Rig(Device):
    @setup
    def init():
        import time

        marks = []

    @thread
    def spin():
        while True:
            time.sleep_ms(5)

    @thread
    def quick():
        marks.append("quick")

    @task
    def slow(ms):
        time.sleep_ms(ms)
        return ms

    @teardown
    def park():
        marks.append("parked")


def running_on(board: EmulatorBoard, output) -> list[str]:
    with Device(board.port, output=output, manager=SessionManager()) as inspector:
        return inspector.eval("[t[0] for t in _bfw_TH.values() if t[1] == 'running']")


@pytest.fixture
def board() -> Iterator[EmulatorBoard]:
    with EmulatorBoard() as shared:
        yield shared


def test_failed_open_raises_the_real_error_even_with_teardowns(output) -> None:
    with pytest.raises(DeviceDisconnected, match="/dev/ttyACM9 does not exist"):
        Rig("/dev/ttyACM9", output=output, manager=SessionManager())

    class BrokenSetup(Rig):
        @setup
        def init():
            raise ValueError("bad pin")

    manager = SessionManager()
    with pytest.raises(DeviceError, match="bad pin"):
        BrokenSetup("emulator", output=output, manager=manager)
    assert manager.sessions == []


def test_close_inside_a_session_block_still_cleans_everything(board: EmulatorBoard, output) -> None:
    manager = SessionManager()
    device = Rig(board.port, output=output, manager=manager)
    with manager.new_session(device) as session:
        inner = device.spin()
        outer_thread = threading.Thread(target=lambda: device.spin())
        outer_thread.start()
        outer_thread.join()
        device.close()  # from inside the block: both sessions end, all cleanup runs
    assert session.state is SessionState.TERMINATED
    assert inner.state == "stopped"
    assert running_on(board, output) == []
    with Device(board.port, output=output, manager=SessionManager()) as inspector:
        assert inspector.eval("marks") == ["parked"]


class Gate(BaseSessionResource):
    """A resource whose cleanup waits, to hold a session in TERMINATING."""

    resource_type = "Gate"

    def __init__(self) -> None:
        super().__init__("gate")
        self.entered = threading.Event()
        self.release = threading.Event()

    def cleanup(self) -> None:
        self.entered.set()
        self.release.wait(5)


def _gated_session(board: EmulatorBoard, output) -> tuple[SessionManager, Rig, object, Gate]:
    """A device with a second, active session whose end will wait at its Gate."""
    manager = SessionManager()
    device = Rig(board.port, output=output, manager=manager)
    session = manager.create(device)
    session.activate()
    return manager, device, session, session.resources.register(Gate())  # type: ignore[return-value]


def test_ending_a_session_while_the_device_closes(board: EmulatorBoard, output) -> None:
    manager, device, session, gate = _gated_session(board, output)
    errors: list[BaseException] = []

    def run(action) -> None:
        try:
            action()
        except BaseException as error:
            errors.append(error)

    ender = threading.Thread(target=run, args=(lambda: manager.end(session.id),))
    ender.start()
    assert gate.entered.wait(5)
    closer = threading.Thread(target=run, args=(device.close,))
    closer.start()
    gate.release.set()
    ender.join(10)
    closer.join(10)
    assert errors == []
    assert session.state is SessionState.TERMINATED
    assert not device.is_open
    assert (
        device.primary_session is not None
        and device.primary_session.state is SessionState.TERMINATED
    )


def test_no_thread_can_start_in_a_session_that_is_ending(board: EmulatorBoard, output) -> None:
    manager, device, session, gate = _gated_session(board, output)
    outcome: list[object] = []

    def late_start() -> None:
        with session.use():
            try:
                outcome.append(device.spin())
            except SessionError as error:
                outcome.append(error)

    ender = threading.Thread(target=manager.end, args=(session.id,))
    ender.start()
    assert gate.entered.wait(5)
    starter = threading.Thread(target=late_start)
    starter.start()
    gate.release.set()
    ender.join(10)
    starter.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], SessionError)
    device.close()
    assert running_on(board, output) == []


def test_session_ended_inside_its_block_exits_quietly(output) -> None:
    manager = SessionManager()
    with Rig("emulator", output=output, manager=manager) as device:
        with manager.new_session(device) as session:
            session.end()
        assert session.state is SessionState.TERMINATED
        with pytest.raises(KeyError, match="mine"), manager.new_session(device) as other:
            other.end()
            raise KeyError("mine")  # the user's error is the one raised


def test_reaper_ends_a_lone_idle_device(output) -> None:
    manager = SessionManager(default_session_timeout=0.3)
    device = Rig("emulator", output=output, manager=manager)
    wait_until(lambda: not device.is_open, timeout=30, what="the idle device to close")
    assert (
        device.primary_session is not None
        and device.primary_session.state is SessionState.TERMINATED
    )


def test_reaper_never_ends_a_session_in_the_middle_of_a_call(output) -> None:
    # The idle timeout leaves a wide margin for the gap between opening and calling
    # on a loaded machine; the call is three timeouts long and must not be cut off.
    manager = SessionManager(default_session_timeout=1.0)
    with Rig("emulator", output=output, manager=manager) as device:
        assert device.slow(3000) == 3000
        assert device.is_open


def test_threads_that_finish_do_not_count_against_the_limit(output) -> None:
    manager = SessionManager(SessionOptions(limits=SessionLimits(max_threads=1)))
    with Rig("emulator", output=output, manager=manager) as device:
        first = device.quick()
        wait_until(lambda: first.state == "finished", what="the quick thread to finish")
        second = device.spin()  # room again: the finished one was untracked
        assert second.alive
        assert (
            device.primary_session is not None and device.primary_session.health.name == "HEALTHY"
        )


def test_reconnect_leaves_user_suspended_sessions_suspended(board: EmulatorBoard, output) -> None:
    manager = SessionManager()
    with Rig(board.port, output=output, manager=manager) as device:
        paused = manager.create(device)
        paused.activate()
        paused.suspend("maintenance")
        device.reconnect()
        assert paused.state is SessionState.SUSPENDED
        assert (
            device.primary_session is not None
            and device.primary_session.state is SessionState.ACTIVE
        )
        manager.end(paused.id)
        with pytest.raises(InvalidTransition):
            paused.resume()


def test_open_circuit_puts_sessions_in_error_and_reopen_retires_them(output) -> None:
    manager = SessionManager(SessionOptions(reconnect_attempts=1, reconnect_cooldown=60))
    board = EmulatorBoard()
    device = Rig(board.port, output=output, manager=manager)
    old = device.primary_session
    assert old is not None
    board.close()
    with pytest.raises(DeviceDisconnected):
        device.reconnect(attempts=1)
    with pytest.raises(CircuitOpen):
        device.reconnect()
    assert old.state is SessionState.ERROR
    with EmulatorBoard() as replacement:
        device.port = replacement.port
        device.open()  # a fresh start: the stale session is retired, not leaked
        assert old.state is SessionState.TERMINATED
        assert [s.id for s in manager.sessions] == [device.primary_session.id]  # type: ignore[union-attr]
        device.close()


def test_a_device_belongs_to_one_manager(output) -> None:
    other = SessionManager()
    with (
        Rig("emulator", output=output, manager=SessionManager()) as device,
        pytest.raises(SessionError, match="another SessionManager"),
        other.new_session(device),
    ):
        pass
