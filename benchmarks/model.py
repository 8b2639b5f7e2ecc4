"""Programming-model benchmark: task calls, cold and warm opens, and a slow link.

Everything is measured side by side in one run; the ratios are what to read.

    python benchmarks/model.py [--rounds N]

Targets (DESIGN.md 7): a task call within 1.5x of a hand-written raw round
trip on the plain pty and within 1.1x over a link with 0.5 ms each way; a cold
open (connect, deploy 20 methods, setup) under 50 ms and a warm one under 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _links import DelayedLink
from _raw import raw_round_trip
from wire import paired_medians, print_header, print_row

from belayfw import Device, task
from belayfw.transports.emulator import EmulatorBoard


class Calculator(Device):
    @task
    def add(a, b):
        return a + b


def _twenty_tasks() -> dict[str, object]:
    """A namespace with a setup and 20 distinct tasks, built from real source."""
    lines = ["from belayfw import Device, setup, task", "", "class Twenty(Device):"]
    lines += [
        "    @setup",
        "    def init(scale=2):",
        "        import time",
        "        factor = scale",
        "",
    ]
    for n in range(20):
        lines += ["    @task", f"    def t{n}(x):", f"        return x * factor + {n}", ""]
    path = Path(__file__).with_name("_twenty.py")
    path.write_text("\n".join(lines))
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def task_call(device: Calculator, label: str, rounds: int, warm_up: int) -> None:
    """``device.add(1, 2)`` against a raw round trip of the same call, on the same link."""
    repl = device._link.repl

    def raw() -> None:
        with repl.exclusive() as transport:
            raw_round_trip(transport, b"print(add(1,2))")

    for _ in range(warm_up):
        raw()
        device.add(1, 2)
    raw_s, call_s = paired_medians(raw, lambda: device.add(1, 2), rounds)
    print_row(label, raw_s, call_s)


def opens(repeats: int) -> None:
    twenty = _twenty_tasks()["Twenty"]
    assert isinstance(twenty, type)
    spawn_and_open, fresh_board, warm = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        with twenty("emulator") as device:
            spawn_and_open.append(time.perf_counter() - start)
            assert device.t3(1) == 5
        with EmulatorBoard() as board:
            board_ready = Device(board.port)  # boot the board and let it settle
            board_ready.close()
            start = time.perf_counter()
            with twenty(board.port) as device:
                fresh_board.append(time.perf_counter() - start)
                cold_bytes = device.deployed_bytes
            start = time.perf_counter()
            with twenty(board.port) as device:
                warm.append(time.perf_counter() - start)
                assert device.deployed_bytes == 0
    print()
    print(f"open with 20 tasks + 1 setup ({repeats} repeats, median)")
    print("targets: cold < 50 ms, warm < 5 ms")
    print(f"  cold, spawning the emulator:        {median_ms(spawn_and_open):7.2f} ms")
    fresh = median_ms(fresh_board)
    print(f"  cold, on a running board:           {fresh:7.2f} ms ({cold_bytes} bytes of code)")
    print(f"  warm, board already holds the code: {median_ms(warm):7.2f} ms (0 bytes of code)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print_header()
    with Calculator("emulator") as device:
        task_call(device, "task add(1, 2), pty", args.rounds, warm_up=100)
    with DelayedLink(0.0005) as link, Calculator(link.port) as device:
        task_call(device, "task add(1, 2), 0.5 ms each way", max(50, args.rounds // 4), warm_up=20)
    opens(args.repeats)


if __name__ == "__main__":
    main()
