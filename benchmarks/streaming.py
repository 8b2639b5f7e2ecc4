"""Streaming benchmark: a generator task's values/s beside one list and belay 0.30.1.

On one emulator board per link (the pty itself, then a relay pty with no delay,
0.5 ms and 1 ms each way, see _links.py), in one run: values per second of a
belayfw generator task yielding small ints, of the same values returned as one
list, and of belay 0.30.1's generator task on the same board and link (run in
its own venv, ``.venv-belay``, created on first use with pip, or given with
``--belay-python``). Then events per second that a board thread pushes with
``emit``. Each row ends with belayfw's stream rate over belay's (or, without
belay, over the list's); the targets of issue 8 are checked at the end. Last,
the heap belayfw's board runtime holds on each profile (runtime_heap.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _links import DelayedLink
from runtime_heap import TARGET_BYTES as HEAP_TARGET_BYTES
from runtime_heap import EveryKind, runtime_heap

from belayfw import Device, task, thread

ROOT = Path(__file__).resolve().parent.parent
BELAY = "belay==0.30.1"
#: Values/s targets (issue 8): on the pty, and on a link with 1 ms each way.
TARGETS = {"pty": 100_000, "1 ms each way": 20_000}


class Streamer(Device):
    @task
    def count(n):
        for i in range(n):  # noqa: UP028 - the same board code as belay's (_belay_stream.py)
            yield i

    @task
    def as_list(n):
        return list(range(n))

    @thread
    def emitter(n):
        for i in range(n):
            emit(i)  # provided on the board in a @thread body
        return n


def median_rate(values: int, repeats: int, run: Callable[[], int]) -> float:
    """Median values per second of ``repeats`` runs (each must produce ``values``)."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        got = run()
        samples.append(time.perf_counter() - started)
        assert got == values, (got, values)
    return values / statistics.median(samples)


def belayfw_rates(port: str, values: int, repeats: int) -> tuple[float, float, float]:
    """(stream, list, events) per second on ``port``."""
    with Streamer(port, output=lambda text: None) as dev:
        assert list(dev.count(10)) == list(range(10))  # deployed, warm
        stream = median_rate(values, repeats, lambda: sum(1 for _ in dev.count(values)))
        listed = median_rate(values, repeats, lambda: len(dev.as_list(values)))

        def events() -> int:
            handle = dev.emitter(values)
            got = sum(1 for _ in handle.events)
            assert handle.result(60) == values
            return got

        emitted = median_rate(values, repeats, events)
    return stream, listed, emitted


def belay_python(given: str | None) -> str:
    """A Python with belay 0.30.1: ``given``, or the venv .venv-belay (made on first use)."""
    if given:
        return given
    venv = ROOT / ".venv-belay"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import belay"]
    if not python.exists() or subprocess.run(probe, capture_output=True).returncode != 0:
        print(f"installing {BELAY} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", BELAY], check=True)
    return str(python)


def belay_rate(python: str, port: str, values: int, repeats: int) -> float:
    worker = Path(__file__).with_name("_belay_stream.py")
    result = subprocess.run(
        [python, str(worker), port, str(values), str(repeats)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"belay failed on {port}: {result.stderr[-800:]}")
    rate: float = json.loads(result.stdout.strip().splitlines()[-1])["rate"]
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=50_000, help="values per stream")
    parser.add_argument("--belay-values", type=int, default=1_000, help="values per belay stream")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-belay", action="store_true", help="skip belay 0.30.1")
    parser.add_argument("--belay-python", help="a Python that has belay 0.30.1 installed")
    parser.add_argument(
        "--links", choices=("all", "pty"), default="all", help="pty: skip the relayed links"
    )
    parser.add_argument(
        "--heap-profiles",
        nargs="*",
        default=["unix", "pico", "esp32"],
        help="profiles whose runtime heap is measured (none: skip)",
    )
    args = parser.parse_args()
    python = None if args.no_belay else belay_python(args.belay_python)
    links: list[tuple[str, float | None]] = [("pty", None)]
    if args.links == "all":
        links += [("pty relay", 0.0), ("0.5 ms each way", 0.0005), ("1 ms each way", 0.001)]

    print(
        f"generator of small ints, {args.values:,} values (belay: {args.belay_values:,}), "
        f"emulator (unix profile), median of {args.repeats}; values/s"
    )
    heads = ("stream", 10), ("list", 11), ("belay 0.30.1", 13), ("events", 10), ("ratio", 9)
    print(f"{'link':16}", *(f"{head:>{width}}" for head, width in heads))
    measured: dict[str, float] = {}
    for label, delay in links:
        relay = None if delay is None else DelayedLink(delay)
        try:
            port = "emulator" if relay is None else relay.port
            stream, listed, emitted = belayfw_rates(port, args.values, args.repeats)
            theirs = None
            if python is not None and relay is not None:  # belay needs a serial path
                theirs = belay_rate(python, relay.port, args.belay_values, args.repeats)
        finally:
            if relay is not None:
                relay.close()
        measured[label] = stream
        versus = stream / (theirs if theirs else listed)
        belay_text = f"{theirs:13,.0f}" if theirs else f"{'-':>13}"
        print(
            f"{label:16} {stream:10,.0f} {listed:11,.0f} {belay_text} {emitted:10,.0f} "
            f"{versus:8.2f}x"
        )
    print("ratio: stream over belay 0.30.1, or over the list where belay has no figure")
    for label, target in TARGETS.items():
        if label in measured:
            verdict = "met" if measured[label] >= target else "MISSED"
            print(f"target {label}: >= {target:,} values/s: {measured[label]:,.0f} ({verdict})")
    if args.heap_profiles:
        print_runtime_heap(args.heap_profiles)
    sys.stdout.flush()


def print_runtime_heap(profiles: list[str]) -> None:
    """The lean-runtime figures (benchmarks/runtime_heap.py), for one report."""
    print(f"runtime heap after gc, bytes (target: core <= {HEAP_TARGET_BYTES:,} on pico)")
    print(f"{'profile':16} {'core':>10} {'with parts':>11}")
    for profile in profiles:
        core, full = runtime_heap(profile), runtime_heap(profile, EveryKind)
        verdict = "met" if core <= HEAP_TARGET_BYTES else "MISSED"
        print(f"{profile:16} {core:10,} {full:11,}   {verdict}")


if __name__ == "__main__":
    main()
