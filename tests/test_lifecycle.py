"""Open and close: deploy once by hash, autoinit setups, teardowns in reverse order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from belayfw import Device, DeviceError, ResourceCleanupError, setup, task, teardown
from belayfw.transports.emulator import EmulatorBoard


@pytest.fixture
def board() -> Iterator[EmulatorBoard]:  # type: ignore[override]
    with EmulatorBoard() as shared:
        yield shared


class Rig(Device):
    @setup(order=2)
    def second():
        events.append("second")

    @setup(order=1)
    def first(rate=10):
        events = ["first"]
        shutdown = []
        sample_rate = rate

    @setup(autoinit=False)
    def calibrate(offset):
        events.append(("calibrate", offset))
        calibration = offset

    @task
    def log():
        return events

    @task
    def one():
        return 1

    @task
    def two():
        return 2

    @teardown
    def stop_a():
        shutdown.append("a")

    @teardown(order=5)
    def stop_late():
        shutdown.append("late-order")

    @teardown
    def stop_b():
        shutdown.append("b")


def test_autoinit_setups_run_in_order_and_args_become_globals(board: EmulatorBoard, output) -> None:
    with Rig(board.port, output=output) as rig:
        assert rig.log() == ["first", "second"]
        assert rig.eval("sample_rate") == 10
        rig.calibrate(offset=3)
        assert rig.eval("(offset, calibration)") == (3, 3)
        rig.first(rate=50)
        assert rig.eval("sample_rate") == 50


def test_teardowns_run_in_reverse_order_at_close(board: EmulatorBoard, output) -> None:
    with Rig(board.port, output=output):
        pass
    with Device(board.port, output=output) as plain:
        assert plain.eval("shutdown") == ["late-order", "b", "a"]


def test_teardowns_run_after_an_error_in_the_with_body(board: EmulatorBoard, output) -> None:
    with pytest.raises(KeyError, match="from the body"), Rig(board.port, output=output):
        raise KeyError("from the body")
    with Device(board.port, output=output) as plain:
        assert plain.eval("shutdown") == ["late-order", "b", "a"]


class Fragile(Device):
    @teardown
    def first_defined():
        done.append("first_defined")

    @teardown(ignore_errors=True)
    def ignored():
        raise OSError("sensor already off")

    @teardown
    def failing():
        raise RuntimeError("motor stuck")


def test_failing_teardown_does_not_stop_the_others(board: EmulatorBoard, output) -> None:
    device = Fragile(board.port, output=output)
    device.exec("done = []")
    with pytest.raises(ResourceCleanupError) as caught:
        device.close()
    (error,) = caught.value.exceptions
    assert isinstance(error, DeviceError)
    assert (error.type_name, error.message) == ("RuntimeError", "motor stuck")
    assert not device.is_open
    with Device(board.port, output=output) as plain:
        assert plain.eval("done") == ["first_defined"]  # ran after the two failures


def test_teardown_failure_after_body_error_is_a_note(board: EmulatorBoard, output) -> None:
    with pytest.raises(ZeroDivisionError) as caught, Fragile(board.port, output=output) as device:
        device.exec("done = []")
        1 / 0
    assert any("motor stuck" in note for note in caught.value.__notes__)


def test_deploying_twice_sends_no_function_source(board: EmulatorBoard, output) -> None:
    source_bytes = sum(len(item.text) for item in Rig.__board_sources__.values())
    with Rig(board.port, output=output) as rig:
        assert rig.deployed_bytes > source_bytes
        cold = rig.link_stats
    with Rig(board.port, output=output) as rig:
        assert rig.deployed_bytes == 0
        warm = rig.link_stats
        assert rig.one() + rig.two() == 3
    assert warm.bytes_sent < cold.bytes_sent - source_bytes
    # Warm: the probe and the setups only; no deploy, no capability detection.
    assert warm.round_trips == 2 < cold.round_trips


def test_changed_method_redeploys_only_that_method(board: EmulatorBoard, output) -> None:
    class Changed(Rig):
        @task
        def two():
            return 22

    with Rig(board.port, output=output) as rig:
        full = rig.deployed_bytes
    with Changed(board.port, output=output) as changed:
        assert 0 < changed.deployed_bytes < full / 3
        assert changed.two() == 22
        assert changed.one() == 1
    with Rig(board.port, output=output) as rig:
        assert rig.two() == 2  # the original is back, redeployed


def test_board_without_the_runtime_gets_it_once(board: EmulatorBoard, output) -> None:
    with Device(board.port, output=output) as first:
        assert first._link.transport is not None
        sent_first = first.link_stats.bytes_sent
    with Device(board.port, output=output) as second:
        assert second.link_stats.bytes_sent < sent_first / 4


def test_failing_autoinit_setup_closes_the_link(output) -> None:
    class Broken(Device):
        @setup
        def init():
            import no_such_module

    with pytest.raises(DeviceError, match="no_such_module"):
        Broken("emulator", output=output)
