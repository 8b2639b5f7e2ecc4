"""dev.run_file(): a host script runs at board global scope, output live, tracebacks mapped."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from belayfw import Device, DeviceError, TaskTimeout
from belayfw.scripts import ScriptNotFound

from .conftest import OutputCollector


def _script(tmp_path: Path, text: str, name: str = "main.py") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_script_runs_at_global_scope_as_main(board: Device, output: OutputCollector, tmp_path):
    path = _script(tmp_path, "print('hello from', __name__)\nanswer = 6 * 7\n")
    board.run_file(path)
    output.wait_for(lambda text: "hello from __main__\n" in text)
    assert board.eval("answer") == 42


def test_board_traceback_names_the_script_and_its_lines(board: Device, tmp_path) -> None:
    path = _script(tmp_path, "x = 1\n\ndef fail():\n    return x / 0\n\nfail()\n")
    with pytest.raises(DeviceError) as caught:
        board.run_file(path)
    error = caught.value
    assert error.type_name == "ZeroDivisionError"
    assert f'File "{path}", line 6, in <module>' in error.board_traceback
    assert f'File "{path}", line 4, in fail' in error.board_traceback
    assert "<stdin>" not in error.board_traceback and "_bfw_" not in error.board_traceback
    assert board.eval("1 + 1") == 2  # the board is still usable


def test_syntax_error_names_the_line(board: Device, tmp_path) -> None:
    path = _script(tmp_path, "a = 1\nb = (\n")
    with pytest.raises(DeviceError, match="SyntaxError") as caught:
        board.run_file(path)
    assert f'File "{path}", line' in caught.value.board_traceback


def test_output_streams_while_the_script_runs(board: Device, output, tmp_path) -> None:
    path = _script(tmp_path, "print('started')\nwhile True:\n    pass\n")
    failures: list[BaseException] = []

    def run() -> None:
        try:
            board.run_file(path)
        except BaseException as error:
            failures.append(error)

    runner = threading.Thread(target=run)
    runner.start()
    output.wait_for(lambda text: "started\n" in text)
    assert runner.is_alive()  # the line arrived while the script still runs
    assert board.interrupt()
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert isinstance(failures[0], DeviceError) and failures[0].type_name == "KeyboardInterrupt"


def test_timeout_interrupts_the_script(board: Device, tmp_path) -> None:
    path = _script(tmp_path, "while True:\n    pass\n")
    with pytest.raises(TaskTimeout):
        board.run_file(path, timeout=0.2)
    assert board.eval("'alive'") == "alive"


def test_missing_script_is_a_file_not_found_error(board: Device, tmp_path) -> None:
    with pytest.raises(ScriptNotFound, match="no such script") as caught:
        board.run_file(tmp_path / "nope.py")
    assert isinstance(caught.value, FileNotFoundError)
