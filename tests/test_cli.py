"""The command line drives the emulator board."""

from __future__ import annotations

import pytest

from belayfw.cli import main


def test_eval_prints_the_repr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "[1, 'two']", "-p", "emulator"]) == 0
    assert capsys.readouterr().out.strip() == "[1, 'two']"


def test_exec_prints_board_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exec", "print('from the board')", "-p", "emulator"]) == 0
    assert capsys.readouterr().out == "from the board\n"


def test_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "1/0", "-p", "emulator"]) == 1
    assert "DeviceError: ZeroDivisionError: divide by zero" in capsys.readouterr().err
