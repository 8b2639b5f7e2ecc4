"""Virtual hardware buses: I2C and SPI device models in host Python, UART streams, neopixels."""

from __future__ import annotations

import threading

import pytest

from belayfw import Device
from belayfw.errors import DeviceError, VirtualHardwareError
from belayfw.hardware import I2CDevice, RegisterDevice, SPIDevice
from tests.conftest import OutputCollector, wait_until


class Counter(RegisterDevice):
    """Register 0x10 counts the reads of it: models can react to each transfer."""

    def on_read(self, register: int, nbytes: int) -> None:
        if register == 0x10:
            self.set(0x10, (self.get(0x10)[0] + 1) % 256)


def test_i2c_scan_and_register_reads_and_writes(board: Device) -> None:
    hw = board.hardware
    sensor = hw.i2c(0).attach(0x48, RegisterDevice(registers={0x00: 0x19, 0x01: 0x40}))
    assert isinstance(sensor, RegisterDevice)
    board.exec("from machine import I2C, Pin\ni2c = I2C(0, scl=Pin(1), sda=Pin(0))")
    assert board.eval("i2c.scan()") == [0x48]
    assert board.eval("i2c.readfrom_mem(0x48, 0x00, 2)") == b"\x19\x40"
    board.exec("i2c.writeto_mem(0x48, 0x02, b'\\x05\\x06')")
    assert sensor.get(0x02, 2) == b"\x05\x06"
    board.exec("i2c.writeto(0x48, b'\\x01')")  # set the pointer, then a plain read
    assert board.eval("i2c.readfrom(0x48, 1)") == b"\x40"
    sensor.set(0x00, 0x22)
    assert board.eval("bytes(i2c.readfrom_mem(0x48, 0, 1))") == b"\x22"
    board.exec("b = bytearray(2)\ni2c.readfrom_mem_into(0x48, 0, b)")
    assert board.eval("bytes(b)") == b"\x22\x40"


def test_i2c_models_see_each_transfer(board: Device) -> None:
    counter = board.hardware.i2c(1).attach(0x20, Counter())
    board.exec("from machine import SoftI2C, I2C\ni2c = I2C(1)")
    assert board.eval("[i2c.readfrom_mem(0x20, 0x10, 1)[0] for _ in range(3)]") == [1, 2, 3]
    assert counter.get(0x10) == b"\x03"


def test_a_missing_device_fails_as_on_a_board(board: Device) -> None:
    hw = board.hardware
    hw.i2c(0).attach(0x3C, I2CDevice())
    board.exec("from machine import I2C\ni2c = I2C(0)")
    with pytest.raises(DeviceError) as caught:
        board.exec("i2c.readfrom(0x50, 1)")
    assert caught.value.type_name == "OSError"
    hw.i2c(0).detach(0x3C)
    assert board.eval("i2c.scan()") == []


def test_a_model_error_reaches_the_board_as_oserror(board: Device) -> None:
    class Nacks(I2CDevice):
        def write(self, data: bytes) -> None:
            raise OSError(5, "NACK")

    board.hardware.i2c(0).attach(0x40, Nacks())
    board.exec("from machine import I2C\ni2c = I2C(0)")
    with pytest.raises(DeviceError, match="NACK") as caught:
        board.exec("i2c.writeto(0x40, b'x')")
    assert caught.value.type_name == "OSError"
    assert board.eval("1") == 1


def test_soft_i2c_is_its_own_bus(board: Device) -> None:
    board.hardware.i2c("soft").attach(0x68, RegisterDevice(registers={0x75: 0x68}))
    board.exec("from machine import SoftI2C, Pin\ni2c = SoftI2C(scl=Pin(5), sda=Pin(4))")
    assert board.eval("i2c.readfrom_mem(0x68, 0x75, 1)") == b"\x68"


class Loopback(SPIDevice):
    def __init__(self) -> None:
        self.seen: list[bytes] = []
        self.selected = 0

    def transfer(self, data: bytes) -> bytes:
        self.seen.append(data)
        return bytes(b ^ 0xFF for b in data)

    def select(self) -> None:
        self.selected += 1


def test_spi_transfers_reach_the_model_while_selected(board: Device) -> None:
    flash = board.hardware.spi(0).attach(Loopback(), cs=17)
    assert isinstance(flash, Loopback)
    board.exec(
        "from machine import SPI, Pin\n"
        "spi = SPI(0, baudrate=1_000_000)\n"
        "cs = Pin(17, Pin.OUT, value=1)\n"
        "buf = bytearray(2)\n"
    )
    assert board.eval("spi.read(2)") == b"\xff\xff"  # deselected: nobody answers
    board.exec("cs(0)\nspi.write_readinto(b'\\x0f\\xf0', buf)\ncs(1)")
    assert board.eval("bytes(buf)") == b"\xf0\x0f"
    assert flash.seen == [b"\x0f\xf0"]
    assert flash.selected == 1


def test_uart_is_a_byte_stream_both_ways(board: Device) -> None:
    uart = board.hardware.uart(1)
    board.exec("from machine import UART\nu = UART(1, 9600, timeout=0)")
    assert board.eval("(u.any(), u.read())") == (0, None)
    uart.write(b"AT\r\n")
    assert board.eval("u.any()") == 4
    assert board.eval("u.readline()") == b"AT\r\n"
    board.exec("u.write(b'OK\\r\\n')\nu.write(b'partial')")
    assert uart.readline() == b"OK\r\n"
    assert uart.read() == b"partial"
    assert uart.read() == b""
    with pytest.raises(VirtualHardwareError, match="waited"):
        uart.read_until(b"never", timeout=0.05)


