"""Board heap that belayfw's own board code holds, on each emulator profile.

    python benchmarks/runtime_heap.py [--profiles unix pico esp32]

For each profile, on a fresh board: ``gc.mem_alloc()`` after ``gc.collect()``
before belayfw connects, and again once a device has opened and called one
task; the difference is what belayfw installs (the probe's frame token, the
core runtime, what capability detection leaves, the task itself). The rows
with parts add a class that also has a ``@setup``, a generator task and a
``@thread``, so the runtime parts those need are loaded too. ``machine`` is
imported before the first measurement: on a real board it is built in, on the
emulator it is a Python shim that costs heap of its own.

Target (issue 8): the core at most 8 KB on the pico profile.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _raw import raw_round_trip

from belayfw import Device, EmulatorBoard, setup, task, thread
from belayfw.transports.base import Transport

TARGET_BYTES = 8 * 1024
_MEASURE = b"import gc\ngc.collect()\ngc.collect()\nprint('heap', gc.mem_alloc())"


class OneTask(Device):
    @task
    def add(a, b):
        return a + b


class EveryKind(Device):
    @setup
    def init(scale=2):
        factor = scale

    @task
    def add(a, b):
        return a + b

    @task
    def count(n):
        yield from range(n)

    @thread
    def ticker():
        while True:
            time.sleep_ms(10)


def heap_in_use(transport: Transport) -> int:
    """The board's ``gc.mem_alloc()`` after a collection, read in raw REPL."""
    reply = raw_round_trip(transport, _MEASURE)
    found = re.search(rb"heap (\d+)", reply)
    if found is None:
        raise RuntimeError(f"the board did not report its heap: {reply[-200:]!r}")
    return int(found.group(1))


def runtime_heap(profile: str, device_class: type[Device] = OneTask) -> int:
    """Bytes of heap belayfw's board code holds on a fresh ``profile`` board."""
    with EmulatorBoard(profile) as board:
        transport = board.transport
        transport.write(b"\r\x01")
        reply = bytearray()
        deadline = time.monotonic() + 30.0
        while not reply.endswith(b"raw REPL; CTRL-B to exit\r\n>"):
            if time.monotonic() >= deadline:
                raise RuntimeError(f"no raw REPL on {board.port}: {bytes(reply[-80:])!r}")
            reply += transport.read(deadline)
        raw_round_trip(transport, b"import machine")
        heap_in_use(transport)  # the first measurement's own names settle
        before = heap_in_use(transport)
        with device_class(board.port) as device:
            device.add(1, 2)
            if isinstance(device, EveryKind):
                assert list(device.count(3)) == [0, 1, 2]
                device.ticker().stop()
            with device._link.repl.exclusive() as link:
                after = heap_in_use(link)
    return after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["unix", "pico", "esp32"])
    args = parser.parse_args()
    print(f"{'profile':<8} {'core':>8} {'with parts':>11}   target: core <= {TARGET_BYTES} bytes")
    for profile in args.profiles:
        core = runtime_heap(profile)
        full = runtime_heap(profile, EveryKind)
        verdict = "ok" if core <= TARGET_BYTES else "OVER"
        print(f"{profile:<8} {core:>8} {full:>11}   {verdict}")


if __name__ == "__main__":
    main()
