"""A board thread's end report (return value or error): never wrong, never awaited forever.

The board sends that report once, as a frame, before its thread table says the
thread ended. A host Ctrl-C that cuts a read can drop the frame; belayfw must
then say the report was lost, not hand back ``None`` or wait for it forever.
Dropping a frame is a fault the real board cannot produce on demand, so these
tests drop it in the host's frame sink; everything else runs on the emulator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import pytest

from belayfw import (
    BelayError,
    Device,
    DeviceError,
    SessionManager,
    ThreadReportLost,
    setup,
    task,
    thread,
)
from belayfw.executors.thread import ThreadExecutor
from belayfw.output import BoardFrames

from .conftest import CallInThread, OutputCollector, wait_until


class Reporter(Device):
    @setup
    def init():
        flags = {}

    @thread
    def answer():
        return 42

    @thread
    def answer_when_told():
        import time

        while not flags.get("go"):
            time.sleep_ms(1)
        return 42

    @thread
    def breaks():
        raise ValueError("sensor unplugged")

    @thread
    def slow_to_describe():
        import time

        class Slow(Exception):
            def __str__(self):
                flags["describing"] = True
                while not flags.get("go"):
                    time.sleep_ms(1)
                return "slow to describe"

        raise Slow()

    @thread
    def unprintable():
        class Odd(Exception):
            def __str__(self):
                raise RuntimeError("no words for it")

        raise Odd()

    @thread
    def pings_later():
        import time

        time.sleep_ms(200)  # after its start's reply: the idle drainer reads the event
        emit("ping")

    @task
    def flag(name):
        return flags.get(name, False)

    @task
    def release():
        flags["go"] = True

    @task
    def shout():
        print("now")
        return 1


@pytest.fixture
def reporter(output: OutputCollector) -> Iterator[Reporter]:
    with Reporter("emulator", output=output) as device:
        yield device


@pytest.fixture
def lose_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop every thread return (f) and failure (x) frame, as a cut read would."""
    deliver: Callable[[BoardFrames, str, bytes], None] = BoardFrames.__call__

    def dropping(self: BoardFrames, tag: str, payload: bytes) -> None:
        if tag not in ("f", "x"):
            deliver(self, tag, payload)

    monkeypatch.setattr(BoardFrames, "__call__", dropping)


def cut_a_call(device: Reporter, output: OutputCollector) -> None:
    """Make a host Ctrl-C cut a call, at the instant its output is handed over."""

    def interrupted(text: str) -> None:
        output(text)
        if "now" in text:
            raise KeyboardInterrupt

    device._board.current.repl.parser.sinks.on_output = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            device.shout()
    finally:
        device._board.current.repl.parser.sinks.on_output = output


@pytest.mark.usefixtures("lose_reports")
def test_a_lost_return_value_is_reported_lost_never_none(reporter: Reporter) -> None:
    handle = reporter.answer()
    wait_until(lambda: not handle.alive, what="the board to say the thread ended")
    assert handle.state == "finished"
    with pytest.raises(ThreadReportLost, match="return value never reached the host"):
        handle.result()


@pytest.mark.usefixtures("lose_reports")
def test_a_lost_error_is_reported_lost(reporter: Reporter) -> None:
    handle = reporter.breaks()
    wait_until(lambda: not handle.alive, what="the board to say the thread ended")
    assert handle.state == "failed"
    error = handle.exception()
    assert isinstance(error, ThreadReportLost)
    assert "error never reached the host" in str(error)


@pytest.mark.usefixtures("lose_reports")
def test_join_never_waits_for_a_report_a_host_ctrl_c_cut(
    reporter: Reporter, output: OutputCollector
) -> None:
    handle = reporter.answer()
    cut_a_call(reporter, output)
    assert handle.join(timeout=30)  # before: False after 30 s, and forever without a timeout
    with pytest.raises(ThreadReportLost):
        handle.result()
    assert reporter.eval("1 + 2") == 3  # the device carries on


def test_after_a_cut_a_report_that_arrives_is_used(
    reporter: Reporter, output: OutputCollector
) -> None:
    handle = reporter.answer_when_told()
    cut_a_call(reporter, output)
    reporter.release()
    assert handle.join(timeout=30)  # it asks the board now; the report still counts
    assert handle.result() == 42


