"""Streams and events at their edges: undecodable windows, cyclic garbage, other threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from belayfw import Device, DeviceError, SerializationError, task, thread

from .test_call_identity import Interrupter

#: Streams the Ctrl-C storm reads (most are cut; a Ctrl-C during a close used to leak).
STORM_STREAMS = 200


class Edges(Device):
    @task
    def guarded(bad_at):
        global closed_at
        closed_at = None
        i = 0
        try:
            while True:
                yield object() if i == bad_at else i
                i += 1
        finally:
            closed_at = i

    @task(exclusive=True)
    def held():
        global closed_at
        closed_at = None
        i = 0
        try:
            while True:
                yield i
                i += 1
        finally:
            closed_at = i

    @task
    def add(a, b):
        return a + b

    @task
    def let_threads_go(go):
        global threads_go
        threads_go = go

    @thread
    def ticks(n):
        import time

        while not threads_go:
            time.sleep_ms(1)
        for i in range(n):
            emit(i)
        return n

    @thread
    def returns_an_object():
        return object()

    @thread
    def relays(n):
        def send_all(out, k):
            for i in range(k):
                out(i)

        send_all(emit, n)
        return n


@pytest.fixture
def edges(output) -> Iterator[Edges]:
    with Edges("emulator", output=output) as device:
        yield device


def test_a_window_the_host_cannot_decode_still_closes_the_board_generator(edges: Edges) -> None:
    with pytest.raises(SerializationError, match="not a literal"):
        list(edges.guarded(3))
    # The board generator did not end by itself: the host closed it.
    assert edges.eval("closed_at") is not None
    assert edges.eval("len(_bfw_G)") == 0
    assert list(zip(range(3), edges.guarded(-1), strict=False)) == [(0, 0), (1, 1), (2, 2)]


class _Cycle:
    stream: Any
    me: Any


@pytest.mark.timeout(120)
def test_a_stream_collected_in_the_links_reader_thread_does_not_hang_the_device(
    edges: Edges,
) -> None:
    # An open stream in a reference cycle is freed by whichever thread runs the cyclic
    # collector; here the link's reader thread (an event callback), where a board call
    # of its own would wait for a reply only that thread can read.
    cycle = _Cycle()
    cycle.me = cycle
    cycle.stream = edges.guarded(-1)
    assert next(cycle.stream) == 0
    collected = threading.Event()

    def collect(value: Any) -> None:
        gc.collect()
        collected.set()

    edges.let_threads_go(False)
    was_enabled = gc.isenabled()
    gc.disable()  # the cycle must survive until the reader thread collects it
    try:
        del cycle
        handle = edges.ticks(3)
        handle.on_event(collect)
        edges.let_threads_go(True)
        assert handle.join(30), "the reader thread hung finalising a stream"
    finally:
        if was_enabled:
            gc.enable()
    assert collected.is_set()
    assert handle.result(30) == 3
    # The dropped stream's board generator is closed by the next task call.
    assert edges.add(1, 2) == 3
    assert edges.eval("closed_at") is not None
    assert edges.eval("len(_bfw_G)") == 0


@pytest.mark.timeout(120)
def test_close_from_another_thread_ends_an_exclusive_stream(edges: Edges) -> None:
    stream = edges.held()
    assert next(stream) == 0  # this thread now holds the board
    closer = threading.Thread(target=stream.close)
    closer.start()
    closer.join(30)
    assert not closer.is_alive(), "close() from another thread hung"
    with pytest.raises(StopIteration):
        next(stream)  # the reading thread lets go of the board and closes it there
    assert edges.eval("closed_at") is not None
    answers: list[int] = []
    other = threading.Thread(target=lambda: answers.append(edges.add(2, 2)))
    other.start()
    other.join(30)
    assert answers == [4]


@pytest.mark.timeout(120)
def test_a_thread_body_can_hand_emit_to_a_function_it_calls(edges: Edges) -> None:
    handle = edges.relays(3)
    assert handle.result(30) == 3
    assert list(handle.events) == [0, 1, 2]


@pytest.mark.timeout(120)
def test_a_thread_result_that_is_not_a_literal_raises_instead_of_none(edges: Edges) -> None:
    handle = edges.returns_an_object()
    with pytest.raises(DeviceError, match="returned a value the host cannot decode"):
        handle.result(30)
    assert handle.state == "failed"


class Tagged(Device):
    @task
    def tagged(tag, n):
        for i in range(n):
            yield (tag, i)

    @task
    def add(a, b):
        return a + b


@pytest.mark.timeout(300)
def test_host_ctrl_c_at_random_moments_leaves_no_generator_on_the_board(output) -> None:
    wrong: list[object] = []
    done = cut = 0
    with Tagged("emulator", output=output, timeout=30) as device:
        with Interrupter(seed=3) as interrupter:
            for tag in range(STORM_STREAMS):
                size = 40 + tag % 50
                got: list[Any] = []
                try:
                    try:
                        interrupter.armed = True
                        for value in device.tagged(tag, size):
                            got.append(value)
                    finally:
                        interrupter.armed = False
                except KeyboardInterrupt:
                    cut += 1
                    if got != [(tag, i) for i in range(len(got))]:
                        wrong.append(("cut", tag, got[:3]))
                    continue
                done += 1
                if got != [(tag, i) for i in range(size)]:
                    wrong.append(("whole", tag, got[:3]))
        assert wrong == [], f"done {done}, cut {cut}"
        assert cut > 0
        gc.collect()
        # The next call closes any generator a Ctrl-C kept the host from closing.
        assert list(device.tagged(-1, 2)) == [(-1, 0), (-1, 1)]
        assert device.eval("len(_bfw_G)") == 0, f"done {done}, cut {cut}"
