"""Emulator profiles look like their boards: platform, port modules, machine, resets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from belayfw import BoardReset, Device, DeviceError, setup, task
from belayfw.session import SessionManager, SessionState
from belayfw.transports.emulator import EmulatorBoard
from tests.conftest import wait_until

PLATFORMS = {"unix": "linux", "pico": "rp2", "esp32": "esp32"}
PORT_MODULES = {"unix": (), "pico": ("rp2",), "esp32": ("esp32",)}


class Logger(Device):
    """Board code that must survive a reset of the board it runs on."""

    @setup
    def init():
        boots = globals().get("boots", 0) + 1

    @task
    def note(text):
        with open("notes.txt", "a") as f:
            f.write(text)

    @task
    def notes():
        with open("notes.txt") as f:
            return f.read()

    @task
    def boot_count():
        return boots


@pytest.fixture(params=list(PLATFORMS))
def profile(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def logger(profile: str) -> Iterator[Logger]:
    with Logger(f"emulator:{profile}", output=lambda text: None, manager=SessionManager()) as dev:
        yield dev


def board_error(device: Device, code: str) -> DeviceError:
    with pytest.raises(DeviceError) as caught:
        device.exec(code)
    return caught.value


def test_sys_platform_is_the_boards(logger: Logger, profile: str) -> None:
    platform = PLATFORMS[profile]
    assert logger.eval("__import__('sys').platform") == platform
    assert logger.exec("from sys import platform\nprint(platform)") == f"{platform}\n"
    # The rest of sys is the real module's: paths, streams, version.
    assert logger.eval("__import__('sys').path[1]") == "/rom"
    assert logger.exec("import sys\nsys.stdout.write('out')") == "out"
    assert logger.capabilities.platform == platform


def test_port_modules_exist_only_on_their_profile(logger: Logger, profile: str) -> None:
    for module in ("rp2", "esp32"):
        if module in PORT_MODULES[profile]:
            logger.exec(f"import {module}")
        else:
            error = board_error(logger, f"import {module}")
            assert error.type_name == "ImportError" and module in error.message


def test_rp2_pio_programs_define_but_do_not_run() -> None:
    with Device("emulator:pico", output=lambda text: None, manager=SessionManager()) as dev:
        dev.exec(
            "import rp2\n@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)\ndef blink():\n    set(pins, 1)\n"
        )
        error = board_error(dev, "rp2.StateMachine(0, blink, freq=2000)")
        assert error.type_name == "NotImplementedError" and "PIO" in error.message
        assert dev.eval("rp2.bootsel_button()") == 0


def test_esp32_module_answers_common_calls() -> None:
    with Device("emulator:esp32", output=lambda text: None, manager=SessionManager()) as dev:
        assert isinstance(dev.eval("__import__('esp32').raw_temperature()"), int)
        total, free, _, _ = dev.eval("__import__('esp32').idf_heap_info(4)[0]")
        assert 0 < free <= total
        error = board_error(dev, "import esp32\nesp32.RMT(0)")
        assert error.type_name == "AttributeError"


def test_machine_has_the_ports_system_functions(logger: Logger, profile: str) -> None:
    logger.exec("import machine")
    assert logger.eval("machine.freq()") == (160_000_000 if profile == "esp32" else 125_000_000)
    logger.exec("machine.freq(48_000_000)")
    assert logger.eval("machine.freq()") == 48_000_000
    assert logger.eval("machine.reset_cause() == machine.PWRON_RESET")
    assert logger.eval("len(machine.unique_id()) > 0")
    assert logger.eval("machine.enable_irq(machine.disable_irq()) is None")
    logger.exec("machine.idle(); machine.lightsleep(1)")
    logger.exec("rtc = machine.RTC(); rtc.datetime((2030, 1, 2, 2, 3, 4, 5, 0))")
    assert logger.eval("rtc.datetime()[:5]") == (2030, 1, 2, 2, 3)
    logger.exec("led = machine.Signal(machine.Pin(5, machine.Pin.OUT), invert=True); led.on()")
    assert logger.eval("(led.value(), machine.Pin(5).value())") == (1, 0)
    assert logger.eval("machine.time_pulse_us(machine.Pin(5), 1, 1000)") == -2
    if profile == "esp32":
        assert logger.eval("machine.wake_reason()") == 0
    else:
        error = board_error(logger, "machine.wake_reason()")
        assert error.type_name == "AttributeError"  # named as the board names it:
        assert "module 'machine' has no attribute 'wake_reason'" in error.message


@pytest.mark.timeout(120)
def test_machine_reset_is_a_hard_reset_on_the_same_flash(logger: Logger, profile: str) -> None:
    logger.note("before;")
    logger.exec("ram = 1")
    with pytest.raises(BoardReset) as caught:
        logger.exec("import machine\nmachine.reset()")
    assert caught.value.recovered
    # Files are kept, RAM is lost, the device's code and setups are back.
    assert logger.notes() == "before;"
    assert logger.eval("'ram' in globals()") is False
    assert logger.boot_count() == 1
    logger.note("after;")
    assert logger.notes() == "before;after;"
    assert logger.primary_session is not None
    assert logger.primary_session.state is SessionState.ACTIVE
    hard = {"unix": 3, "pico": 3, "esp32": 2}[profile]
    assert logger.eval("__import__('machine').reset_cause()") == hard


@pytest.mark.timeout(120)
def test_machine_soft_reset_keeps_the_reset_cause(logger: Logger) -> None:
    logger.exec("ram = 1")
    with pytest.raises(BoardReset) as caught:
        logger.exec("import machine\nmachine.soft_reset()")
    assert caught.value.recovered and "soft reset" in str(caught.value)
    assert logger.eval("'ram' in globals()") is False
    assert logger.eval("__import__('machine').reset_cause()") == 1


@pytest.mark.timeout(120)
def test_watchdog_not_fed_resets_the_board_while_idle() -> None:
    with (
        EmulatorBoard("esp32") as board,
        Logger(board.port, output=lambda text: None, manager=SessionManager()) as dev,
    ):
        dev.note("kept;")
        first = board.pid
        dev.exec("import machine\nmachine.WDT(timeout=50)")
        wait_until(lambda: board.transport._process.poll() is not None, what="the watchdog reset")
        with pytest.raises(BoardReset) as caught:
            dev.eval("1")
        assert caught.value.recovered and "watchdog" in str(caught.value)
        assert board.pid != first
        assert dev.eval("__import__('machine').reset_cause()") == 3  # WDT_RESET
        assert dev.notes() == "kept;"


@pytest.mark.timeout(120)
def test_fed_watchdog_keeps_the_board_running() -> None:
    with Device("emulator:pico", output=lambda text: None, manager=SessionManager()) as dev:
        dev.exec(
            "import machine, time\n"
            "wdt = machine.WDT(timeout=5000)\n"
            "for _ in range(20):\n"
            "    wdt.feed()\n"
            "    time.sleep_ms(5)\n"
        )
        assert dev.eval("1 + 1") == 2


@pytest.mark.timeout(120)
def test_deepsleep_wakes_through_a_reset() -> None:
    with Logger("emulator:esp32", output=lambda text: None, manager=SessionManager()) as dev:
        dev.note("kept;")
        with pytest.raises(BoardReset):
            dev.exec("import machine\nmachine.deepsleep(10)")
        assert dev.eval("__import__('machine').reset_cause()") == 4  # DEEPSLEEP_RESET
        assert dev.eval("__import__('machine').wake_reason()") == 4  # TIMER_WAKE
        assert dev.notes() == "kept;"
        assert board_error(dev, "import machine\nmachine.deepsleep()").type_name == "ValueError"


class Resetter(Device):
    @task(retries=2)
    def reset_once():
        import machine

        try:
            open("reset-done").close()
        except OSError:
            open("reset-done", "w").close()
            machine.reset()
        return __import__("machine").reset_cause()


@pytest.mark.timeout(120)
def test_a_retried_task_runs_again_on_the_board_that_reset() -> None:
    with Resetter("emulator:esp32", output=lambda text: None, manager=SessionManager()) as dev:
        # The retry finds the file the first run wrote: the same flash, not a new board.
        assert dev.reset_once() == 2  # HARD_RESET


@pytest.mark.timeout(120)
def test_disable_irq_holds_pin_irqs_until_enable_irq() -> None:
    with Device("emulator:pico", output=lambda text: None, manager=SessionManager()) as dev:
        hw = dev.hardware
        hw.pin(14).drive(1)
        dev.exec(
            "import machine\n"
            "hits = []\n"
            "button = machine.Pin(14, machine.Pin.IN)\n"
            "button.irq(lambda pin: hits.append(pin.value()), machine.Pin.IRQ_FALLING)\n"
            "state = machine.disable_irq()\n"
        )
        hw.pin(14).drive(0)
        assert dev.eval("hits") == []
        dev.exec("machine.enable_irq(state)")
        assert dev.eval("hits") == [0]
        hw.pin(14).pulse(1)
        assert dev.eval("hits") == [0, 0]
