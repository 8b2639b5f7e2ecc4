"""``belayfw latency``: how long one round trip to the board takes, measured N times."""

from __future__ import annotations

import math
import statistics
import time
from typing import Annotated

from cyclopts import Parameter, validators
from rich.table import Table

from belayfw.cli.common import Port, open_board, out


def latency(
    *,
    count: Annotated[
        int, Parameter(name=("--count", "-n"), validator=validators.Number(gt=0))
    ] = 200,
    csv: bool = False,
    port: Port = None,
) -> None:
    """Measure the round trip of the smallest board call (an eval of None).

    Prints min, median, mean, p99 and max in milliseconds and a histogram.

    Parameters
    ----------
    count
        How many round trips to time.
    csv
        Print every sample as CSV (sample,round_trip_ms) instead of the summary.
    """
    with open_board(port) as device:
        device.eval("None")  # warm up: the first call may pay for imports
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            device.eval("None")
            samples.append((time.perf_counter() - started) * 1000)
    if csv:
        out.print("sample,round_trip_ms", markup=False)
        for index, value in enumerate(samples):
            out.print(f"{index},{value:.4f}", markup=False)
        return
    out.print(summary_table(samples, device.port))
    out.print(histogram(samples), markup=False)


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.99 is p99)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def summary_table(samples: list[float], port: str) -> Table:
    table = Table(title=f"round trip to {port}, {len(samples)} calls (ms)")
    for column in ("min", "median", "mean", "p99", "max"):
        table.add_column(column, justify="right")
    values = (
        min(samples),
        statistics.median(samples),
        statistics.fmean(samples),
        percentile(samples, 0.99),
        max(samples),
    )
    table.add_row(*(f"{value:.3f}" for value in values))
    return table


def histogram(samples: list[float], bins: int = 10, width: int = 40) -> str:
    """A text histogram of the samples, one line per bin."""
    low, high = min(samples), max(samples)
    step = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in samples:
        counts[min(bins - 1, int((value - low) / step))] += 1
    peak = max(counts)
    lines = []
    for index, count in enumerate(counts):
        start = low + index * step
        bar = "#" * round(width * count / peak) if count else ""
        lines.append(f"{start:9.3f} ms | {bar} {count}")
    return "\n".join(lines)
