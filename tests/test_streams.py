"""Generator tasks stream in windows of values: few turnarounds, early close, send, timeouts."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from belayfw import Device, DeviceError, SessionManager, StreamSendError, TaskTimeout, task
from belayfw.streams import MAX_WINDOW, BoardStream
from tests.conftest import wait_until


class Streamer(Device):
    @task
    def count(n):
        yield from range(n)

    @task
    def mixed():
        yield b"\x00\x03raw"
        yield "text\x04"
        yield (1, [2.5, None], {"k": True})

    @task
    def guarded(n):
        global closed_at
        closed_at = None
        i = 0
        try:
            while i < n:
                yield i
                i += 1
        finally:
            closed_at = i

    @task
    def paced(n, pause_ms):
        import time

        for i in range(n):
            time.sleep_ms(pause_ms)
            yield i

    @task(timeout=0.5)
    def stalls():
        import time

        yield 1
        yield 2
        time.sleep_ms(60000)
        yield 3

    @task(timeout=30)
    def hangs():
        import time

        yield 1
        time.sleep_ms(60000)
        yield 2

    @task
    def fails_after(n):
        yield from range(n)
        raise ValueError("stream broke after " + str(n))

    @task
    def add(a, b):
        return a + b


@pytest.fixture
def streamer(output) -> Iterator[Streamer]:
    with Streamer("emulator", output=output) as device:
        yield device


def test_values_arrive_in_order_in_few_turnarounds(streamer: Streamer) -> None:
    before = streamer.link_stats.round_trips
    values = list(streamer.count(20_000))
    assert values == list(range(20_000))
    turnarounds = streamer.link_stats.round_trips - before
    assert turnarounds <= 2 + 20_000 // MAX_WINDOW + 12  # start + windows while they grow


def test_any_literal_streams_intact(streamer: Streamer) -> None:
    assert list(streamer.mixed()) == [b"\x00\x03raw", "text\x04", (1, [2.5, None], {"k": True})]


def test_an_empty_generator_ends_at_once(streamer: Streamer) -> None:
    assert list(streamer.count(0)) == []
    assert streamer.eval("len(_bfw_G)") == 0


def test_closing_early_stops_the_board_generator(streamer: Streamer) -> None:
    stream = streamer.guarded(1_000_000)
    assert isinstance(stream, BoardStream)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    # It ran at most one window ahead, and its finally block ran on the board.
    closed_at = streamer.eval("closed_at")
    assert 3 <= closed_at <= 3 + MAX_WINDOW
    assert streamer.eval("len(_bfw_G)") == 0
    with pytest.raises(StopIteration):
        next(stream)


def test_a_with_block_and_a_dropped_iterator_close_it(streamer: Streamer) -> None:
    with streamer.guarded(1_000_000) as stream:
        assert next(stream) == 0
    assert streamer.eval("closed_at") is not None
    assert streamer.eval("len(_bfw_G)") == 0
    for value in streamer.guarded(1_000_000):
        if value == 5:
            break  # the loop drops the stream: CPython closes it at once
    assert streamer.eval("closed_at") is not None
    assert streamer.eval("len(_bfw_G)") == 0


def test_send_none_is_next_and_a_value_is_refused_clearly(streamer: Streamer) -> None:
    stream = streamer.count(10)
    assert stream.send(None) == 0
    with pytest.raises(StreamSendError, match="runs ahead of the host"):
        stream.send(5)
    assert next(stream) == 1  # the stream goes on
    assert list(stream) == list(range(2, 10))


def test_a_slow_generator_sends_each_value_when_made(streamer: Streamer) -> None:
    stream = streamer.paced(4, 50)
    assert list(stream) == [0, 1, 2, 3]
    # Each value took longer than a window waits, so each came in a window of its
    # own; one more window found the end.
    assert stream.windows == 5


def test_values_before_an_error_arrive_then_the_error(streamer: Streamer) -> None:
    stream = streamer.fails_after(5)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(DeviceError, match="stream broke after 5"):
        next(stream)
    assert streamer.eval("len(_bfw_G)") == 0
    assert streamer.add(1, 2) == 3


def test_the_timeout_applies_to_each_window(streamer: Streamer) -> None:
    stream = streamer.stalls()
    with pytest.raises(TaskTimeout):
        list(stream)
    assert streamer.eval("len(_bfw_G)") == 0
    assert streamer.add(2, 3) == 5


class PacedWithTimeout(Streamer):
    @task(timeout=0.5)
    def paced(n, pause_ms):  # type: ignore[override]
        import time

        for i in range(n):
            time.sleep_ms(pause_ms)
            yield i


def test_a_paced_stream_outlives_its_per_window_timeout(output) -> None:
    # About 0.8 s in all against a 0.5 s timeout: the timeout is each window's.
    with PacedWithTimeout("emulator", output=output) as device:
        assert list(device.paced(8, 100)) == list(range(8))


@pytest.mark.timeout(120)
def test_a_board_interrupt_mid_stream_leaves_the_link_usable(streamer: Streamer) -> None:
    stream = streamer.hangs()
    interrupter = threading.Thread(
        target=lambda: wait_until(streamer.interrupt, what="the window to be interruptible")
    )
    interrupter.start()
    with pytest.raises(DeviceError, match="KeyboardInterrupt"):
        list(stream)
    interrupter.join(timeout=30)
    assert streamer.add(1, 1) == 2
    assert streamer.eval("len(_bfw_G)") == 0
    assert list(streamer.count(5)) == [0, 1, 2, 3, 4]


@pytest.mark.timeout(120)
def test_a_host_ctrl_c_mid_stream_leaves_the_link_usable(streamer: Streamer) -> None:
    repl = streamer._board.current.repl
    main = threading.get_ident()

    felt = threading.Event()

    def press_ctrl_c() -> None:
        wait_until(lambda: repl._busy and repl.parser.interruptible, what="the window to run")
        # Python drops a KeyboardInterrupt raised while the main thread runs a __del__
        # (garbage that earlier tests left, collected at any allocation): a user would
        # press again, and so does this, until the main thread has felt one.
        while not felt.is_set():
            signal.pthread_kill(main, signal.SIGINT)
            felt.wait(5)

    stream = streamer.hangs()
    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        try:
            next(stream)
        finally:
            felt.set()
    presser.join(timeout=30)
    with pytest.raises(StopIteration):
        next(stream)  # a stream cut by Ctrl-C is over
    assert streamer.add(4, 4) == 8
    assert streamer.eval("len(_bfw_G)") == 0
    assert list(streamer.count(3)) == [0, 1, 2]


def test_a_host_ctrl_c_in_the_loop_body_closes_the_stream(streamer: Streamer) -> None:
    with pytest.raises(KeyboardInterrupt):
        for value in streamer.guarded(1_000_000):
            if value == 7:
                raise KeyboardInterrupt
    assert streamer.eval("closed_at") is not None
    assert streamer.eval("len(_bfw_G)") == 0


@pytest.mark.timeout(120)
def test_a_long_stream_fits_a_small_board(output) -> None:
    with Streamer("emulator:pico", output=output, manager=SessionManager()) as device:
        total = 0
        count = 0
        for value in device.count(60_000):
            total += value
            count += 1
        assert count == 60_000 and total == sum(range(60_000))
        assert device.add(1, 2) == 3


def test_a_class_without_streams_does_not_carry_their_board_code(board: Device) -> None:
    assert board.eval("'_bfw_gw' in globals()") is False
