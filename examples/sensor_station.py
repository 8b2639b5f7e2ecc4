"""The sensor station from the design: pins set up on the board, a cached status
task, a sampling task with a timeout, a blinking thread, and a teardown.

Runs on the embedded emulator when no board is attached:

    python examples/sensor_station.py [PORT]
"""

import sys

from belayfw import Device, setup, task, teardown, thread


class Station(Device):
    @setup
    def init(pin=25):
        import time

        from machine import ADC, Pin

        led = Pin(pin, Pin.OUT)
        sensor = ADC(26)

    @task(cache=True, ttl=5.0)
    def status():
        import gc

        return {"free": gc.mem_free(), "volts": sensor.read_u16() * 3.3 / 65535}

    @task(timeout=30)
    def collect(samples, interval_ms):
        out = []
        for _ in range(samples):
            out.append(sensor.read_u16())
            time.sleep_ms(interval_ms)
        return out

    @thread
    def blink(period_ms):
        while True:
            led.toggle()
            time.sleep_ms(period_ms)

    @teardown
    def shutdown():
        led.off()


port = sys.argv[1] if len(sys.argv) > 1 else "emulator"

with Station(port) as dev:
    handle = dev.blink(250)
    print("blinking:", handle.name, "alive" if handle.alive else "dead")
    status = dev.status()
    print(f"status: {status['free']} bytes free, sensor at {status['volts']:.2f} V")
    print("status again (cached, no round trip):", dev.status() == status)
    readings = dev.collect(10, 5)
    print(f"collected {len(readings)} samples, mean {sum(readings) / len(readings):.0f}")
    print("link:", dev.link_stats)

print("closed: teardown ran, blink stopped:", handle.state)
