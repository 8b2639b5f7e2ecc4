"""Board threads: handles, stopping, output, failures, and cleanup at close."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator

import pytest

from belayfw import Device, DeviceError, FeatureUnavailable, ThreadHandle, setup, task, thread
from belayfw.transports.emulator import EmulatorBoard

from .conftest import wait_until


class Worker(Device):
    @setup
    def init():
        import time

        counts = {}

    @thread
    def counter(key, period_ms):
        counts[key] = 0
        while True:
            counts[key] += 1
            time.sleep_ms(period_ms)

    @thread(name="ticker")
    def ticks(limit):
        for n in range(limit):
            print("tick", n)
            time.sleep_ms(2)
        print("ticker done")

    @thread
    def sleeper():
        time.sleep(60)

    @thread
    def walker():
        for n in range(10**9):
            counts["walked"] = n

    @thread
    def crasher():
        time.sleep_ms(10)
        raise KeyError("missing sensor")

    @thread
    def short():
        counts["short"] = 1

    @task
    def count(key):
        return counts.get(key, 0)

    @task
    def square(x):
        return x * x


@pytest.fixture
def worker(output) -> Iterator[Worker]:
    with Worker("emulator", output=output) as device:
        yield device


def test_thread_returns_a_live_handle_and_stops(worker: Worker) -> None:
    handle = worker.counter("a", 5)
    assert isinstance(handle, ThreadHandle)
    assert handle.name == "counter"
    assert handle.alive
    assert handle.stop(timeout=10)
    assert not handle.alive
    assert handle.state == "stopped"
    stopped_at = worker.count("a")
    assert worker.square(3) == 9
    assert worker.count("a") == stopped_at  # it really stopped counting


def test_stop_interrupts_a_long_sleep_and_a_for_loop(worker: Worker) -> None:
    sleeping = worker.sleeper()
    walking = worker.walker()
    assert sleeping.stop(timeout=10)
    assert walking.stop(timeout=10)
    assert (sleeping.state, walking.state) == ("stopped", "stopped")


def test_thread_stopped_before_it_runs_ends_stopped_not_finished(worker: Worker) -> None:
    """Regression: a stop request that lands before the thread's first line made it 'finished'.

    The board runtime is driven directly so the stop request deterministically
    comes first: the thread id is marked for stopping before the thread starts.
    """
    worker.exec(
        "def _never_runs():\n"
        "    global ran\n"
        "    ran = True\n"
        "ran = False\n"
        "_early = _bfw_N + 1\n"
        "_bfw_SR.add(_early)\n"
        "_bfw_ts('early', _never_runs)\n"
    )
    wait_until(
        lambda: worker.eval("_bfw_TH[_early][1]") != "running", what="the early thread to end"
    )
    assert worker.eval("_bfw_TH[_early][1]") == "stopped"
    assert worker.eval("ran") is False


def test_threads_stopped_at_once_always_report_stopped(worker: Worker) -> None:
    for n in range(20):
        handle = worker.counter(f"quick{n}", 5)
        assert handle.stop(timeout=10)
        assert handle.state == "stopped"


def test_thread_output_is_named_and_never_corrupts_tasks(worker: Worker, output) -> None:
    worker.ticks(300)
    for value in range(300):
        assert worker.square(value) == value * value
    text = output.wait_for(lambda text: "[ticker] ticker done\n" in text)
    ticks = [line for line in text.splitlines() if line.startswith("[ticker] tick ")]
    assert ticks == [f"[ticker] tick {n}" for n in range(300)]


def test_thread_that_finishes_reports_finished(worker: Worker) -> None:
    handle = worker.short()
    assert worker.count("short") == 1 or handle.state in ("running", "finished")
    handle.stop(timeout=10)
    assert handle.state in ("finished", "stopped")
    assert not handle.alive


def test_unhandled_exception_is_reported_on_the_host(worker: Worker, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        handle = worker.crasher()
        error = handle.wait_error(timeout=30)
    assert isinstance(error, DeviceError)
    assert error.type_name == "KeyError"
    lines, first = inspect.getsourcelines(Worker.crasher.__wrapped__)
    raise_line = first + next(i for i, line in enumerate(lines) if "raise KeyError" in line)
    assert f'File "{__file__}", line {raise_line}, in crasher' in error.board_traceback
    assert handle.state == "failed"
    assert "board thread crasher failed" in caplog.text


def test_failure_reported_before_the_start_reply_reaches_its_handle(worker: Worker) -> None:
    """Regression: a thread that fails before the board replies to its start was lost.

    The board's start call is made to reply late, so the failure report always
    comes first (as it can on a loaded machine).
    """
    worker.exec(
        "_bfw_ts_now = _bfw_ts\n"
        "def _bfw_ts(*a, **k):\n"
        "    t = _bfw_ts_now(*a, **k)\n"
        "    time.sleep_ms(100)\n"
        "    return t\n"
    )
    handle = worker.crasher()
    error = handle.wait_error(timeout=30)
    assert isinstance(error, DeviceError)
    assert error.type_name == "KeyError"
    assert handle.state == "failed"


def test_twenty_threads_are_all_stopped_at_close(output) -> None:
    with EmulatorBoard() as board:
        with Worker(board.port, output=output) as device:
            # The unix port has no GIL: twenty threads inserting keys into one dict
            # at once can lose some. The keys exist first, so the threads only
            # replace values (board code shared between threads needs the same care).
            device.exec("counts.update({'t%d' % n: 0 for n in range(20)})")
            handles = [device.counter(f"t{n}", 3) for n in range(20)]
            assert all(handle.alive for handle in handles)
            assert len(device.threads) == 20
        assert [handle.state for handle in handles] == ["stopped"] * 20
        with Device(board.port, output=output) as inspector:
            assert inspector.eval("[t for t in _bfw_TH.values() if t[1] == 'running']") == []
            before = inspector.eval("sum(counts.values())")
            assert inspector.exec("import time\ntime.sleep_ms(30)") == ""
            assert inspector.eval("sum(counts.values())") == before  # nothing counts any more


def test_board_without_threads_raises_feature_unavailable(worker: Worker) -> None:
    worker.exec("_bfw_thr = None")
    with pytest.raises(FeatureUnavailable, match=r"counter needs _thread"):
        worker.counter("x", 5)
