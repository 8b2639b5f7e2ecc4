"""A thermostat tested with no hardware: the board code is real, the circuit is virtual.

The board reads a TMP102 temperature sensor on I2C, switches a heater relay
(pin 15) with 0.5 C of hysteresis, raises its set point by 0.5 C at each press
of a button (pin 14, pulled up, an IRQ on the falling edge) and logs every
decision on UART 0. On an emulator board, belayfw.hardware plays the circuit:
a TMP102 model in host Python, the relay and button pins, and the UART log.
``tests/test_thermostat.py`` drives it on ``emulator:pico`` and ``emulator:esp32``.

    python examples/thermostat.py [emulator:pico]
"""

from __future__ import annotations

import sys

from belayfw import Device, setup, task
from belayfw.hardware import RegisterDevice

SENSOR_ADDRESS = 0x48
RELAY_PIN = 15
BUTTON_PIN = 14
LOG_UART = 0


class Thermostat(Device):
    @setup
    def init(target=20.0):
        from machine import I2C, UART, Pin, Timer

        i2c = I2C(0, scl=Pin(1), sda=Pin(0), freq=400_000)
        relay = Pin(15, Pin.OUT, value=0)
        log = UART(0, 115200)
        control = {"setpoint": target, "heating": False, "presses": 0}
        timer = Timer()

        def read_celsius():
            # TMP102: register 0 holds 12 bits, 0.0625 C per bit, two's complement.
            high, low = i2c.readfrom_mem(0x48, 0x00, 2)
            raw = (high << 4) | (low >> 4)
            if raw & 0x800:
                raw -= 0x1000
            return raw * 0.0625

        def on_press(pin):
            control["setpoint"] += 0.5
            control["presses"] += 1
            log.write(b"setpoint %.1f\n" % control["setpoint"])

        button = Pin(14, Pin.IN, Pin.PULL_UP)
        button.irq(on_press, Pin.IRQ_FALLING)

    @task
    def step():
        """One control decision: read, switch the relay, log. Returns (celsius, heating)."""
        celsius = read_celsius()
        if celsius < control["setpoint"] - 0.5:
            control["heating"] = True
        elif celsius > control["setpoint"] + 0.5:
            control["heating"] = False
        relay.value(control["heating"])
        log.write(b"%.2f C %s\n" % (celsius, b"heat" if control["heating"] else b"idle"))
        return celsius, control["heating"]

    @task
    def run_every(period_ms):
        """Step on a machine.Timer from now on (0 stops it)."""
        timer.deinit()
        if period_ms:
            timer.init(period=period_ms, mode=timer.PERIODIC, callback=lambda t: step())

    @task
    def setpoint():
        return control["setpoint"]


class TMP102(RegisterDevice):
    """A TMP102 temperature sensor model: set :attr:`celsius`, the board reads register 0."""

    def __init__(self, celsius: float = 20.0) -> None:
        super().__init__()
        self.celsius = celsius

    @property
    def celsius(self) -> float:
        raw = int.from_bytes(self.get(0x00, 2), "big") >> 4
        return (raw - 0x1000 if raw & 0x800 else raw) * 0.0625

    @celsius.setter
    def celsius(self, value: float) -> None:
        raw = round(value / 0.0625) & 0xFFF
        self.set(0x00, (raw << 4).to_bytes(2, "big"))


def main(port: str) -> None:
    with Thermostat(port) as dev:
        hw = dev.hardware
        sensor = hw.i2c(0).attach(SENSOR_ADDRESS, TMP102(18.0))
        log = hw.uart(LOG_UART)
        print("cold room:", dev.step(), "relay", hw.pin(RELAY_PIN).level)
        sensor.celsius = 22.5
        print("warm room:", dev.step(), "relay", hw.pin(RELAY_PIN).level)
        hw.pin(BUTTON_PIN).pulse(0)  # press and release: the board's IRQ raises the set point
        hw.pin(BUTTON_PIN).pulse(0)
        print("set point after two presses:", dev.setpoint())
        print("log:", log.read().decode().splitlines())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "emulator:pico")
