"""Running the real ``belayfw`` entry point in a subprocess, isolated from the user's setup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-m", "belayfw.cli"]
#: The same, with Ctrl-C restored: a test runner started in the background passes SIGINT
#: on ignored (as shells do for background jobs). No preexec_fn: it is unsafe in a
#: process with threads and at-fork handlers.
INTERRUPTIBLE_COMMAND = [
    sys.executable,
    "-c",
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'belayfw'; runpy.run_module('belayfw.cli', run_name='__main__')",
]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment for a CLI run: no BELAYFW_PORT, caches and config under ``tmp_path``."""
    env = {key: value for key, value in os.environ.items() if key != "BELAYFW_PORT"}
    env.update(
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        COLUMNS="120",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def belayfw(
    tmp_path: Path, *args: str, timeout: float = 120, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``belayfw ARGS`` to completion and return its result."""
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(tmp_path, **extra_env),
        stdin=subprocess.DEVNULL,
    )


def start_belayfw(tmp_path: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start ``belayfw ARGS`` in the background; Ctrl-C (SIGINT) reaches it as from a shell."""
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    popen.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(
        [*INTERRUPTIBLE_COMMAND, *args], text=True, env=cli_env(tmp_path), **popen
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed run (asserting exit 1, no Python traceback)."""
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("belayfw: "), result.stderr
    return lines[0]
