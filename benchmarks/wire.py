"""Wire benchmark: ``Device.eval`` against a hand-written raw-REPL round trip.

Both run on the same emulator board and pty, interleaved call by call in one
run, so machine noise hits both alike; the ratios are what to read.

    python benchmarks/wire.py [--rounds N] [--profile unix]

Targets (DESIGN.md 7): eval within 1.5x of raw; bulk results within 2x.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _raw import raw_round_trip

from belayfw import Device


def paired_medians(
    first: Callable[[], object], second: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median seconds of ``first`` and ``second``, alternated call by call."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        first()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        second()
        b.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def _raw_write(expression: str) -> bytes:
    return f"import sys;sys.stdout.write(repr({expression}))".encode()


ROW = "{:<34} {:>8} {:>10} {:>7}"


def print_header(first: str = "raw ms", second: str = "belayfw ms") -> None:
    print(ROW.format("case", first, second, "ratio"))


def print_row(name: str, raw_seconds: float, belayfw_seconds: float) -> None:
    """One line of a side-by-side comparison: both medians and their ratio."""
    ratio = belayfw_seconds / raw_seconds
    print(
        ROW.format(
            name, f"{raw_seconds * 1e3:.3f}", f"{belayfw_seconds * 1e3:.3f}", f"{ratio:.2f}x"
        )
    )


CASES = [
    # name, belayfw expression, raw code (writes the same value's repr in one call),
    # rounds divisor. The raw side does not decode what it reads; belayfw does.
    ("eval('1')", "1", b"1", 1),
    ("10,000-int list", "list(range(10000))", _raw_write("list(range(10000))"), 10),
    ("100 KB bytes", "bytes(100000)", _raw_write("bytes(100000)"), 10),
    (
        "100 KB bytes, b64",
        "bytes(100000)",
        b"import sys,binascii;sys.stdout.write(binascii.b2a_base64(bytes(100000)))",
        10,
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--profile", default="unix")
    args = parser.parse_args()

    with Device(f"emulator:{args.profile}") as device:
        repl = device._link.repl
        print(f"board: emulator:{args.profile}; {args.rounds} rounds (bulk: rounds/10)")
        print_header()
        for name, expression, raw_code, divisor in CASES:
            rounds = max(5, args.rounds // divisor)

            def raw(code: bytes = raw_code) -> None:
                with repl.exclusive() as transport:
                    raw_round_trip(transport, code)

            def call(expr: str = expression) -> None:
                device.eval(expr)

            for _ in range(max(3, rounds // 20)):  # warm up both paths
                raw()
                call()
            raw_s, call_s = paired_medians(raw, call, rounds)
            print_row(name, raw_s, call_s)


if __name__ == "__main__":
    main()
