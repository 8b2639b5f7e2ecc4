"""``emit`` outside a ``@thread`` body: a clear error saying what to use instead.

Found open: ``emit(value)`` in a ``@task`` gave a bare board
``DeviceError: NameError: name 'emit' isn't defined``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from belayfw import ConfigurationError, Device, DeviceError, setup, task, thread

from .conftest import OutputCollector


def test_a_task_that_calls_emit_is_refused_when_its_class_is_defined() -> None:
    with pytest.raises(ConfigurationError) as caught:

        class Streamer(Device):
            @task
            def readings(count):
                for value in range(count):
                    emit(value)  # the mistake under test

    message = str(caught.value)
    assert "Streamer.readings (@task) calls emit()" in message
    assert "only in @thread" in message
    assert "yield value" in message  # what to do instead
    lines = Path(__file__).read_text().splitlines()
    line = lines.index("                    emit(value)  # the mistake under test") + 1
    assert f"{__file__}:{line}" in message  # the host line of the call


def test_a_teardown_that_calls_emit_is_refused_too() -> None:
    from belayfw import teardown

    with pytest.raises(ConfigurationError, match="@teardown"):

        class Closing(Device):
            @teardown
            def bye():
                emit("bye")  # the mistake under test


def test_emit_the_method_or_a_setup_defines_itself_is_left_alone(output: OutputCollector) -> None:
    class OwnEmit(Device):
        @setup
        def sink():
            sent = []

            def emit(value):
                sent.append(value)

        @task
        def push(value):
            emit(value)  # the setup's board global
            return len(sent)  # the setup's board global

        @task
        def local(value):
            def emit(item):
                return item * 2

            return emit(value)

        @thread
        def ticks(count):
            for value in range(count):
                emit(value)  # a thread body's own

    with OwnEmit("emulator", output=output) as device:
        assert device.push(1) == 1
        assert device.local(4) == 8
        handle = device.ticks(2)
        assert handle.result(30) is None
        assert list(handle.events) == [0, 1]


def test_emit_reached_through_a_board_helper_names_the_fix(output: OutputCollector) -> None:
    class Indirect(Device):
        @task
        def run():
            return helper()  # defined on the board below

    with Indirect("emulator", output=output) as device:
        device.exec("def helper():\n    emit(1)\n")
        with pytest.raises(DeviceError) as caught:
            device.run()
    assert caught.value.type_name == "NameError"
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "only in @thread" in notes and "yield value" in notes
