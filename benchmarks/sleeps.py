"""Sleep benchmark: the board's stoppable `time` against the builtin module, in a task.

    python benchmarks/sleeps.py [--rounds N] [--calls N]

belayfw replaces the board's `time` module so that a @thread stops at any
sleep (docs/programming-model.md). Outside a belayfw thread its sleeps are
meant to cost one lookup more than the builtin ones. Each round times, on the
board with ticks_us, ``--calls`` sleeps through the builtin module and through
belayfw's, alternated; the table shows the medians per sleep in microseconds
and their ratio. The "thread running" rows have a belayfw thread alive meanwhile (the lookup
then has a table to search).
"""

from __future__ import annotations

import argparse
import statistics

from belayfw import Device, setup, task, thread


class Sleeper(Device):
    @setup
    def init():
        import time

        builtin = time._bfw_real

        def per_sleep(module, name, amount, calls):
            sleep = getattr(module, name)
            start = builtin.ticks_us()
            for _ in range(calls):
                sleep(amount)
            return builtin.ticks_diff(builtin.ticks_us(), start) / calls

    @task
    def pair(name, amount, calls):
        return per_sleep(builtin, name, amount, calls), per_sleep(time, name, amount, calls)

    @thread
    def idle():
        while True:
            time.sleep_ms(50)


ROW = "{:<34} {:>10} {:>10} {:>7}"
#: name, time function, argument, share of --calls made per round
CASES = [("sleep_us(0)", "sleep_us", 0, 10.0), ("sleep_ms(1)", "sleep_ms", 1, 0.05)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()
    with Sleeper("emulator", output=lambda text: None) as device:
        print(ROW.format("case", "builtin us", "belayfw us", "ratio"))
        for with_thread in (False, True):
            handle = device.idle() if with_thread else None
            for label, name, amount, share in CASES:
                calls = max(1, int(options.calls * share))
                pairs = [device.pair(name, amount, calls) for _ in range(options.rounds)]
                builtin = statistics.median(pair[0] for pair in pairs)
                belayfw = statistics.median(pair[1] for pair in pairs)
                suffix = ", thread running" if with_thread else ""
                print(
                    ROW.format(
                        f"task {label}{suffix}",
                        f"{builtin:.2f}",
                        f"{belayfw:.2f}",
                        f"{belayfw / builtin:.2f}x",
                    )
                )
            if handle is not None:
                handle.stop()


if __name__ == "__main__":
    main()
