"""Virtual hardware on emulator boards: pins, IRQs, ADC, PWM, temperature, Timer, side channel."""

from __future__ import annotations

import pytest

from belayfw import Device, EmulatorBoard
from belayfw.errors import BoardHandlerError, ConfigurationError, NotAnEmulator
from belayfw.hardware import hardware_of, u16_to_celsius
from belayfw.transports.scripted import ScriptedTransport
from tests.conftest import OutputCollector, wait_until


def test_a_driven_input_reaches_the_board_at_once(board: Device) -> None:
    hw = board.hardware
    board.exec("from machine import Pin\nbutton = Pin(14, Pin.IN, Pin.PULL_UP)")
    assert board.eval("button.value()") == 1  # its pull-up, nothing driving it
    assert hw.pin(14).level == 1
    hw.pin(14).drive(0)
    assert board.eval("button.value()") == 0
    hw.pin(14).release()
    assert board.eval("button.value()") == 1


def test_inputs_driven_before_the_board_loads_machine_are_seen(board: Device) -> None:
    board.hardware.pin(3).drive(1)
    board.hardware.adc(26).set(4321)
    assert board.eval("__import__('machine').Pin(3, 0).value()") == 1
    assert board.eval("__import__('machine').ADC(26).read_u16()") == 4321


def test_irq_handlers_fire_on_the_matching_edge_only(board: Device) -> None:
    hw = board.hardware
    board.exec(
        "from machine import Pin\n"
        "rises, falls, both = [], [], []\n"
        "Pin(4, Pin.IN).irq(lambda p: rises.append(p.value()), Pin.IRQ_RISING)\n"
        "Pin(5, Pin.IN).irq(lambda p: falls.append(p.value()), trigger=Pin.IRQ_FALLING)\n"
        "Pin(6, Pin.IN).irq(lambda p: both.append(p.value()), Pin.IRQ_RISING | Pin.IRQ_FALLING)\n"
    )
    for pin in (4, 5, 6):
        hw.pin(pin).drive(1)
        hw.pin(pin).drive(1)  # no edge: no call
        hw.pin(pin).drive(0)
    # The handlers ran before drive() returned: no waiting needed.
    assert board.eval("(rises, falls, both)") == ([1], [0], [1, 0])
    board.exec("Pin(6).irq(None)")
    hw.pin(6).pulse()
    assert board.eval("both") == [1, 0]


def test_a_failing_irq_handler_is_reported_to_the_test(board: Device) -> None:
    board.exec(
        "from machine import Pin\n"
        "def broken(pin):\n"
        "    raise ValueError('handler bug')\n"
        "Pin(7, Pin.IN).irq(broken, Pin.IRQ_RISING)\n"
    )
    with pytest.raises(BoardHandlerError, match="handler bug"):
        board.hardware.pin(7).drive(1)
    assert board.eval("1 + 1") == 2  # the session is untouched


def test_a_raising_handler_of_a_pin_the_board_writes_is_printed_not_raised(board: Device) -> None:
    # As on a board (and as MicroPython's own scheduler does): the handler's
    # exception is printed; the code that wrote the pin carries on.
    printed = board.exec(
        "from machine import Pin\n"
        "led = Pin(8, Pin.OUT, value=0)\n"
        "def broken(pin):\n"
        "    raise ValueError('irq handler bug')\n"
        "led.irq(broken, Pin.IRQ_RISING)\n"
        "led.value(1)\n"
        "after = led.value()\n"
    )
    assert board.eval("after") == 1
    assert "irq handler bug" in printed


def test_a_periodic_timer_runs_on_after_its_callback_raises(
    board: Device, output: OutputCollector
) -> None:
    board.exec(
        "from machine import Timer\n"
        "calls = []\n"
        "def tick(t):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 1:\n"
        "        raise OSError(19, 'timer callback bug')\n"
        "t = Timer(period=5, mode=Timer.PERIODIC, callback=tick)\n"
    )
    wait_until(lambda: board.eval("len(calls)") >= 3, what="timer calls after the one that raised")
    board.exec("t.deinit()")
    output.wait_for(lambda text: "timer callback bug" in text)


def test_outputs_and_their_history_are_observed(board: Device) -> None:
    hw = board.hardware
    board.exec("from machine import Pin\nled = Pin(25, Pin.OUT, value=0)\nled.on()\nled.toggle()")
    board.exec("led.on()")
    assert hw.pin(25).level == 1
    history = hw.pin(25).history
    assert [(edge.level, edge.by) for edge in history] == [(1, "board"), (0, "board"), (1, "board")]
    assert [edge.at for edge in history] == sorted(edge.at for edge in history)
    hw.pin(2).drive(1)
    hw.pin(2).drive(0)
    assert [(e.level, e.by) for e in hw.pin(2).history] == [(1, "host"), (0, "host")]


