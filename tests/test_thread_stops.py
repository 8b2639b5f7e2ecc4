"""A stop request ends a board thread at its next sleep, wherever in its call tree it sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from belayfw import Device, DeviceError, setup, task, thread

from .conftest import wait_until


class Napper(Device):
    @setup
    def init():
        import time
        from time import sleep

        laps = {}
        spin = [True]

        def lap(key):
            laps[key] = laps.get(key, 0) + 1

        def nap_in_a_loop(key):  # a plain board function, defined by a setup
            while True:
                lap(key)
                sleep(0.01)

        def stubborn_nap(key):  # catches Exception around its sleep: a stop is not one
            while True:
                lap(key)
                try:
                    sleep(0.01)
                except Exception:
                    lap("caught")

    @task
    def spin_us(key):
        from time import sleep_us

        while True:
            lap(key)
            sleep_us(500)

    @task
    def outer(key):
        middle(key)

    @task
    def middle(key):
        inner(key)

    @task
    def inner(key):
        import utime

        while True:
            lap(key)
            utime.sleep_ms(5)

    @thread
    def bare_sleep():
        from time import sleep

        sleep(600)

    @thread
    def setup_sleep():
        sleep(600)

    @thread
    def bare_sleep_ms():
        from time import sleep_ms

        sleep_ms(600_000)

    @thread
    def in_helper(key):
        nap_in_a_loop(key)

    @thread
    def in_helper_us(key):
        spin_us(key)

    @thread
    def nested(key):
        outer(key)

    @thread
    def stubborn(key):
        stubborn_nap(key)

    @task
    def busy(key, checkpoint):
        while spin[0]:
            lap(key)
            if checkpoint:
                time.sleep_ms(0)

    @thread
    def busy_in_helper(key, checkpoint):
        busy(key, checkpoint)

    @task
    def lapped(key):
        return laps.get(key, 0)

    @thread
    def measure_thread_sleeps():
        laps["thread"] = _measure()

    @task
    def measure_task_sleeps():
        return _measure()

    @setup
    def measuring():
        def _measure():
            # (requested, slept) in microseconds, measured on the board
            import time

            out = []
            for sleep, amount, scale in (
                (time.sleep, 0.0453, 1_000_000),
                (time.sleep, 0, 1),
                (time.sleep_ms, 47, 1000),
                (time.sleep_us, 1500, 1),
                (time.sleep_us, 23456, 1),
            ):
                start = time.ticks_us()
                sleep(amount)
                out.append((int(amount * scale), time.ticks_diff(time.ticks_us(), start)))
            return out


@pytest.fixture
def napper(output) -> Iterator[Napper]:
    with Napper("emulator", output=output) as device:
        yield device


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(lambda d: d.bare_sleep(), id="from-time-import-sleep-in-the-thread"),
        pytest.param(lambda d: d.setup_sleep(), id="sleep-imported-by-a-setup"),
        pytest.param(lambda d: d.bare_sleep_ms(), id="bare-sleep_ms"),
        pytest.param(lambda d: d.in_helper("h"), id="loop-in-a-setup-function"),
        pytest.param(lambda d: d.in_helper_us("u"), id="sleep_us-loop-in-a-task"),
        pytest.param(lambda d: d.nested("n"), id="three-nested-tasks-utime"),
        pytest.param(lambda d: d.stubborn("s"), id="helper-catching-Exception"),
    ],
)
def test_stop_ends_a_thread_sleeping_anywhere(napper: Napper, start) -> None:  # type: ignore[no-untyped-def]
    handle = start(napper)
    assert handle.alive
    assert handle.stop(timeout=10)  # every sleep above is longer, or endless
    assert handle.state == "stopped"
    assert napper.lapped("after") == 0  # the device carries on


def test_stopped_helper_loop_really_stops(napper: Napper) -> None:
    handle = napper.nested("n")
    assert handle.stop(timeout=10)
    laps = napper.lapped("n")
    napper.exec("import time\ntime.sleep_ms(50)")
    assert napper.lapped("n") == laps


def test_close_stops_threads_sleeping_in_helpers(output) -> None:
    device = Napper("emulator", output=output)
    handles = [device.in_helper("a"), device.nested("b"), device.bare_sleep(), device.stubborn("c")]
    device.close()  # raises ThreadStillRunning if any survived
    assert [handle.state for handle in handles] == ["stopped"] * 4


def test_sleeps_last_at_least_what_was_asked(napper: Napper) -> None:
    """In a belayfw thread sleeps are sliced; in a task they are plain. Neither is short.

    Load can only lengthen a sleep, so this is a floor, not a timing assert; the
    unix port's own sleep_ms can end up to a millisecond early by ticks_us.
    """
    for requested, slept in napper.measure_task_sleeps():
        assert slept >= requested - 1000
    handle = napper.measure_thread_sleeps()
    wait_until(lambda: handle.state != "running", what="the measuring thread to finish")
    assert handle.state == "finished"
    for requested, slept in napper.eval("laps['thread']"):
        assert slept >= requested - 1000


def test_time_stays_a_working_module(napper: Napper) -> None:
    assert napper.eval("repr(time)") == "<module 'time'>"
    assert napper.eval("time.ticks_diff(time.ticks_ms(), time.ticks_ms()) <= 0")
    with pytest.raises(DeviceError) as caught:
        napper.eval("time.sleep('1')")
    assert caught.value.type_name == "TypeError"


def test_a_busy_helper_loop_is_the_documented_limit_and_sleep_ms_0_lifts_it(
    napper: Napper,
) -> None:
    """docs/programming-model.md: a sleepless loop outside the thread body cannot be stopped."""
    spinning = napper.busy_in_helper("spin", False)
    # Inside its loop already: a thread stopped before it runs ends 'stopped' whatever its body.
    wait_until(lambda: napper.lapped("spin") > 0, what="the busy thread to loop")
    assert not spinning.stop(timeout=0.2)
    assert spinning.state == "running"
    checked = napper.busy_in_helper("checked", True)
    assert checked.stop(timeout=10)
    assert checked.state == "stopped"
    napper.exec("spin[0] = False")  # let the first one end by itself
    wait_until(lambda: spinning.state != "running", what="the busy thread to end")
    assert spinning.state == "finished"
