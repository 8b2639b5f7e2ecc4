"""Building a board class from parts: a base class, mixins, and overrides.

Board methods are collected through the whole class hierarchy in definition
order. Mixins do not need to be Device subclasses, and a subclass replaces a
method by defining one with the same name.

    python examples/inheritance_mixins.py [PORT]
"""

import sys

from belayfw import Device, setup, task, teardown, thread


class BaseBoard(Device):
    @setup(order=0)
    def init_pins(led_pin=25):
        import time

        from machine import Pin

        led = Pin(led_pin, Pin.OUT)

    @task
    def describe():
        return "base board"

    @teardown
    def lights_off():
        led.off()


class Blinker:  # a mixin: any class can carry board methods
    @thread
    def blink(period_ms):
        while True:
            led.toggle()
            time.sleep_ms(period_ms)

    @task
    def led_state():
        return led.value()


class Diagnostics:
    @task
    def memory():
        import gc

        gc.collect()
        return gc.mem_free()


class Station(Blinker, Diagnostics, BaseBoard):
    @task
    def describe():  # overrides BaseBoard.describe on the board too
        return "station with " + ", ".join(["blinker", "diagnostics"])


port = sys.argv[1] if len(sys.argv) > 1 else "emulator"

print("board methods:", ", ".join(Station.__board_methods__))
with Station(port) as station:
    print("describe:", station.describe())
    print("memory free:", station.memory() > 0)
    handle = station.blink(10)
    print("blinking:", handle.alive)
    print("led state is 0 or 1:", station.led_state() in (0, 1))
print("blink stopped at close:", handle.state)
