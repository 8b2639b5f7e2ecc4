"""Background threads on the board: named output, handles, failures, clean stop.

Two monitor threads print while the host keeps calling tasks; their lines reach
the host whole, prefixed with the thread's name. A third thread fails, and its
board traceback is reported on the host. Closing the device stops every thread
it started and confirms each one has exited.

    python examples/thread_monitor.py [PORT]
"""

import sys

from belayfw import Device, DeviceError, setup, task, thread


class Monitor(Device):
    @setup
    def init():
        import gc
        import time

        from machine import ADC

        sensor = ADC(26)
        readings = []

    @thread(name="temperature")
    def watch_temperature(period_ms, samples):
        for n in range(samples):
            volts = sensor.read_u16() * 3.3 / 65535
            readings.append(volts)
            print("sample", n, "at", round(volts, 3), "V")
            time.sleep_ms(period_ms)

    @thread(name="memory")
    def watch_memory(period_ms):
        while True:
            print("free", gc.mem_free())
            time.sleep_ms(period_ms)

    @thread
    def faulty():
        time.sleep_ms(20)
        raise RuntimeError("sensor bus stuck")

    @task
    def summary():
        return {"samples": len(readings), "mean": sum(readings) / max(1, len(readings))}


port = sys.argv[1] if len(sys.argv) > 1 else "emulator"

with Monitor(port) as dev:
    temperature = dev.watch_temperature(5, 100_000)  # still running at close
    memory = dev.watch_memory(25)
    broken = dev.faulty()
    error = broken.wait_error(timeout=30)
    if isinstance(error, DeviceError):
        print(f"host saw the thread fail: {error.type_name}: {error.message}")
    for _ in range(40):  # keep the link busy while the threads print
        dev.summary()
    print("threads:", [(handle.name, handle.state.value) for handle in dev.threads])
    print("stopping memory thread:", memory.stop(timeout=10))
    print("summary:", dev.summary()["samples"], "samples")

print("after close:", [(handle.name, handle.state.value) for handle in (temperature, memory)])
