"""Host memory left behind per cycle: sessions with a board thread, and board opens.

    python benchmarks/leaks.py [--sessions N] [--opens N] [--warm-up N]

Each figure is the growth of host memory (tracemalloc, after a warm-up and a
garbage collection) divided by the number of cycles. A figure near 0 means
nothing accumulates; a leak shows as a steady cost per cycle.
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections.abc import Callable

from belayfw import Device, SessionManager, thread


class Rig(Device):
    @thread
    def worker(self):
        while True:
            time.sleep_ms(10)


def bytes_per_cycle(cycle: Callable[[], None], cycles: int, warm_up: int) -> float:
    # Traced from the start: memory allocated before tracing and freed later
    # (a cache entry replaced) would otherwise look like growth.
    tracemalloc.start()
    try:
        for _ in range(warm_up):
            cycle()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(cycles):
            cycle()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--opens", type=int, default=100)
    parser.add_argument(
        "--warm-up", type=int, default=40, help="cycles before measuring (fills bounded caches)"
    )
    options = parser.parse_args()

    with Rig("emulator", manager=SessionManager()) as device:

        def session_with_a_thread() -> None:
            with device.manager.new_session(device):
                device.worker()

        per_session = bytes_per_cycle(session_with_a_thread, options.sessions, options.warm_up)

    manager = SessionManager()

    def open_and_close_a_new_board() -> None:
        with Device("emulator", manager=manager):
            pass

    per_open = bytes_per_cycle(open_and_close_a_new_board, options.opens, options.warm_up)
    print(f"{'cycle':<44} {'cycles':>7} {'host bytes kept per cycle':>26}")
    print(f"{'session that starts a board thread':<44} {options.sessions:>7} {per_session:>26.1f}")
    print(f"{'open and close a new emulator board':<44} {options.opens:>7} {per_open:>26.1f}")


if __name__ == "__main__":
    main()
