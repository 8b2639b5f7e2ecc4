"""The thermostat example driven entirely from a test, on the pico and esp32 emulator profiles."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import OutputCollector, wait_until

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "thermostat.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("thermostat_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


example = _load_example()


@pytest.fixture(params=["emulator:pico", "emulator:esp32"])
def thermostat(request: pytest.FixtureRequest, output: OutputCollector) -> Iterator[object]:
    with example.Thermostat(request.param, output=output) as dev:
        yield dev


def test_the_relay_follows_the_sensor_with_hysteresis(thermostat) -> None:
    hw = thermostat.hardware
    sensor = hw.i2c(0).attach(example.SENSOR_ADDRESS, example.TMP102(18.0))
    relay = hw.pin(example.RELAY_PIN)
    assert relay.level == 0
    assert thermostat.step() == (18.0, True)
    assert relay.level == 1
    sensor.celsius = 20.25  # inside the band: no change
    assert thermostat.step() == (20.25, True)
    sensor.celsius = 20.75
    assert thermostat.step() == (20.75, False)
    assert [edge.level for edge in relay.history] == [1, 0]
    sensor.celsius = -3.5  # negative readings decode too
    assert thermostat.step() == (-3.5, True)


def test_button_presses_raise_the_set_point_through_the_irq(thermostat) -> None:
    hw = thermostat.hardware
    hw.i2c(0).attach(example.SENSOR_ADDRESS, example.TMP102(20.0))
    button = hw.pin(example.BUTTON_PIN)
    assert button.level == 1  # pulled up
    for _ in range(3):
        button.pulse(0)
    assert thermostat.setpoint() == 21.5
    assert hw.uart(example.LOG_UART).read().splitlines() == [
        b"setpoint 20.5",
        b"setpoint 21.0",
        b"setpoint 21.5",
    ]
    assert thermostat.step() == (20.0, True)  # now below the band


def test_the_uart_logs_every_decision(thermostat) -> None:
    hw = thermostat.hardware
    hw.i2c(0).attach(example.SENSOR_ADDRESS, example.TMP102(25.0))
    log = hw.uart(example.LOG_UART)
    thermostat.step()
    assert log.readline() == b"25.00 C idle\n"


def test_a_timer_runs_the_control_loop(thermostat) -> None:
    hw = thermostat.hardware
    sensor = hw.i2c(0).attach(example.SENSOR_ADDRESS, example.TMP102(25.0))
    relay = hw.pin(example.RELAY_PIN)
    thermostat.run_every(5)
    try:
        sensor.celsius = 15.0
        wait_until(lambda: relay.level == 1, what="the timer's step to switch the heater on")
        sensor.celsius = 30.0
        wait_until(lambda: relay.level == 0, what="the timer's step to switch it off")
    finally:
        thermostat.run_every(0)


def test_a_missing_sensor_is_an_oserror_on_the_board(thermostat) -> None:
    from belayfw.errors import DeviceError

    with pytest.raises(DeviceError) as caught:
        thermostat.step()
    assert caught.value.type_name == "OSError"


def test_the_readme_way_through_the_pytest_plugin(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch
) -> None:
    monkeypatch.setenv("BELAYFW_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))
    monkeypatch.delenv("BELAYFW_PORT", raising=False)
    pytester.makepyfile(thermostat=EXAMPLE.read_text(encoding="utf-8"))
    pytester.syspathinsert()
    pytester.makepyfile(
        test_heating="""
        import pytest
        from thermostat import TMP102, Thermostat

        @pytest.mark.board(profile="pico")
        def test_heater_turns_on_when_cold(board_factory):
            dev = board_factory(Thermostat)
            assert dev.eval("__import__('sys').platform") == "rp2"
            dev.hardware.i2c(0).attach(0x48, TMP102(celsius=18.0))
            dev.step()
            assert dev.hardware.pin(15).level == 1
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
