"""Tasks on the real board: calls, output, caching, timeouts, exclusivity, retries, streams."""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from belayfw import (
    Device,
    DeviceDisconnected,
    DeviceError,
    SerializationError,
    TaskTimeout,
    setup,
    task,
)
from belayfw.executors import task as task_module


class Calculator(Device):
    @setup
    def init():
        calls = []

    @task
    def add(a, b):
        return a + b

    @task
    def nothing():
        pass

    @task
    def chatty(x):
        print("working on", x)
        return x * 2

    @task
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    @task
    def sum_of_fibs(n):
        return sum(fib(i) for i in range(n))

    @task
    def options(a, b=2, *rest, scale=1, **extra):
        return [a, b, list(rest), scale, extra]

    @task
    def with_self(self, x):
        return x + 1

    @task(cache=True)
    def counted(x):
        calls.append(x)
        return [x, len(calls)]

    @task(cache=True, ttl=10.0)
    def fresh(x):
        calls.append(x)
        return len(calls)

    @task(timeout=0.3)
    def spin():
        while True:
            pass

    @task
    def fails():
        raise ValueError("mapped to the host")

    @task
    def readings(n, pause_ms=0):
        import time

        for i in range(n):
            time.sleep_ms(pause_ms)
            yield i * 10

    @task(exclusive=True)
    def exclusive_readings(n, pause_ms):
        import time

        for i in range(n):
            time.sleep_ms(pause_ms)
            yield i

    @task
    def broken_stream():
        yield 1
        raise RuntimeError("stream broke")

    @task(retries=2)
    def slow_add(a, b):
        import time

        time.sleep_ms(400)
        return a + b

    @task
    def slow_once(a):
        import time

        time.sleep_ms(400)
        return a


@pytest.fixture
def calc(output) -> Iterator[Calculator]:
    with Calculator("emulator", output=output) as device:
        yield device


def _kill_quietly(pid: int) -> None:
    """SIGKILL a board process; it may already be gone when the timer fires."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_call_is_one_round_trip(calc: Calculator) -> None:
    before = calc.link_stats.round_trips
    assert calc.add(1, 2) == 3
    assert calc.add(a=2, b=5) == 7
    assert calc.link_stats.round_trips == before + 2


def test_task_returning_none(calc: Calculator) -> None:
    assert calc.nothing() is None


def test_task_that_prints_and_returns(calc: Calculator, output) -> None:
    assert calc.chatty(21) == 42
    output.wait_for(lambda text: "working on 21\n" in text)


def test_tasks_call_each_other_and_recurse(calc: Calculator) -> None:
    assert calc.fib(15) == 610
    assert calc.sum_of_fibs(10) == 88


def test_arguments_defaults_varargs_and_keywords(calc: Calculator) -> None:
    assert calc.options(1) == [1, 2, [], 1, {}]
    assert calc.options(1, 3, 4, 5, scale=2, unit="V") == [1, 3, [4, 5], 2, {"unit": "V"}]
    assert calc.with_self(1) == 2


def test_bad_arguments_fail_on_the_host(calc: Calculator) -> None:
    before = calc.link_stats.bytes_sent
    with pytest.raises(TypeError, match=r"add\(\): missing a required argument: 'b'"):
        calc.add(1)
    with pytest.raises(SerializationError, match="has type object"):
        calc.add(1, object())
    assert calc.link_stats.bytes_sent == before


def test_cached_call_makes_no_round_trip(calc: Calculator) -> None:
    first = calc.counted(1)
    before = calc.link_stats.round_trips
    assert calc.counted(1) == first
    assert calc.link_stats.round_trips == before
    assert calc.counted(2) == [2, 2]  # other arguments: a real call
    assert calc.link_stats.round_trips == before + 1


def test_cached_values_are_copies(calc: Calculator) -> None:
    value = calc.counted(5)
    value.append("mutated")
    assert "mutated" not in calc.counted(5)


def test_cache_expires_after_ttl(calc: Calculator, mocker) -> None:
    now = [1000.0]
    mocker.patch.object(task_module.time, "monotonic", side_effect=lambda: now[0])
    first = calc.fresh(1)
    assert calc.fresh(1) == first
    now[0] += 9.9
    assert calc.fresh(1) == first
    now[0] += 0.2
    assert calc.fresh(1) == first + 1  # expired: the board ran it again


def test_timeout_interrupts_and_board_stays_usable(calc: Calculator) -> None:
    with pytest.raises(TaskTimeout):
        calc.spin()
    assert calc.add(2, 2) == 4


def test_board_traceback_points_at_the_host_line(calc: Calculator) -> None:
    with pytest.raises(DeviceError) as caught:
        calc.fails()
    lines, first = inspect.getsourcelines(Calculator.fails.__wrapped__)
    raise_line = first + next(i for i, line in enumerate(lines) if "raise ValueError" in line)
    assert f'File "{__file__}", line {raise_line}, in fails' in caught.value.board_traceback
    assert "_bfw_" not in caught.value.board_traceback
    assert caught.value.type_name == "ValueError"


def test_generator_streams_values(calc: Calculator) -> None:
    assert list(calc.readings(5)) == [0, 10, 20, 30, 40]


def test_abandoned_generator_is_freed_on_the_board(calc: Calculator) -> None:
    stream = calc.readings(100)
    assert next(stream) == 0
    assert next(stream) == 10
    assert calc.eval("len(_bfw_G)") == 1
    stream.close()
    assert calc.eval("len(_bfw_G)") == 0
    for value in calc.readings(100):
        if value == 20:
            break  # the for loop drops the iterator: CPython closes it at once
    assert calc.eval("len(_bfw_G)") == 0


def test_generator_error_is_raised_and_cleaned(calc: Calculator) -> None:
    stream = calc.broken_stream()
    assert next(stream) == 1
    with pytest.raises(DeviceError, match="stream broke"):
        next(stream)
    assert calc.eval("len(_bfw_G)") == 0


def test_exclusive_task_keeps_other_calls_out(calc: Calculator) -> None:
    other_done = threading.Event()

    def other_call() -> None:
        calc.add(1, 1)
        other_done.set()

    other = threading.Thread(target=other_call)
    values = []
    for value in calc.exclusive_readings(4, 50):
        values.append(value)
        if value == 0:
            other.start()
            # While the exclusive stream runs, the other call must not get through.
            assert not other_done.wait(0.3)
    assert values == [0, 1, 2, 3]
    other.join(timeout=10)
    assert other_done.is_set()


def test_non_exclusive_stream_lets_other_calls_in(calc: Calculator) -> None:
    other_done = threading.Event()
    other = threading.Thread(target=lambda: (calc.add(1, 1), other_done.set()))
    for value in calc.readings(4, 50):
        if value == 0:
            other.start()
            assert other_done.wait(5)
    other.join(timeout=10)


def _kill_board_soon(device: Device) -> int:
    pid = device._link.transport.pid  # type: ignore[attr-defined]
    threading.Timer(0.15, _kill_quietly, args=(pid,)).start()
    return pid


def test_retries_reconnect_after_a_disconnect(calc: Calculator, mocker) -> None:
    mocker.patch.object(task_module, "RETRY_BACKOFF_BASE", 0.01)
    first_pid = _kill_board_soon(calc)
    assert calc.slow_add(2, 3) == 5
    assert calc._link.transport.pid != first_pid  # type: ignore[attr-defined]
    assert calc.eval("calls") == []  # setup ran again on the new board


def test_without_retries_a_disconnect_is_raised(calc: Calculator) -> None:
    _kill_board_soon(calc)
    with pytest.raises(DeviceDisconnected):
        calc.slow_once(1)
