"""SessionManager: sessions on devices, ownership of threads and resources, limits, idling."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from belayfw import (
    BaseSessionResource,
    Device,
    EmulatorBoard,
    EventType,
    ResourceCleanupError,
    SessionError,
    SessionLimitExceeded,
    SessionManager,
    SessionOptions,
    SessionState,
    current_session,
    task,
    thread,
)

from .conftest import wait_until


class Counter(Device):
    @thread
    def count(key):
        import time

        counts = globals().setdefault("counts", {})
        counts[key] = 0
        while True:
            counts[key] += 1
            time.sleep_ms(5)

    @task
    def add(a, b):
        return a + b


@pytest.fixture
def manager() -> SessionManager:
    return SessionManager(max_concurrent_sessions=4)


@pytest.fixture
def device(manager: SessionManager, output) -> Iterator[Counter]:
    with Counter("emulator", output=output, manager=manager) as dev:
        yield dev


def test_session_block_creates_runs_and_always_ends(
    manager: SessionManager, device: Counter
) -> None:
    with manager.new_session(device) as session:
        assert session.state is SessionState.ACTIVE
        assert current_session() is session
        assert device.add(1, 2) == 3
        assert manager.get(session.id) is session
    assert session.state is SessionState.TERMINATED
    assert current_session() is None
    assert manager.get(session.id) is None
    with pytest.raises(KeyError), manager.new_session(device) as failing:
        raise KeyError("body failed")
    assert failing.state is SessionState.TERMINATED


def test_session_opens_a_closed_device_and_closes_it_after(manager: SessionManager, output) -> None:
    device = Counter("emulator", output=output, manager=manager, open=False)
    with manager.new_session(device):
        assert device.is_open
        assert device.add(2, 2) == 4
    assert not device.is_open


def test_stats_and_the_concurrency_limit(manager: SessionManager, device: Counter) -> None:
    assert manager.stats().active == 1  # the device's own session
    with manager.new_session(device), manager.new_session(device), manager.new_session(device):
        stats = manager.stats()
        assert (stats.active, stats.max) == (4, 4)
        with (
            pytest.raises(SessionLimitExceeded, match="limit is 4") as caught,
            manager.new_session(device),
        ):
            pass
        assert caught.value.recoverable
    assert manager.stats().active == 1
    assert manager.stats().total == 4  # the refused one was never created


def test_get_or_create_and_end(manager: SessionManager, output) -> None:
    device = Counter("emulator", output=output, manager=manager, open=False)
    primary = manager.get_or_create(device)
    assert primary is device.primary_session and device.is_open
    assert manager.get_or_create(device) is primary
    with manager.new_session(device) as inner:
        assert manager.get_or_create(device) is inner
    manager.end(primary.id)  # ending the primary session closes the device
    assert not device.is_open
    with pytest.raises(SessionError, match="no session"):
        manager.end("nope")


def test_calls_in_a_block_belong_to_that_session(manager: SessionManager, device: Counter) -> None:
    primary = device.primary_session
    assert primary is not None
    with manager.new_session(device) as session:
        inner = device.count("inner")
        assert inner.session is session
        assert [record.id for record in session.resources.threads] == [inner.id]
        seen: list[object] = []
        other_thread = threading.Thread(target=lambda: seen.append(device.count("other")))
        other_thread.start()
        other_thread.join()
        assert seen[0].session is primary  # type: ignore[attr-defined]
    assert inner.state == "stopped"  # ended with its session
    assert seen[0].alive  # type: ignore[attr-defined]  # the primary session's thread runs on
    assert [record.method for record in primary.resources.threads] == ["count"]


def test_asyncio_tasks_each_see_their_own_session(manager: SessionManager, device: Counter) -> None:
    primary = device.primary_session
    with manager.new_session(device) as session:
        pass  # ended; make a fresh one for the tasks below
    assert session.state is SessionState.TERMINATED
    extra = manager.create(device)
    extra.activate()

    async def in_session() -> object:
        with extra.use():
            await asyncio.sleep(0)
            return current_session()

    async def outside() -> object:
        await asyncio.sleep(0)
        return current_session()

    async def both() -> list[object]:
        return list(await asyncio.gather(in_session(), outside()))

    assert asyncio.run(both()) == [extra, None]
    manager.end(extra.id)
    assert primary is not None and primary.state is SessionState.ACTIVE


class TimerResource(BaseSessionResource):
    resource_type = "DeviceTimer"
    estimated_cost = 50

    def __init__(self, device: Device, name: str, log: list[str], fail: bool = False) -> None:
        super().__init__(name)
        self.device = device
        self.log = log
        self.fail = fail
        device.exec(
            f"from machine import Timer\n{name} = Timer(period=10, callback=lambda t: None)"
        )

    def cleanup(self) -> None:
        self.log.append(self.resource_id)
        if self.fail:
            raise OSError(f"{self.resource_id} would not stop")
        self.device.exec(f"{self.resource_id}.deinit()")


def test_resources_are_cleaned_newest_first_past_failures(
    manager: SessionManager, device: Counter
) -> None:
    log: list[str] = []
    with pytest.raises(ResourceCleanupError) as caught, manager.new_session(device) as session:
        session.resources.register(TimerResource(device, "t1", log))
        session.resources.register(TimerResource(device, "t2", log, fail=True))
        session.resources.register(TimerResource(device, "t3", log))
        stats = session.resources.stats()
        assert stats.by_type["DeviceTimer"].count == 3
        assert stats.by_type["DeviceTimer"].total_cost == 150
        assert stats.total_cost == 150
    assert log == ["t3", "t2", "t1"]
    (failure,) = caught.value.exceptions
    assert isinstance(failure, OSError) and "t2 would not stop" in str(failure)
    assert session.state is SessionState.TERMINATED


def test_anything_else_is_not_a_resource(device: Counter) -> None:
    with pytest.raises(TypeError, match="not a SessionResource"):
        device.primary_session.resources.register(object())  # type: ignore[union-attr, arg-type]


def test_protocol_resources_without_the_base_class(device: Counter) -> None:
    class Plain:
        resource_id = "plain"
        resource_type = "File"
        estimated_cost = 7
        created_at = datetime.now(UTC)
        cleaned = False

        def cleanup(self) -> None:
            Plain.cleaned = True

    session = device.primary_session
    assert session is not None
    session.resources.register(Plain())
    assert session.resources.stats().by_type["File"].total_cost == 7
    device.close()
    assert Plain.cleaned


def test_ending_one_session_leaves_the_others_alone(
    manager: SessionManager, device: Counter
) -> None:
    first = manager.create(device)
    first.activate()
    second = manager.create(device)
    second.activate()
    with first.use():
        one = device.count("one")
    with second.use():
        two = device.count("two")
    manager.end(first.id)
    assert one.state == "stopped"
    assert two.alive
    assert second.state is SessionState.ACTIVE
    manager.end(second.id)
    assert two.state == "stopped"


def test_idle_sessions_are_ended(output) -> None:
    # Wide enough that a loaded machine cannot reap the device before it is used.
    manager = SessionManager(default_session_timeout=1.0)
    device = Counter("emulator", output=output, manager=manager)
    extra = manager.create(device)
    extra.activate()
    with extra.use():
        handle = device.count("idle")
    wait_until(
        lambda: extra.state is SessionState.TERMINATED, timeout=30, what="the idle session to end"
    )
    assert handle.state == "stopped"
    assert any(event.data.get("reason") == "idle" for event in extra.events)
    wait_until(lambda: not device.is_open, timeout=30, what="the idle device to close")


def test_purge_on_end_removes_the_code_from_the_board(output) -> None:
    manager = SessionManager(purge_on_end=True)
    with EmulatorBoard() as board:
        with Counter(board.port, output=output, manager=manager) as device:
            assert device.add(1, 1) == 2
        with Device(board.port, output=output) as inspector:
            assert inspector.eval("'add' in globals() or 'count' in globals()") is False
            assert inspector.eval("'add' in _bfw_H") is False


def test_without_purge_the_code_stays(output) -> None:
    with EmulatorBoard() as board:
        with Counter(board.port, output=output) as device:
            assert device.add(1, 1) == 2
        with Device(board.port, output=output) as inspector:
            assert inspector.eval("add(2, 3)") == 5


def test_deployed_methods_are_tracked(device: Counter) -> None:
    session = device.primary_session
    assert session is not None
    records = {record.signature: record for record in session.resources.deployed_methods}
    assert set(records) == {"add(a, b)", "count(key)"}
    add = records["add(a, b)"]
    assert add.code_hash == Counter.__board_sources__["add"].code_hash
    assert add.sent and add.size > 0
    assert session.events.of_type(EventType.CREATED)