def test_adc_constant_function_and_voltage(board: Device) -> None:
    hw = board.hardware
    board.exec("from machine import ADC, Pin\na = ADC(Pin(26))\nb = ADC(27)")
    hw.adc(26).set(1000)
    assert board.eval("a.read_u16()") == 1000
    readings = iter(range(100, 10_000, 100))
    hw.adc(27).set(lambda t: next(readings))
    assert board.eval("[b.read_u16() for _ in range(3)]") == [100, 200, 300]
    hw.adc(26).set_voltage(1.65)
    assert board.eval("a.read_uv()") == pytest.approx(1_650_000, abs=100)
    with pytest.raises(ConfigurationError):
        hw.adc(26).set(70_000)


def test_temperature_follows_the_pico_adc4_convention(board: Device) -> None:
    hw = board.hardware
    convert = "27 - (__import__('machine').ADC(4).read_u16() * 3.3 / 65535 - 0.706) / 0.001721"
    assert board.eval(convert) == pytest.approx(25.0, abs=0.1)
    hw.temperature = 31.5
    assert board.eval(convert) == pytest.approx(31.5, abs=0.1)
    assert hw.temperature == pytest.approx(31.5, abs=0.1)
    assert u16_to_celsius(board.eval("__import__('machine').ADC(4).read_u16()")) == pytest.approx(
        31.5, abs=0.1
    )


def test_pwm_settings_are_read_back(board: Device) -> None:
    hw = board.hardware
    assert hw.pwm(15) is None
    board.exec("from machine import Pin, PWM\np = PWM(Pin(15), freq=2000)\np.duty_u16(16384)")
    assert hw.pwm(15) == (2000, 16384)
    assert hw.pwm(15).duty == pytest.approx(0.25, abs=0.001)  # type: ignore[union-attr]
    board.exec("p.deinit()")
    assert hw.pwm(15).duty_u16 == 0  # type: ignore[union-attr]
    board.exec("q = PWM(Pin(16), freq=500, duty_u16=70000)")  # clamped, as duty_u16() does
    assert hw.pwm(16) == (500, 65535)
    assert board.eval("q.duty_u16()") == 65535


def test_timer_callbacks_run_and_drive_pins(board: Device) -> None:
    hw = board.hardware
    board.exec(
        "from machine import Pin, Timer\n"
        "led = Pin(25, Pin.OUT, value=0)\n"
        "t = Timer(period=5, mode=Timer.PERIODIC, callback=lambda t: led.toggle())\n"
    )
    wait_until(lambda: len(hw.pin(25).history) >= 4, what="timer toggles seen by the host")
    board.exec("t.deinit()")
    levels = [edge.level for edge in hw.pin(25).history[:4]]
    assert levels == [1, 0, 1, 0]


def test_hardware_traffic_never_touches_the_repl_stream(board: Device) -> None:
    hw = board.hardware
    board.exec("from machine import Pin\np = Pin(9, Pin.IN)\nn = []\np.irq(lambda p: n.append(1))")
    before = board.link_stats
    for _ in range(20):
        hw.pin(9).pulse()
    hw.adc(1).set(5)
    assert hw.pin(9).level == 0
    after = board.link_stats
    assert (after.bytes_sent, after.bytes_received) == (before.bytes_sent, before.bytes_received)
    assert board.eval("len(n)") == 40


def test_the_wiring_outlives_a_board_reset(output) -> None:
    with Device("emulator", output=output) as dev:
        hw = dev.hardware
        hw.pin(8).drive(1)
        hw.adc(26).set(777)
        dev.exec("from machine import Pin\nPin(20, Pin.OUT).on()")
        assert hw.pin(20).level == 1
        dev.soft_reset()
        assert dev.eval("__import__('machine').Pin(8, 0).value()") == 1
        assert dev.eval("__import__('machine').ADC(26).read_u16()") == 777
        assert hw.pin(20).level == 0  # RAM lost: the board no longer drives it
        hw.pin(8).drive(0)
        assert dev.eval("__import__('machine').Pin(8).value()") == 0


def test_devices_on_one_emulator_board_share_its_hardware(output) -> None:
    with EmulatorBoard() as emulator:
        with Device(emulator.port, output=output) as first:
            first.hardware.pin(1).drive(1)
            first_hw = first.hardware
        with Device(emulator.port, output=output) as second:
            assert second.hardware is first_hw
            assert second.eval("__import__('machine').Pin(1).value()") == 1