def test_a_failing_thread_is_running_until_its_error_is_sent(reporter: Reporter) -> None:
    # Its error is formatted (here, slowly) before the board says it failed: a host
    # that reads "failed" has the error, never a bare "failed" with no exception.
    handle = reporter.slow_to_describe()
    wait_until(lambda: reporter.flag("describing"), what="the thread to format its error")
    assert handle.state == "running"
    reporter.release()
    with pytest.raises(DeviceError, match="slow to describe"):
        handle.result(timeout=30)
    assert handle.state == "failed"


@pytest.mark.timeout(120)
def test_join_after_a_cut_is_not_held_up_by_another_caller(
    reporter: Reporter, output: OutputCollector
) -> None:
    # After a Ctrl-C, join asks the board; while another host thread holds the
    # board it must not wait for it: the report still arrives (the idle drainer
    # reads it). Before, join waited for the holder (for good, had it waited on us).
    handle = reporter.answer_when_told()
    cut_a_call(reporter, output)
    held, let_go = threading.Event(), threading.Event()

    def holder() -> None:
        with reporter.hold():
            reporter.release()
            held.set()
            let_go.wait(90)

    holding = threading.Thread(target=holder, daemon=True)
    holding.start()
    try:
        assert held.wait(30)
        joiner = CallInThread(lambda: handle.join(timeout=30))
        assert joiner.outcome() is True
        assert handle.result() == 42
    finally:
        let_go.set()
        holding.join(30)


def test_a_thread_whose_error_cannot_be_formatted_still_reports_it(reporter: Reporter) -> None:
    # Its __str__ raises: before, the board sent no report at all and set 'failed',
    # so join waited forever and result() blamed a host Ctrl-C that never happened.
    handle = reporter.unprintable()
    with pytest.raises(DeviceError, match="could not be formatted") as caught:
        handle.result(timeout=30)
    assert caught.value.type_name == "Odd"
    assert handle.state == "failed"
    assert reporter.eval("1 + 2") == 3


class Fragile(Device):
    @thread(restart=True)
    def fragile():
        import time

        while armed:  # gone after a reset: the restarted thread fails at once
            time.sleep_ms(5)

    @thread
    def other():
        import time

        while True:
            time.sleep_ms(5)


@pytest.mark.timeout(120)
def test_a_restarted_thread_that_fails_before_its_start_is_read_reports_it(
    output: OutputCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Fragile("emulator", output=output, manager=SessionManager()) as device:
        device.exec("armed = True")
        lost = device.other()  # id 1, which the restarted thread gets again on the new board
        handle = device.fragile()
        start = ThreadExecutor._start

        def start_then_let_it_fail(executor: ThreadExecutor, *args: object) -> int:
            # The board thread can end before the host reads the reply that names it
            # (the race is rare): hold the host back until it has, reading meanwhile.
            thread_id: int = start(executor, *args)
            wait_until(
                lambda: device.eval(f"_bfw_TH[{thread_id}][1]") != "running",
                what="the restarted thread to fail",
            )
            return thread_id

        monkeypatch.setattr(ThreadExecutor, "_start", start_then_let_it_fail)
        device.soft_reset()
        # Before: its failure went to the old handle with that id (lost -> failed) and
        # this one waited for good.
        with pytest.raises(DeviceError, match="armed"):
            handle.result(timeout=30)
        assert lost.state == "lost"


def test_a_callback_that_calls_the_device_is_refused_never_hung(reporter: Reporter) -> None:
    # The event comes while the host is idle: the idle drainer runs the callback,
    # holding the link. Before, the call inside waited for that lock for good.
    outcome: queue.Queue[object] = queue.Queue()

    def callback(value: object) -> None:
        try:
            outcome.put(reporter.eval("1 + 2"))
        except BelayError as error:
            outcome.put(error)

    handle = reporter.pings_later()
    handle.on_event(callback)
    refused = outcome.get(timeout=30)
    assert isinstance(refused, BelayError), refused
    assert "own output callback" in str(refused)
    assert reporter.eval("1 + 2") == 3


def test_join_inside_a_callback_after_a_cut_never_hangs_the_link(
    reporter: Reporter, output: OutputCollector
) -> None:
    # After a Ctrl-C, join asks the board; from the drainer's callback it must not.
    running = reporter.answer_when_told()
    cut_a_call(reporter, output)
    outcome: queue.Queue[object] = queue.Queue()
    handle = reporter.pings_later()
    handle.on_event(lambda value: outcome.put(running.join(timeout=0)))
    assert outcome.get(timeout=30) is False
    reporter.release()
    assert running.result(timeout=30) == 42
