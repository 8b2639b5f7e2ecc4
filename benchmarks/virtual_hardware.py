"""Virtual hardware benchmark: task round trips on a board whose circuit a test wired, and not.

    python benchmarks/virtual_hardware.py [--rounds N] [--calls N] [--profile pico]

Two emulator boards of one profile run side by side. On the "wired" one the
host uses ``dev.hardware``: an I2C model is attached, an input pin is driven,
an IRQ handler is registered, so the board's side-channel service is running
and the host watches its outputs. The "plain" one never touches it. Each round
times ``--calls`` calls on each board, alternated; the table shows the median
microseconds per call and the ratio wired / plain.

Rows: a task that returns at once (what every call pays), and a task that
toggles an output pin (on the wired board each edge also goes to the host
over the side channel).
"""

from __future__ import annotations

import argparse
import statistics
import time

from belayfw import Device, setup, task
from belayfw.hardware import RegisterDevice


class Board(Device):
    @setup
    def init():
        from machine import Pin

        led = Pin(25, Pin.OUT, value=0)
        button = Pin(14, Pin.IN, Pin.PULL_UP)
        presses = []
        button.irq(lambda pin: presses.append(1), Pin.IRQ_FALLING)

    @task
    def nothing():
        return 1

    @task
    def toggle():
        led.toggle()
        return 1


ROW = "{:<30} {:>10} {:>10} {:>7}"


def per_call(call: object, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()  # type: ignore[operator]
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--profile", default="pico")
    options = parser.parse_args()
    port = f"emulator:{options.profile}"
    quiet = {"output": lambda text: None}
    with Board(port, **quiet) as plain, Board(port, **quiet) as wired:
        hw = wired.hardware
        hw.i2c(0).attach(0x48, RegisterDevice())
        hw.pin(14).pulse(0)
        assert wired.eval("len(presses)") == 1, "the wired board's IRQ did not fire"
        print(ROW.format("case", "plain us", "wired us", "ratio"))
        for name in ("nothing", "toggle"):
            plain_times, wired_times = [], []
            for round_number in range(options.rounds):
                order = [(plain, plain_times), (wired, wired_times)]
                for board, times in order[:: 1 if round_number % 2 else -1]:
                    times.append(per_call(getattr(board, name), options.calls))
            plain_us = statistics.median(plain_times)
            wired_us = statistics.median(wired_times)
            print(
                ROW.format(
                    f"task {name}()",
                    f"{plain_us:.1f}",
                    f"{wired_us:.1f}",
                    f"{wired_us / plain_us:.2f}x",
                )
            )
        print("pin 25 edges seen by the host:", len(hw.pin(25).history))


if __name__ == "__main__":
    main()