def test_uart_reads_wait_for_board_output(board: Device) -> None:
    uart = board.hardware.uart(0)
    board.exec(
        "from machine import UART, Timer\n"
        "u = UART(0)\n"
        "t = Timer(period=20, mode=Timer.ONE_SHOT, callback=lambda t: u.write(b'late\\n'))"
    )
    assert uart.readline() == b"late\n"


def test_neopixels_are_observed_at_write(board: Device) -> None:
    strip = board.hardware.neopixel(16)
    board.exec(
        "import neopixel\nfrom machine import Pin\n"
        "np = neopixel.NeoPixel(Pin(16), 3)\n"
        "np[0] = (255, 0, 0)\nnp[2] = (0, 0, 9)\n"
    )
    assert strip.pixels == [] and strip.writes == 0  # nothing lit before write()
    board.exec("np.write()")
    assert strip.pixels == [(255, 0, 0), (0, 0, 0), (0, 0, 9)]
    board.exec("np.fill((1, 2, 3))\nnp.write()")
    assert strip.pixels == [(1, 2, 3)] * 3
    assert strip.writes == 2
    assert board.eval("np[1]") == (1, 2, 3)


def test_models_and_irq_handlers_may_call_each_other(board: Device) -> None:
    hw = board.hardware

    class Alerting(RegisterDevice):
        """Pulls its ALERT line (pin 7) low when the board writes register 1."""

        def on_write(self, register: int, data: bytes) -> None:
            if register == 1:
                hw.pin(7).drive(0)

    sensor = hw.i2c(0).attach(0x49, Alerting(registers={0x00: 0x2A}))
    hw.pin(7).drive(1)
    board.exec(
        "from machine import I2C, Pin\n"
        "i2c = I2C(0)\n"
        "alerts = []\n"
        "def on_alert(pin):\n"
        "    alerts.append(i2c.readfrom_mem(0x49, 0, 1)[0])\n"  # a transfer inside the IRQ
        "Pin(7, Pin.IN).irq(on_alert, Pin.IRQ_FALLING)\n"
    )
    board.exec("i2c.writeto_mem(0x49, 1, b'\\x01')")
    assert board.eval("alerts") == [0x2A]
    assert sensor.get(1) == b"\x01"
    hw.pin(7).drive(1)
    sensor.set(0, 0x2B)
    hw.pin(7).drive(0)  # the host's own drive: the handler's transfer is served meanwhile
    assert board.eval("alerts") == [0x2A, 0x2B]


def test_a_device_closed_while_a_model_answers_leaves_no_thread_error(
    output: OutputCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The model's answer finds the board gone: nobody waits for it any more, so
    # the channel's thread must end quietly, not die with a traceback.
    failures: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    release, inside = threading.Event(), threading.Event()

    class Slow(I2CDevice):
        def read(self, nbytes: int) -> bytes:
            inside.set()
            release.wait(30)
            return bytes(nbytes)

    earlier = set(threading.enumerate())  # threads of other boards are not this test's
    with Device("emulator", output=output) as dev:
        dev.hardware.i2c(0).attach(0x50, Slow())
        channel = [
            t for t in set(threading.enumerate()) - earlier if t.name.startswith("belayfw-hardware")
        ]
        assert channel, "no side channel thread started"
        dev.exec(
            "import _thread, machine\n"
            "_thread.start_new_thread(lambda: machine.I2C(0).readfrom(0x50, 1), ())"
        )
        assert inside.wait(30), "the board's read never reached the model"
    release.set()
    for thread in channel:
        thread.join(30)
        assert not thread.is_alive()
    assert [f for f in failures if f.thread in channel] == []


@pytest.mark.timeout(180)
def test_a_model_may_drive_a_pin_while_a_timer_callback_waits_for_it(board: Device) -> None:
    # A Timer callback's transfer reaches a model that drives an IRQ pin: the board
    # must not wait for the callback to end before taking the drive (the callback
    # waits for the model, the model for the drive: each would wait for ever).
    hw = board.hardware
    failures: list[BaseException] = []

    class Alerting(RegisterDevice):
        def on_write(self, register: int, data: bytes) -> None:
            try:
                hw.pin(7).drive(0)
            except BaseException as exc:
                failures.append(exc)
                raise

    hw.i2c(0).attach(0x49, Alerting(registers={0x00: 0x2A}))
    hw.pin(7).drive(1)
    board.exec(
        "from machine import I2C, Pin, Timer\n"
        "i2c = I2C(0)\n"
        "alerts = []\n"
        "Pin(7, Pin.IN).irq(lambda pin: alerts.append(pin.value()), Pin.IRQ_FALLING)\n"
        "def tell(timer):\n"
        "    i2c.writeto_mem(0x49, 1, b'1')\n"
        "Timer(-1, mode=Timer.ONE_SHOT, period=1, callback=tell)"
    )
    wait_until(lambda: board.eval("alerts") == [0] or bool(failures), what="the alert")
    assert failures == []
    assert board.eval("alerts") == [0]
