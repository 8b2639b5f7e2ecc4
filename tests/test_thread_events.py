"""Board threads push values to the host (emit), and hand back a result (join/result)."""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from belayfw import (
    Device,
    DeviceError,
    SessionManager,
    ThreadJoinTimeout,
    ThreadNotFinished,
    task,
    thread,
)
from belayfw.events import ThreadEvents

from .conftest import OutputCollector


class Sensor(Device):
    @thread
    def readings(n):
        for i in range(n):
            emit(i)
        return "done after " + str(n)

    @thread
    def chatty(n):
        for i in range(n):
            print("line", i)
            emit({"i": i, "raw": b"\x03\x04"})
        return n

    @thread
    def waits(n):
        import time

        emit("started")
        time.sleep(60)
        return n

    @thread
    def breaks():
        emit(1)
        raise ValueError("sensor unplugged")

    @thread
    def odd():
        emit(object())
        emit(2)

    @thread
    def burst(n):
        import time

        while not go:
            time.sleep_ms(1)
        for i in range(n):
            emit(i)

    @task
    def add(a, b):
        return a + b


@pytest.fixture
def sensor(output: OutputCollector) -> Iterator[Sensor]:
    with Sensor("emulator", output=output) as device:
        yield device


def test_events_arrive_in_order_and_end_with_the_thread(sensor: Sensor) -> None:
    handle = sensor.readings(500)
    assert list(handle.events) == list(range(500))
    assert handle.join(30)
    assert handle.result() == "done after 500"
    assert handle.exception() is None
    assert handle.state == "finished"


def test_events_and_output_and_calls_never_disturb_each_other(
    sensor: Sensor, output: OutputCollector
) -> None:
    handle = sensor.chatty(200)
    sums = [sensor.add(k, 1) for k in range(100)]  # calls while the thread emits and prints
    assert sums == [k + 1 for k in range(100)]
    assert handle.result(30) == 200
    assert list(handle.events) == [{"i": i, "raw": b"\x03\x04"} for i in range(200)]
    text = output.wait_for(lambda text: "[chatty] line 199\n" in text)
    assert [line for line in text.splitlines() if line.startswith("[chatty]")] == [
        f"[chatty] line {i}" for i in range(200)
    ]


def test_join_and_result_wait_without_polling_the_board(sensor: Sensor) -> None:
    handle = sensor.waits(7)
    assert handle.events.get(timeout=30) == "started"
    before = sensor.link_stats.round_trips
    assert handle.join(timeout=0.2) is False
    with pytest.raises(ThreadJoinTimeout, match="still runs"):
        handle.result(timeout=0.2)
    assert sensor.link_stats.round_trips == before  # waiting cost no round trip
    assert handle.stop()
    assert handle.join(0)
    with pytest.raises(ThreadNotFinished, match="stopped"):
        handle.result()
    with pytest.raises(queue.Empty):
        handle.events.get(timeout=5)  # ended, none left
    assert handle.events.ended


def test_a_failed_thread_raises_its_board_exception_from_result(sensor: Sensor) -> None:
    handle = sensor.breaks()
    with pytest.raises(DeviceError, match="sensor unplugged"):
        handle.result(timeout=30)
    assert isinstance(handle.exception(), DeviceError)
    assert list(handle.events) == [1]  # what it emitted before it failed


def test_a_callback_gets_each_event_in_order(sensor: Sensor) -> None:
    seen: list[int] = []
    handle = sensor.readings(300)
    handle.on_event(seen.append)
    # The return is reported after every event, so once joined all were handed over.
    assert handle.join(30)
    # Events that came before the subscription stay queued; the rest went to the callback.
    queued = list(handle.events)
    assert queued + seen == list(range(300))


def test_a_value_that_is_not_a_literal_is_skipped_with_a_warning(sensor: Sensor, caplog) -> None:
    handle = sensor.odd()
    assert handle.join(30)
    assert list(handle.events) == [2]
    assert "not a literal" in caplog.text


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    events = ThreadEvents("t", maxsize=3)
    for value in range(5):
        events.deliver(value)
    events.mark_ended()
    assert list(events) == [2, 3, 4]
    assert events.dropped == 2


def test_a_full_queue_on_a_real_board_keeps_the_newest(sensor: Sensor) -> None:
    sensor.exec("go = False")
    handle = sensor.burst(50)
    handle.events.maxsize = 10
    sensor.exec("go = True")
    assert handle.join(30)
    assert list(handle.events) == list(range(40, 50))
    assert handle.events.dropped == 40
    assert sensor.add(1, 1) == 2


@pytest.mark.timeout(120)
def test_events_on_a_small_board(output: OutputCollector) -> None:
    with Sensor("emulator:pico", output=output, manager=SessionManager()) as device:
        handle = device.readings(2000)
        assert handle.result(timeout=60) == "done after 2000"
        assert list(handle.events) == list(range(2000))
        assert device.add(2, 2) == 4
