"""Run the whole test suite several times, optionally with every core kept busy.

A flaky test blocks every change, so "it passed once" is not proof. This runs
``pytest`` ``--runs`` times in a row and reports how many runs passed; with
``--load`` it first starts one CPU-bound process per core (stopped at the end,
whatever happens), which is how timing assumptions in tests show themselves.

    python tools/repeat_suite.py --runs 10
    python tools/repeat_suite.py --runs 5 --load -- -x tests/test_threads.py
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    """Burn one core until told to stop."""
    while not stop.is_set():
        for _ in range(100_000):
            pass


@contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """Keep ``processes`` cores busy for the duration of the block."""
    stop = multiprocessing.Event()
    workers = [
        multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="how many full runs (default 10)")
    parser.add_argument(
        "--load", action="store_true", help="keep every core busy with a CPU-bound process"
    )
    parser.add_argument(
        "--logs",
        type=Path,
        default=None,
        help="folder for each failed run's whole output (default: a new temporary folder)",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args]
    load = (os.cpu_count() or 1) if args.load else 0
    condition = f"with {load} CPU-bound process(es)" if load else "quiet"
    outcomes: list[tuple[int, float]] = []
    logs: Path | None = args.logs
    with cpu_load(load):
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            result = subprocess.run(command, capture_output=True, text=True)
            elapsed = time.monotonic() - started
            outcomes.append((result.returncode, elapsed))
            last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"run {run}/{args.runs} ({condition}): {last}", flush=True)
            if result.returncode != 0:
                failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
                for line in failed or result.stdout.splitlines()[-30:]:
                    print(f"    {line}", flush=True)
                # A flake seen once is worth its whole traceback: keep the run's output.
                if logs is None:
                    logs = Path(tempfile.mkdtemp(prefix="belayfw-repeat-"))
                logs.mkdir(parents=True, exist_ok=True)
                log = logs / f"run-{run}.txt"
                log.write_text(result.stdout + result.stderr, encoding="utf-8")
                print(f"    whole output: {log}", flush=True)
    passed = sum(1 for code, _ in outcomes if code == 0)
    print(f"repeat: {passed} of {args.runs} full runs passed ({condition})")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
