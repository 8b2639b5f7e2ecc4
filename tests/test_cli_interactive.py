"""``belayfw repl`` through a pseudo-terminal, and ``belayfw emulator`` opened by other programs."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_helpers import belayfw, cli_env, one_error_line, start_belayfw


class Terminal:
    """The user's side of a pseudo-terminal: type keys, wait for text."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.pending = b""

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def expect(self, marker: bytes, timeout: float = 30.0) -> bytes:
        """Wait for ``marker``; return everything up to and including it."""
        deadline = time.monotonic() + timeout
        while marker not in self.pending:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, remaining))
            if not ready:
                pytest.fail(f"terminal never showed {marker!r}; it showed {self.pending[-400:]!r}")
            try:
                self.pending += os.read(self.master, 4096)
            except OSError:
                pytest.fail(f"terminal closed before {marker!r}; it showed {self.pending!r}")
        end = self.pending.index(marker) + len(marker)
        shown, self.pending = self.pending[:end], self.pending[end:]
        return shown


@pytest.fixture
def repl_terminal(tmp_path: Path) -> Iterator[tuple[Terminal, subprocess.Popen[bytes]]]:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "belayfw.cli", "repl", "-p", "emulator"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=cli_env(tmp_path),
        start_new_session=True,
    )
    os.close(slave)
    try:
        yield Terminal(master), process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        os.close(master)


def test_repl_runs_code_interrupts_resets_and_exits(repl_terminal) -> None:
    terminal, process = repl_terminal
    assert b"Ctrl-] exits" in terminal.expect(b">>> ")
    terminal.type(b"print(6 * 7)\r")
    assert b"42" in terminal.expect(b">>> ")
    # Ctrl-C interrupts running code (it prints first, so it is known to run).
    terminal.type(b"exec(\"print('spin' + 'ning')\\nwhile True: pass\")\r")
    terminal.expect(b"spinning")
    terminal.type(b"\x03")
    assert b"KeyboardInterrupt" in terminal.expect(b">>> ")
    # Ctrl-D soft-resets the board: RAM cleared, the REPL carries on.
    terminal.type(b"kept = 1\r")
    terminal.expect(b">>> ")
    terminal.type(b"\x04")
    assert b"soft reboot" in terminal.expect(b">>> ")
    terminal.type(b"print('kept' in globals())\r")
    assert b"False" in terminal.expect(b">>> ")
    terminal.type(b"\x1d")  # Ctrl-] leaves
    assert process.wait(timeout=30) == 0


def test_repl_needs_a_terminal(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "repl", "-p", "emulator"))
    assert "repl needs a terminal" in line


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``belayfw emulator`` running; yields the serial path it printed."""
    process = start_belayfw(tmp_path, "emulator", "--profile", "pico")
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        yield path
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        assert "emulator board stopped" in stderr


def test_emulator_board_serves_other_belayfw_processes(tmp_path: Path, served: str) -> None:
    first = belayfw(tmp_path, "exec", "kept = 42", "-p", served)
    assert first.returncode == 0, first.stderr
    # A second process finds the board's RAM as the first left it, like a USB board.
    second = belayfw(tmp_path, "eval", "kept", "-p", served)
    assert second.returncode == 0 and second.stdout == "42\n", second.stderr
    heap = belayfw(tmp_path, "eval", "__import__('gc').mem_free() < 200_000", "-p", served)
    assert heap.stdout == "True\n"  # the pico profile
    # A soft reset over the serial path clears RAM and leaves the board usable.
    assert belayfw(tmp_path, "reset", "--soft", "-p", served).returncode == 0
    after = belayfw(tmp_path, "eval", "'kept' in globals()", "-p", served)
    assert after.stdout == "False\n", after.stderr


def test_emulator_board_times_out_and_interrupts_over_the_serial_path(
    tmp_path: Path, served: str
) -> None:
    script = tmp_path / "spin.py"
    script.write_text("while True:\n    pass\n", encoding="utf-8")
    line = one_error_line(belayfw(tmp_path, "run", str(script), "-t", "0.3", "-p", served))
    assert line.startswith("belayfw: TaskTimeout:")
    assert belayfw(tmp_path, "eval", "'alive'", "-p", served).stdout == "'alive'\n"


def test_run_no_follow_leaves_the_script_running(tmp_path: Path, served: str) -> None:
    script = tmp_path / "forever.py"
    script.write_text("ticks = 0\nwhile True:\n    ticks += 1\n", encoding="utf-8")
    started = belayfw(tmp_path, "run", str(script), "--no-follow", "-p", served)
    assert started.returncode == 0, started.stderr
    # The next client interrupts the running script on connecting, as with a USB board.
    counted = belayfw(tmp_path, "eval", "ticks > 0", "-p", served)
    assert counted.stdout == "True\n", counted.stderr


def test_mpremote_opens_the_emulator_board(tmp_path: Path, served: str) -> None:
    mpremote = [sys.executable, "-m", "mpremote", "connect", served]
    env = cli_env(tmp_path)
    # mpremote soft-resets the board before its command: the board must come back from it.
    ran = subprocess.run(
        [*mpremote, "exec", "print('from mpremote', sum(range(10)))"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert ran.returncode == 0 and "from mpremote 45" in ran.stdout, ran
    resumed = subprocess.run(
        [*mpremote, "resume", "exec", "seen = 'yes'"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert resumed.returncode == 0, resumed
    # belayfw, after mpremote, on the same board and RAM.
    assert belayfw(tmp_path, "eval", "seen", "-p", served).stdout == "'yes'\n"


def test_emulator_rejects_a_bad_profile(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "emulator", "--profile", "nope"))
    assert "unknown emulator profile 'nope'" in line and "pico" in line


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = start_belayfw(tmp_path, "emulator", *args)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 0


def test_emulator_flash_image_keeps_files_across_resets_and_runs(tmp_path: Path) -> None:
    image = tmp_path / "board.bin"
    process, path = _serve(tmp_path, "--flash", str(image))
    try:
        wrote = belayfw(
            tmp_path, "exec", "with open('notes.txt', 'w') as f: f.write('kept')", "-p", path
        )
        assert wrote.returncode == 0, wrote.stderr
        assert belayfw(tmp_path, "reset", "--soft", "-p", path).returncode == 0
        after_reset = belayfw(tmp_path, "eval", "open('notes.txt').read()", "-p", path)
        assert after_reset.stdout == "'kept'\n", after_reset.stderr  # RAM cleared, files kept
    finally:
        _stop(process)
    assert image.is_file()
    process, path = _serve(tmp_path, "--flash", str(image))
    try:
        again = belayfw(tmp_path, "eval", "open('notes.txt').read()", "-p", path)
        assert again.stdout == "'kept'\n", again.stderr  # the next board has the same flash
    finally:
        _stop(process)
