"""The benchmark scripts still run (with tiny round counts); no timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
RATIO = re.compile(r"\d+\.\d+x$", re.MULTILINE)


@pytest.mark.parametrize(
    ("script", "arguments", "rows"),
    [
        ("wire.py", ["--rounds", "20"], 4),
        ("model.py", ["--rounds", "20", "--repeats", "1"], 2),
        ("sessions.py", ["--rounds", "20", "--repeats", "1", "--count", "50"], 1),
        ("cli.py", ["--rounds", "1"], 3),
        ("fs.py", ["--repeats", "1", "--links", "pty"], 5),
        ("sleeps.py", ["--rounds", "2", "--calls", "20"], 4),
        ("virtual_hardware.py", ["--rounds", "2", "--calls", "10"], 2),
        ("resets.py", ["--rounds", "1"], 3),
        (
            "streaming.py",
            [
                *("--values", "2000", "--repeats", "1", "--no-belay", "--links", "pty"),
                *("--heap-profiles", "pico"),
            ],
            1,
        ),
    ],
)
@pytest.mark.timeout(600)  # a hang guard: a loaded machine makes these runs long, not wrong
def test_benchmark_prints_its_ratios(script: str, arguments: list[str], rows: int) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(RATIO.findall(result.stdout)) == rows


@pytest.mark.timeout(600)
def test_leak_benchmark_prints_bytes_per_cycle() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "leaks.py"),
            "--sessions",
            "3",
            "--opens",
            "2",
            "--warm-up",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^\w.* \d+ +-?\d+\.\d$", result.stdout, re.MULTILINE)) == 2
