"""The embedded emulator board: profiles, sandbox, machine shim, process ownership."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from belayfw import Device, DeviceDisconnected, DeviceError, FeatureUnavailable
from belayfw.transports import emulator
from belayfw.transports.emulator import PROFILES, EmulatorTransport

from .conftest import wait_until


def _kill_quietly(pid: int) -> None:
    """SIGKILL a board process; it may already be gone when the timer fires."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return True
    return state != "Z"


def _emulator_of(device: Device) -> EmulatorTransport:
    transport = device._link.transport
    assert isinstance(transport, EmulatorTransport)
    return transport


def test_profiles_set_the_heap_size(output) -> None:
    assert PROFILES["unix"].heap_bytes == 2 * 1024 * 1024
    assert PROFILES["pico"].heap_bytes == 192 * 1024
    assert PROFILES["esp32"].heap_bytes < PROFILES["pico"].heap_bytes
    with Device("emulator:esp32", output=output) as small:
        with pytest.raises(DeviceError) as caught:
            small.eval("len(bytearray(300 * 1024))")
        assert caught.value.type_name == "MemoryError"
        assert small.eval("1") == 1
    with Device("emulator", output=output) as big:
        assert big.eval("len(bytearray(300 * 1024))") == 300 * 1024


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown emulator profile 'uno'.*pico"):
        Device("emulator:uno")


def test_board_files_live_in_its_flash_image_removed_on_close(output) -> None:
    device = Device("emulator", output=output)
    sandbox = _emulator_of(device).sandbox
    assert device.eval("__import__('os').getcwd()") == "/"
    device.exec("f = open('data.txt', 'w')\nf.write('kept on the board')\nf.close()")
    assert not (sandbox / "data.txt").exists()
    assert b"kept on the board" in (sandbox / "flash.bin").read_bytes()
    device.close()
    assert not sandbox.exists()


def test_machine_shim_runs_hardware_code(board: Device) -> None:
    board.exec(
        "from machine import Pin, ADC, PWM, Timer, unique_id\n"
        "led = Pin(25, Pin.OUT)\n"
        "led.on()\n"
        "led.toggle()\n"
        "sensor = ADC(26)\n"
        "pwm = PWM(Pin(16), freq=1000)\n"
        "pwm.duty_u16(30000)\n"
        "ticks = []\n"
        "timer = Timer(period=5, mode=Timer.PERIODIC, callback=lambda t: ticks.append(1))\n"
    )
    assert board.eval("led.value()") == 0
    reading = board.eval("sensor.read_u16()")
    assert 0 <= reading <= 65535
    assert board.eval("(pwm.freq(), pwm.duty_u16())") == (1000, 30000)
    wait_until(lambda: board.eval("len(ticks)") >= 3, what="timer callbacks")
    board.exec("timer.deinit()")
    assert board.eval("unique_id()").startswith(b"emu-unix-")


def test_each_board_has_its_own_id_and_state(output) -> None:
    with Device("emulator", output=output) as first, Device("emulator", output=output) as second:
        first.exec("who = 'first'")
        second.exec("who = 'second'")
        assert first.eval("who") == "first"
        assert second.eval("who") == "second"
        assert first.eval("__import__('machine').unique_id()") != second.eval(
            "__import__('machine').unique_id()"
        )


def test_two_boards_work_in_parallel(output) -> None:
    with Device("emulator", output=output) as first, Device("emulator", output=output) as second:
        results: dict[str, list[int]] = {}

        def use(name: str, device: Device) -> None:
            results[name] = [device.eval(f"{n} + 1") for n in range(200)]

        threads = [
            threading.Thread(target=use, args=("a", first)),
            threading.Thread(target=use, args=("b", second)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert results == {"a": list(range(1, 201)), "b": list(range(1, 201))}


@pytest.mark.timeout(30)  # a hang guard: the call below would loop forever without detection
def test_board_killed_mid_call_raises_disconnected(output) -> None:
    device = Device("emulator", output=output)
    pid = _emulator_of(device).pid
    threading.Timer(0.2, _kill_quietly, args=(pid,)).start()
    with pytest.raises(DeviceDisconnected, match="killed by signal 9"):
        device.exec("while True:\n    pass\n")
    with pytest.raises(DeviceDisconnected):
        device.eval("1")  # stays disconnected, says so at once
    device.close()


def test_close_stops_the_process(output) -> None:
    device = Device("emulator", output=output)
    pid = _emulator_of(device).pid
    device.close()
    assert not _pid_alive(pid)


def test_board_never_outlives_a_killed_host(tmp_path: Path) -> None:
    """A host killed with SIGKILL leaves no emulator process and no sandbox."""
    script = tmp_path / "host.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, threading
            from belayfw import Device
            device = Device("emulator")
            transport = device._link.transport
            print(transport.pid, transport.sandbox, flush=True)
            threading.Event().wait()
            """
        )
    )
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        pid_text, sandbox = host.stdout.readline().split()
        board_pid = int(pid_text)
        assert _pid_alive(board_pid)
    finally:
        host.kill()
        host.wait(timeout=10)
    wait_until(lambda: not _pid_alive(board_pid), what="the orphaned board to exit")
    wait_until(lambda: not Path(sandbox).exists(), what="the sandbox to be removed")


def test_missing_interpreter_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BELAYFW_MICROPYTHON", raising=False)
    monkeypatch.setattr(emulator.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(emulator.shutil, "which", lambda name: None)
    with pytest.raises(FeatureUnavailable, match=r"pip install 'belayfw\[emulator\]'"):
        emulator.find_micropython()


def test_belayfw_micropython_overrides_the_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    fake = tmp_path / "micropython"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BELAYFW_MICROPYTHON", str(fake))
    assert emulator.find_micropython().executable == str(fake)
    fake.chmod(0o644)
    with pytest.raises(FeatureUnavailable, match="not an executable"):
        emulator.find_micropython()


def test_executable_on_path_runs_as_the_board(
    monkeypatch: pytest.MonkeyPatch, tmp_path, output
) -> None:
    """The fallback path: a `micropython` executable instead of the wheel's module."""
    wheel = emulator.find_micropython()
    assert wheel.module_dir is not None
    launcher = tmp_path / "micropython"
    launcher.write_text(
        f"#!{sys.executable} -IS\n"
        "import sys\n"
        f"sys.path.insert(0, {wheel.module_dir!r})\n"
        "import micropython_run\n"
        "sys.exit(micropython_run.run_main(sys.argv))\n"
    )
    launcher.chmod(0o755)
    monkeypatch.setenv("BELAYFW_MICROPYTHON", str(launcher))
    with Device("emulator:pico", output=output) as device:
        assert _emulator_of(device).command.executable == str(launcher)
        assert device.eval("21 * 2") == 42


@pytest.mark.timeout(30)
def test_closing_the_board_under_a_waiting_read_raises_disconnected() -> None:
    """Regression: a read waiting while another thread closed the board raised a raw OSError."""
    transport = EmulatorTransport()
    transport.read(time.monotonic() + 1)  # whatever the board printed at start-up
    outcome: list[BaseException] = []
    reading = threading.Event()

    def read() -> None:
        reading.set()
        try:
            while True:
                transport.read(time.monotonic() + 10)
        except BaseException as error:
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    reading.wait(10)
    transport.close()
    reader.join(timeout=20)
    assert len(outcome) == 1
    assert isinstance(outcome[0], DeviceDisconnected), repr(outcome[0])
    assert "emulator" in str(outcome[0])
