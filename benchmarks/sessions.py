"""Session benchmark: creation cold and warm, reuse, call overhead, host memory.

    python benchmarks/sessions.py [--rounds N] [--repeats N]

Targets from the design seeds: cold session 10-50 ms, warm 1-5 ms, reuse under
1 ms, about 2 KB of host memory per session and 100 B per tracked resource.
Timings alternate the compared cases in one run; memory is measured with
tracemalloc.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import paired_medians, print_header, print_row

from belayfw import Device, EmulatorBoard, SessionManager, SessionOptions, setup, task


class Station(Device):
    @setup
    def init():
        import time

        readings = []

    @task
    def add(a, b):
        return a + b

    @task
    def sample():
        readings.append(len(readings))
        return len(readings)


class Marker:
    """The smallest possible session resource, to weigh the tracker itself."""

    resource_type = "Marker"
    estimated_cost = 1

    def __init__(self, number: int) -> None:
        self.resource_id = f"m{number}"
        self.created_at = datetime.now(UTC)

    def cleanup(self) -> None:
        pass


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:8.2f} ms"


def creation(repeats: int) -> None:
    cold_spawn, cold_board, warm = [], [], []
    for _ in range(repeats):
        manager = SessionManager()  # nothing cached: capabilities are detected
        start = time.perf_counter()
        with Station("emulator", manager=manager):
            cold_spawn.append(time.perf_counter() - start)
        with EmulatorBoard() as board:
            Device(board.port, manager=SessionManager()).close()  # boot the board first
            manager = SessionManager()
            start = time.perf_counter()
            with Station(board.port, manager=manager):
                cold_board.append(time.perf_counter() - start)
            start = time.perf_counter()
            with Station(board.port, manager=manager):
                warm.append(time.perf_counter() - start)
    print(f"session creation ({repeats} repeats, median)   targets: cold 10-50 ms, warm 1-5 ms")
    print(f"  cold, spawning the emulator (capabilities detected): {ms(cold_spawn)}")
    print(f"  cold, on a running board (capabilities detected):    {ms(cold_board)}")
    print(f"  warm, capabilities cached, code on the board:        {ms(warm)}")


def reuse_and_overhead(rounds: int) -> None:
    manager = SessionManager(SessionOptions(max_concurrent_sessions=100_000))
    with Station("emulator", manager=manager) as device:
        for _ in range(200):
            device.add(1, 2)
        reuse = []
        for _ in range(rounds // 4):
            start = time.perf_counter()
            with manager.new_session(device):
                pass
            reuse.append(time.perf_counter() - start)
        print(
            f"  new session on an open device (create, activate, end): {ms(reuse)}   target: < 1 ms"
        )
        extra = manager.create(device)
        extra.activate()

        def inside() -> None:
            with extra.use():
                device.add(1, 2)

        outside_s, inside_s = paired_medians(lambda: device.add(1, 2), inside, rounds)
        print()
        print_header("primary ms", "other ms")
        print_row("task call in another session", outside_s, inside_s)
        manager.end(extra.id)


def memory(count: int) -> None:
    manager = SessionManager(SessionOptions(max_concurrent_sessions=count + 10))
    with Station("emulator", manager=manager) as device:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        sessions = [manager.create(device) for _ in range(count)]
        for session in sessions:
            session.activate()
        per_session = (tracemalloc.get_traced_memory()[0] - before) / count
        markers = [Marker(n) for n in range(count)]
        tracker = sessions[0].resources
        before = tracemalloc.get_traced_memory()[0]
        for marker in markers:
            tracker.register(marker)
        per_resource = (tracemalloc.get_traced_memory()[0] - before) / count
        before = tracemalloc.get_traced_memory()[0]
        for number in range(count):
            tracker.register_thread(number, "worker")
        per_thread = (tracemalloc.get_traced_memory()[0] - before) / count
        tracemalloc.stop()
        for session in sessions:
            manager.end(session.id)
    print()
    print(f"host memory (tracemalloc, {count} of each)   targets: ~2 KB/session, ~100 B/resource")
    print(f"  per session (events, store, tracker, state): {per_session:8.0f} B")
    print(f"  per tracked resource (tracker's share):      {per_resource:8.0f} B")
    print(f"  per tracked board thread (ThreadRecord):     {per_thread:8.0f} B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    creation(args.repeats)
    reuse_and_overhead(args.rounds)
    memory(args.count)


if __name__ == "__main__":
    main()
