"""Session states, transitions, listeners, events, store and option validation."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from belayfw import (
    ConfigurationError,
    Device,
    EventType,
    InvalidTransition,
    SessionError,
    SessionLimits,
    SessionManager,
    SessionOptions,
    SessionState,
)
from belayfw.session.lifecycle import StateMachine

S = SessionState
ALLOWED = {
    (S.INITIALIZING, S.ACTIVE),
    (S.INITIALIZING, S.ERROR),
    (S.INITIALIZING, S.TERMINATED),
    (S.ACTIVE, S.SUSPENDED),
    (S.ACTIVE, S.TERMINATING),
    (S.ACTIVE, S.ERROR),
    (S.SUSPENDED, S.ACTIVE),
    (S.SUSPENDED, S.TERMINATING),
    (S.SUSPENDED, S.ERROR),
    (S.TERMINATING, S.TERMINATED),
    (S.TERMINATING, S.ERROR),
    (S.ERROR, S.ACTIVE),
    (S.ERROR, S.TERMINATING),
    (S.ERROR, S.TERMINATED),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(S, S)), ids=lambda s: s.name)
def test_every_transition_is_validated(old: SessionState, new: SessionState) -> None:
    allowed = (old, new) in ALLOWED
    assert old.can_transition_to(new) is allowed
    assert (new in old.next_states()) is allowed
    seen: list[tuple[SessionState, SessionState]] = []
    machine = StateMachine(lambda a, b: seen.append((a, b)), owner="test")
    machine._state = old
    if allowed:
        machine.move(new)
        assert machine.state is new and seen == [(old, new)]
    else:
        with pytest.raises(InvalidTransition, match=f"from {old.name} to {new.name}"):
            machine.move(new)
        assert machine.state is old and seen == []


def test_terminated_is_final() -> None:
    assert S.TERMINATED.next_states() == frozenset()
    assert S.TERMINATED.is_final
    assert not S.ACTIVE.is_final


@pytest.fixture
def manager() -> SessionManager:
    return SessionManager(SessionOptions(max_events=50))


@pytest.fixture
def device(manager: SessionManager, output) -> Iterator[Device]:
    with Device("emulator", output=output, manager=manager) as dev:
        yield dev


class Recorder:
    def __init__(self) -> None:
        self.states: list[tuple[SessionState, SessionState]] = []
        self.capabilities: list[object] = []

    def state_changed(self, old: SessionState, new: SessionState) -> None:
        self.states.append((old, new))

    def capabilities_changed(self, capabilities: object) -> None:
        self.capabilities.append(capabilities)


def test_device_opens_its_primary_session(device: Device) -> None:
    session = device.primary_session
    assert session is not None and session.primary
    assert session.state is S.ACTIVE
    assert [event.type for event in session.events][:2] == [EventType.CREATED, EventType.STARTED]
    assert session.duration.total_seconds() >= 0


def test_close_terminates_the_primary_session(manager: SessionManager, output) -> None:
    device = Device("emulator", output=output, manager=manager)
    session = device.primary_session
    assert session is not None
    recorder = Recorder()
    session.add_listener(recorder)
    device.close()
    assert session.state is S.TERMINATED
    assert recorder.states == [(S.ACTIVE, S.TERMINATING), (S.TERMINATING, S.TERMINATED)]
    assert session.events[-1].type is EventType.TERMINATED
    assert manager.get(session.id) is None


def test_suspend_refuses_calls_until_resume(device: Device) -> None:
    session = device.primary_session
    assert session is not None
    recorder = Recorder()
    session.add_listener(recorder)
    session.suspend("maintenance")
    with pytest.raises(SessionError, match="suspended") as caught:
        device.eval("1")
    assert caught.value.recoverable
    session.resume()
    assert device.eval("1") == 1
    assert recorder.states == [(S.ACTIVE, S.SUSPENDED), (S.SUSPENDED, S.ACTIVE)]
    types = [event.type for event in session.events]
    assert EventType.SUSPENDED in types and EventType.RESUMED in types


def test_resume_on_a_terminated_session_is_invalid(manager: SessionManager, device: Device) -> None:
    with manager.new_session(device) as session:
        pass
    assert session.state is S.TERMINATED
    with pytest.raises(InvalidTransition, match="from TERMINATED to ACTIVE"):
        session.resume()


def test_custom_events_and_the_log_is_bounded(device: Device) -> None:
    session = device.primary_session
    assert session is not None
    for n in range(80):
        session.record_event(f"step {n}", step=n)
    events = list(session.events)
    assert len(events) == 50
    assert events[-1].type is EventType.CUSTOM
    assert events[-1].message == "step 79" and events[-1].data == {"step": 79}


def test_listener_failures_do_not_break_the_session(device: Device, caplog) -> None:
    class Broken:
        def state_changed(self, old: SessionState, new: SessionState) -> None:
            raise RuntimeError("listener bug")

    session = device.primary_session
    assert session is not None
    session.add_listener(Broken())
    session.suspend()
    session.resume()
    assert session.state is S.ACTIVE
    assert "listener bug" in caplog.text


def test_store_is_private_to_each_session(manager: SessionManager, device: Device) -> None:
    primary = device.primary_session
    assert primary is not None
    primary.store.set("calibration", 1.5)
    with manager.new_session(device) as other:
        assert other.store.get("calibration") is None
        other.store.set("calibration", 9)
        assert primary.store.get("calibration") == 1.5
    primary.store.clear("calibration")
    assert "calibration" not in primary.store
    primary.store.set("a", 1)
    primary.store.clear()
    assert len(primary.store) == 0


def test_store_is_thread_safe(device: Device) -> None:
    store = device.primary_session.store  # type: ignore[union-attr]

    def writer(n: int) -> None:
        for i in range(500):
            store.set(f"{n}-{i}", i)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 8 * 500


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: SessionOptions(max_concurrent_sessions=0), "max_concurrent_sessions"),
        (lambda: SessionOptions(default_session_timeout=-1), "default_session_timeout"),
        (lambda: SessionOptions(max_events=0), "max_events"),
        (lambda: SessionOptions(purge_on_end="sometimes"), "purge_on_end"),
        (lambda: SessionOptions(unknown=1), "unknown"),
        (lambda: SessionLimits(max_threads=-1), "max_threads"),
        (lambda: SessionLimits(min_free_memory="lots"), "min_free_memory"),
        (lambda: SessionManager(max_concurrent_sessions="many"), "max_concurrent_sessions"),
    ],
)
def test_bad_options_name_the_field(build, field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        build()
