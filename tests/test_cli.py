"""Every non-interactive command through the real entry point, against the emulator."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from belayfw.cli import main
from belayfw.transports.emulator_flash import rom_image
from belayfw.transports.emulator_profiles import PROFILES

from .cli_helpers import belayfw, one_error_line, start_belayfw

FAILING_SCRIPT = """import sys
print('platform', sys.platform)

def f():
    raise ValueError('bad sensor')

f()
"""


def _script(tmp_path: Path, text: str, name: str = "main.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the application ------------------------------------------------------------------


def test_version_and_help(tmp_path: Path) -> None:
    version = belayfw(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("belayfw 0.")
    helped = belayfw(tmp_path, "--help")
    assert helped.returncode == 0
    for command in ("run", "repl", "exec", "eval", "info", "latency", "reset", "ports", "emulator"):
        assert command in helped.stdout


def test_unknown_command_suggests_the_right_one(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "rnu", "main.py"))
    assert line.startswith("belayfw: UnknownCommandError:") and 'Did you mean "run"?' in line


def test_unknown_option_is_one_line(tmp_path: Path) -> None:
    assert "--bogus" in one_error_line(belayfw(tmp_path, "eval", "1", "--bogus"))


def test_completion_script(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "completion", "bash")
    assert result.returncode == 0 and "belayfw" in result.stdout and "complete" in result.stdout


# -- choosing the board -----------------------------------------------------------------


def test_without_a_port_the_emulator_is_used_and_said_so(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "eval", "sys.platform if 'sys' in globals() else 'linux'")
    assert result.returncode == 0 and result.stdout.strip() == "'linux'"
    assert "using the emulator" in result.stderr


def test_belayfw_port_is_used_and_said_so(tmp_path: Path) -> None:
    result = belayfw(
        tmp_path, "eval", "__import__('gc').mem_free() < 200_000", BELAYFW_PORT="emulator:pico"
    )
    assert result.returncode == 0 and result.stdout.strip() == "True"  # the pico profile's heap
    assert "emulator:pico (from BELAYFW_PORT)" in result.stderr


def test_a_given_port_is_not_announced(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "eval", "1 + 1", "-p", "emulator")
    assert result.returncode == 0 and result.stdout == "2\n" and result.stderr == ""


def test_unknown_emulator_profile_in_the_port(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "eval", "1", "-p", "emulator:nope"))
    assert "unknown emulator profile 'nope'" in line


# -- exec, eval, run --------------------------------------------------------------------


def test_exec_prints_board_output(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "exec", "for n in range(3): print('line', n)", "-p", "emulator")
    assert result.returncode == 0 and result.stdout == "line 0\nline 1\nline 2\n"


def test_eval_board_error_is_a_traceback_then_one_line(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "eval", "1/0", "-p", "emulator")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "belayfw: DeviceError: ZeroDivisionError: divide by zero"
    )


def test_run_prints_output_and_maps_the_traceback(tmp_path: Path) -> None:
    script = _script(tmp_path, FAILING_SCRIPT)
    result = belayfw(tmp_path, "run", str(script), "-p", "emulator")
    assert result.returncode == 1
    assert result.stdout == "platform linux\n"
    lines = result.stderr.strip().splitlines()
    assert f'  File "{script}", line 7, in <module>' in lines
    assert f'  File "{script}", line 5, in f' in lines
    assert lines[-1] == "belayfw: DeviceError: ValueError: bad sensor"
    assert "belayfw/" not in result.stderr  # no host Python traceback


def test_run_a_good_script_exits_0(tmp_path: Path) -> None:
    script = _script(tmp_path, "print('ran', __name__)\n")
    result = belayfw(tmp_path, "run", str(script), "-p", "emulator")
    assert result.returncode == 0 and result.stdout == "ran __main__\n"


def test_run_timeout_interrupts_the_board(tmp_path: Path) -> None:
    script = _script(tmp_path, "while True:\n    pass\n")
    line = one_error_line(belayfw(tmp_path, "run", str(script), "-t", "0.3", "-p", "emulator"))
    assert line.startswith("belayfw: TaskTimeout:")


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf", "soon"])
def test_run_rejects_a_bad_timeout(tmp_path: Path, value: str) -> None:
    script = _script(tmp_path, "print(1)\n")
    line = one_error_line(
        belayfw(tmp_path, "run", str(script), f"--timeout={value}", "-p", "emulator")
    )
    assert "--timeout" in line or "-t" in line


def test_run_a_missing_file(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "run", str(tmp_path / "nope.py"), "-p", "emulator"))
    assert line.startswith("belayfw: ScriptNotFound: no such script:")


def test_run_no_follow_refuses_a_board_that_dies_with_the_command(tmp_path: Path) -> None:
    script = _script(tmp_path, "print(1)\n")
    line = one_error_line(belayfw(tmp_path, "run", str(script), "--no-follow", "-p", "emulator"))
    assert "outlives this command" in line


def test_ctrl_c_interrupts_a_running_script_and_exits_130(tmp_path: Path) -> None:
    script = _script(tmp_path, "print('started')\nwhile True:\n    pass\n")
    process = start_belayfw(tmp_path, "run", str(script), "-p", "emulator")
    assert process.stdout is not None
    assert process.stdout.readline() == "started\n"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "belayfw: interrupted"


# -- info, latency, reset, ports -----------------------------------------------------------


def test_info_table(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "info", "-p", "emulator:pico")
    assert result.returncode == 0
    for label in ("firmware", "platform", "features", "memory", "flash", "unique id", "round trip"):
        assert label in result.stdout
    assert "micropython" in result.stdout and "threads" in result.stdout


def test_info_json(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "info", "--json", "-p", "emulator:pico")
    facts = json.loads(result.stdout)
    assert facts["platform"] == "rp2" and facts["features"]["threads"] is True
    # The profile's heap, plus the ROM file system the unix port holds in RAM.
    rom = len(rom_image(PROFILES["pico"].board_modules))
    assert 0 < facts["mem_free"] + facts["mem_alloc"] <= 192 * 1024 + rom
    assert facts["performance"]["round_trip_ms"] > 0 and facts["port"] == "emulator:pico"


def test_latency_summary_and_histogram(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "latency", "--count", "30", "-p", "emulator")
    assert result.returncode == 0
    for column in ("min", "median", "mean", "p99", "max"):
        assert column in result.stdout
    bins = [line for line in result.stdout.splitlines() if " ms | " in line]
    assert len(bins) == 10 and sum(int(line.split()[-1]) for line in bins) == 30


def test_latency_csv(tmp_path: Path) -> None:
    result = belayfw(tmp_path, "latency", "-n", "5", "--csv", "-p", "emulator")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "sample,round_trip_ms" and len(lines) == 6
    assert all(float(line.split(",")[1]) > 0 for line in lines[1:])


def test_latency_rejects_a_zero_count(tmp_path: Path) -> None:
    line = one_error_line(belayfw(tmp_path, "latency", "-n", "0", "-p", "emulator"))
    assert line == 'belayfw: ValidationError: Invalid value "0" for -n. Must be > 0.'


def test_reset(tmp_path: Path) -> None:
    soft = belayfw(tmp_path, "reset", "--soft", "-p", "emulator")
    assert soft.returncode == 0 and "soft-reset" in soft.stderr
    hard = belayfw(tmp_path, "reset", "--hard", "-p", "emulator")
    assert hard.returncode == 0 and "hard reset" in hard.stderr
    assert "choose one" in one_error_line(belayfw(tmp_path, "reset", "--soft", "--hard"))


def test_ports_with_no_board_attached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [])
    assert main(["ports"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no MicroPython USB board attached" in captured.err
    assert main(["ports", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_ports_lists_vendor_product_serial_and_location(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # USB enumeration is the one thing the emulator cannot provide: a fake port list.
    pico = ListPortInfo("/dev/ttyACM7")
    pico.vid, pico.pid = 0x2E8A, 0x0005
    pico.manufacturer, pico.product = "MicroPython", "Board in FS mode"
    pico.serial_number, pico.location = "e6614c311b7e8a2f", "1-1.4:1.0"
    other = ListPortInfo("/dev/ttyUSB0")
    other.vid = 0x0403  # an FTDI adapter: not a MicroPython maker
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [other, pico])
    assert main(["ports"]) == 0
    table = capsys.readouterr().out
    for text in (
        "/dev/ttyACM7",
        "MicroPython",
        "Board in FS mode",
        "e6614c311b7e8a2f",
        "1-1.4:1.0",
    ):
        assert text in table
    assert "/dev/ttyUSB0" not in table
    assert main(["ports", "--json"]) == 0
    (board,) = json.loads(capsys.readouterr().out)
    assert board["port"] == "/dev/ttyACM7" and board["serial_number"] == "e6614c311b7e8a2f"


def test_main_returns_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "[1, 'two']", "-p", "emulator"]) == 0
    assert capsys.readouterr().out.strip() == "[1, 'two']"
    assert main(["eval", "1/0", "-p", "emulator"]) == 1
    assert "belayfw: DeviceError: ZeroDivisionError: divide by zero" in capsys.readouterr().err
