"""No host leak: memory stays flat over many sessions, opens and boards (tracemalloc)."""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from belayfw import Device, EmulatorBoard, SessionManager, thread
from belayfw.session import capabilities
from belayfw.session.capabilities import MEMORY_CACHE_BOARDS, CapabilityCache
from belayfw.session.capability_keeper import CapabilityKeeper

CYCLES = 1000
#: Bytes a cycle may leave behind on average (allocator noise); a leak was about 3,600.
NOISE_BYTES_PER_CYCLE = 200


class Rig(Device):
    @thread
    def worker(self):
        import time

        while True:
            time.sleep_ms(10)


#: Cycles run before measuring, enough to fill every bounded cache.
WARM_UP = 40


def growth_per_cycle(cycle: Callable[[], None], cycles: int = CYCLES) -> float:
    """Bytes still allocated per call of ``cycle``, after a warm-up (median of 5 stretches).

    A leak grows every stretch alike; a one-off allocation (a large table
    resized, whose moment depends on what earlier tests left) lands in one
    stretch, and the median ignores it.
    """
    # Traced from the start: memory allocated before tracing and freed later
    # (a cache entry replaced) would otherwise look like growth. Only what this
    # test's own calls allocated counts: threads left by earlier tests (readers,
    # exports) allocate meanwhile, and their stacks never pass through this file.
    tracemalloc.start(TRACE_DEPTH)
    try:
        for _ in range(WARM_UP):
            cycle()
        gc.collect()
        allocated = [_allocated_here(tracemalloc.take_snapshot())]
        stretch = max(1, cycles // STRETCHES)
        for _ in range(STRETCHES):
            for _ in range(stretch):
                cycle()
            gc.collect()
            allocated.append(_allocated_here(tracemalloc.take_snapshot()))
    finally:
        tracemalloc.stop()
    growths = sorted(after - before for before, after in itertools.pairwise(allocated))
    return growths[STRETCHES // 2] / stretch


#: Stretches the cycles are measured in.
STRETCHES = 5


#: Frames kept per allocation: enough to reach this file from deep inside a call.
TRACE_DEPTH = 64


def _allocated_here(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still allocated by calls that started in this file."""
    ours = snapshot.filter_traces([tracemalloc.Filter(True, __file__, all_frames=True)])
    return sum(stat.size for stat in ours.statistics("filename"))


def test_ended_sessions_leave_no_thread_handles_behind() -> None:
    with Rig("emulator", manager=SessionManager()) as device:

        def session_with_a_thread() -> None:
            with device.manager.new_session(device):
                device.worker()

        # Each cycle is a few board round trips: 300 of them show a leak of the
        # old size (about 3,600 B each) as plainly as 1,000, in a third of the time.
        assert growth_per_cycle(session_with_a_thread, cycles=300) < NOISE_BYTES_PER_CYCLE
        assert device.threads == []


def test_the_capability_cache_keeps_a_bounded_number_of_boards(tmp_path: Path) -> None:
    cache = CapabilityCache(tmp_path)
    keeper = CapabilityKeeper(cache, use_cache=True, on_change=lambda caps: None)
    facts = {
        "implementation": "micropython",
        "version": "1.24.0",
        "firmware": "3.4.0; MicroPython v1.24.0",
        "platform": "linux",
        "features": {"threads": True},
    }
    board_ids = iter(range(10 * CYCLES))

    def board_call(command: str) -> object:
        return facts if "_bfw_caps" in command else (b"x" * 8192 if "bytes" in command else 0)

    def a_new_board() -> None:
        keeper.load(board_call, f"emu-unix-{next(board_ids)}", lasting=False)

    assert growth_per_cycle(a_new_board) < NOISE_BYTES_PER_CYCLE
    assert len(cache) == MEMORY_CACHE_BOARDS
    assert list(tmp_path.iterdir()) == []  # emulator boards never go to disk


def test_opening_many_emulator_boards_keeps_the_cache_bounded(monkeypatch) -> None:
    monkeypatch.setattr(capabilities, "MEMORY_CACHE_BOARDS", 3)  # fewer boards to start
    manager = SessionManager()
    for _ in range(5):
        with Device("emulator", manager=manager) as device:
            assert device.capabilities.detected
    assert len(manager.capabilities) == 3


def test_a_board_reattached_still_finds_its_capabilities_in_memory() -> None:
    manager = SessionManager()
    with EmulatorBoard() as board:
        with Device(board.port, manager=manager) as device:
            first = device.capabilities
        with Device(board.port, manager=manager) as device:
            assert device.capabilities is first  # from memory: no second detection
