"""Reset benchmark: a board resetting itself against a host soft reset, per emulator profile.

    python benchmarks/resets.py [--rounds N]

``machine.reset()`` on an emulator board ends its process; the device starts it
again on the same flash and restores its code and setups before the failing
call returns (docs/emulator.md). Each round times, alternated on the same
board, ``dev.soft_reset()`` (the host's reset, the same restart path) and a
``machine.reset()`` call up to its ``BoardReset``; the table shows the medians in
milliseconds and their ratio. The free heap column is what the board has left
once belayfw is connected (``gc.mem_free()`` after a collection), of the
profile's heap size.
"""

from __future__ import annotations

import argparse
import statistics
import time

from belayfw import BoardReset, Device, setup, task
from belayfw.session import SessionManager
from belayfw.transports.emulator import PROFILES


class Board(Device):
    @setup
    def init():
        import gc

    @task
    def free():
        gc.collect()
        return gc.mem_free()


ROW = "{:<8} {:>26} {:>14} {:>17} {:>7}"


def _timed(action: object) -> float:
    start = time.perf_counter()
    try:
        action()  # type: ignore[operator]
    except BoardReset as reset:
        assert reset.recovered, reset
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    print(ROW.format("profile", "free heap bytes", "soft_reset ms", "machine.reset ms", "ratio"))
    for name, profile in PROFILES.items():
        with Board(f"emulator:{name}", output=lambda text: None, manager=SessionManager()) as dev:
            free = dev.free()
            host, board = [], []
            for _ in range(options.rounds):
                host.append(_timed(dev.soft_reset))
                board.append(_timed(lambda: dev.exec("import machine\nmachine.reset()")))
            soft, hard = statistics.median(host), statistics.median(board)
            heap = f"{free:,} of {profile.heap_bytes:,}"
            print(ROW.format(name, heap, f"{soft:.1f}", f"{hard:.1f}", f"{hard / soft:.2f}x"))


if __name__ == "__main__":
    main()