def test_real_boards_have_no_virtual_hardware() -> None:
    with pytest.raises(NotAnEmulator, match="not an emulator board"):
        hardware_of(ScriptedTransport([], description="/dev/ttyACM0"))


def test_bad_arguments_are_refused(board: Device) -> None:
    hw = board.hardware
    with pytest.raises(ConfigurationError):
        hw.pin(1).drive(2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        hw.pin(1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        hw.uart("a")  # type: ignore[arg-type]


def test_what_the_board_did_before_the_test_looked_is_seen(board: Device) -> None:
    board.exec(
        "from machine import Pin, PWM\n"
        "Pin(25, Pin.OUT).on()\n"
        "Pin(24, Pin.IN, Pin.PULL_UP)\n"
        "PWM(Pin(3), freq=100, duty_u16=7)"
    )
    hw = board.hardware
    assert (hw.pin(25).level, hw.pin(24).level) == (1, 1)
    assert hw.pwm(3) == (100, 7)


@pytest.mark.parametrize(("profile", "falling", "rising"), [("pico", 4, 8), ("esp32", 2, 1)])
def test_irq_constants_are_the_ports_own(output, profile: str, falling: int, rising: int) -> None:
    with Device(f"emulator:{profile}", output=output) as dev:
        dev.exec("from machine import Pin\nseen = []\nPin(2, Pin.IN).irq(lambda p: seen.append(1))")
        assert dev.eval("(Pin.IRQ_FALLING, Pin.IRQ_RISING)") == (falling, rising)
        dev.hardware.pin(2).pulse()  # the default trigger is both edges
        assert dev.eval("len(seen)") == 2


def test_the_wiring_outlives_a_hard_reset_by_the_board(output) -> None:
    from belayfw.errors import BoardReset

    with Device("emulator:pico", output=output) as dev:
        hw = dev.hardware
        hw.pin(8).drive(1)
        with pytest.raises(BoardReset):
            dev.exec("import machine\nmachine.reset()")
        assert dev.eval("__import__('machine').Pin(8).value()") == 1


@pytest.mark.timeout(300)
def test_a_board_touching_a_pin_the_host_drives_never_crashes_after_a_reset(output) -> None:
    """The service used to load in its reader thread while board code ran (no GIL): 12 of
    40 boards crashed (SIGSEGV) on their first Pin read after a reset."""
    from belayfw.errors import BoardReset

    for _ in range(15):
        with Device("emulator:pico", output=output) as dev:
            dev.hardware.pin(8).drive(1)
            with pytest.raises(BoardReset):
                dev.exec("import machine\nmachine.reset()")
            assert dev.eval("__import__('machine').Pin(8).value()") == 1


def test_no_hardware_thread_ever_imports(board: Device) -> None:
    """Every import looks at the flash, and the unix port's file system is not safe from
    two threads at once (no GIL): the side channel's reader thread once imported `select`
    while a call's error path imported `io`, and the board crashed (SIGSEGV). So the
    reader, Timer and IRQ paths must never import a module that is not loaded yet."""
    from belayfw.hardware import RegisterDevice, SPIDevice

    class Echo(SPIDevice):
        def transfer(self, data: bytes) -> bytes:
            return data

    hw = board.hardware
    board.exec(
        "import builtins, sys, _thread\n"
        "_main, _elsewhere, _import = _thread.get_ident(), [], builtins.__import__\n"
        "def _watching(name, *args):\n"
        "    if _thread.get_ident() != _main and name not in sys.modules:\n"
        "        _elsewhere.append(name)\n"
        "    return _import(name, *args)\n"
        "builtins.__import__ = _watching\n"
    )
    board.exec(  # the first touch starts the reader thread
        "import machine\nfrom machine import Pin, I2C, SPI, UART, ADC, Timer\n"
        "i2c, spi, uart = I2C(0), SPI(1), UART(1)\nled = Pin(2, Pin.OUT)"
    )
    hw.i2c(0).attach(0x50, RegisterDevice(registers={0: 7}))
    hw.spi(1).attach(Echo())
    hw.adc(26).set(lambda t: 1234)
    hw.uart(1).write(b"hi")
    assert hw.pin(2).history == []  # the host starts watching the board's outputs
    board.exec(
        "got = []\n"
        "def pressed(pin):\n"
        "    held = machine.disable_irq()\n"
        "    got.append(i2c.readfrom_mem(0x50, 0, 1))\n"
        "    machine.enable_irq(held)\n"
        "    led.toggle()\n"
        "Pin(3, Pin.IN).irq(pressed, Pin.IRQ_RISING)\n"
        "ticks = []\n"
        "def tick(t):\n"
        "    ticks.append((i2c.readfrom_mem(0x50, 0, 1), spi.read(1, 5), ADC(26).read_u16()))\n"
        "timer = Timer(-1, period=5, callback=tick)"
    )
    hw.pin(3).drive(1)  # the IRQ handler runs in the reader thread
    wait_until(lambda: board.eval("len(ticks)") >= 3, what="three Timer callbacks")
    board.exec("timer.deinit()")
    assert board.eval("got") == [b"\x07"]
    assert board.eval("ticks[0]") == (b"\x07", b"\x05", 1234)
    assert board.eval("uart.read()") == b"hi"
    assert hw.pin(2).level == 1
    assert board.eval("_elsewhere") == []


@pytest.mark.timeout(180)
def test_no_callback_runs_inside_disable_irq(board: Device) -> None:
    """IRQ handlers and Timer callbacks run in other threads on the emulator; as on a
    board, none may run between disable_irq() and enable_irq() (a handler already
    running once went on beside the critical section, and shared counters lost counts)."""
    import threading

    hw = board.hardware
    board.exec(
        "import machine\nfrom machine import Pin, Timer\n"
        "inside, seen, ticked = [False], [], []\n"
        "def pressed(pin):\n"
        "    seen.append(inside[0])\n"
        "Pin(3, Pin.IN).irq(pressed, Pin.IRQ_RISING | Pin.IRQ_FALLING)\n"
        "stop, running = Pin(4, Pin.IN), Pin(5, Pin.OUT, value=0)\n"
        "timer = Timer(-1, period=1, callback=lambda t: ticked.append(inside[0]))\n"
        "def critical():\n"
        "    running.value(1)\n"
        "    while not stop.value():\n"
        "        held = machine.disable_irq()\n"
        "        inside[0] = True\n"
        "        for i in range(200):\n"
        "            pass\n"
        "        inside[0] = False\n"
        "        machine.enable_irq(held)\n"
    )
    errors: list[BaseException] = []

    def press_while_critical() -> None:
        try:
            wait_until(lambda: hw.pin(5).level == 1, what="the board's critical loop")
            for level in (1, 0) * 100:
                hw.pin(3).drive(level)
        except BaseException as exc:
            errors.append(exc)
        finally:
            hw.pin(4).drive(1)

    presser = threading.Thread(target=press_while_critical)
    presser.start()
    board.exec("critical()", timeout=120)
    presser.join(30)
    wait_until(lambda: board.eval("len(ticked)") > 0, what="a Timer callback")  # a loaded host
    board.exec("timer.deinit()")
    assert not errors
    assert board.eval("len(seen) > 0")
    assert board.eval("True in seen") is False
    assert board.eval("True in ticked") is False


def test_a_call_interrupted_with_irqs_disabled_gives_them_back(board: Device) -> None:
    # A board cannot be interrupted between disable_irq() and enable_irq(); an emulator
    # can (a task timeout), and its IRQ handlers and Timer callbacks must not stay off.
    from belayfw.errors import TaskTimeout

    board.exec(
        "import machine\nfrom machine import Pin, Timer\n"
        "hits, ticks = [], []\n"
        "Pin(3, Pin.IN).irq(lambda pin: hits.append(pin.value()), Pin.IRQ_RISING)\n"
        "def stuck():\n"
        "    machine.disable_irq()\n"
        "    while True:\n"
        "        pass\n"
    )
    with pytest.raises(TaskTimeout):
        board.exec("stuck()", timeout=0.5)
    board.hardware.pin(3).drive(1)
    assert board.eval("hits") == [1]  # the handler ran before drive() returned
    board.exec("timer = Timer(-1, period=1, callback=ticks.append)")
    wait_until(lambda: board.eval("len(ticks)") > 0, what="a Timer callback")
    board.exec("timer.deinit()")


def test_unwire_leaves_a_bare_board_for_the_next_test(board: Device) -> None:
    from belayfw.hardware import RegisterDevice

    hw = board.hardware
    hw.pin(5).drive(1)
    hw.adc(26).set(123)
    hw.i2c(0).attach(0x50, RegisterDevice())
    hw.uart(0)  # a buffer exists
    board.exec("from machine import Pin, ADC, I2C, UART\nUART(0).write(b'left over')")
    hw.unwire()
    assert hw.pin(5).history == []
    assert board.eval("Pin(5, Pin.IN, Pin.PULL_UP).value()") == 1  # floating: its pull
    assert board.eval("ADC(26).read_u16()") != 123
    assert board.eval("I2C(0).scan()") == []
    assert hw.uart(0).read() == b""
