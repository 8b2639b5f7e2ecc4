"""The wire against the real MicroPython interpreter: exec, eval, errors, timeouts, output."""

from __future__ import annotations

import re
import threading
import time

import pytest
from pydantic import ValidationError

from belayfw import Device, DeviceError, TaskTimeout, thread
from belayfw.protocol import RAW_PASTE_THRESHOLD

from .conftest import OutputCollector


def test_exec_returns_what_the_code_printed(board: Device) -> None:
    assert board.exec("print('hello')\nprint(1, 2, sep='-')") == "hello\n1-2\n"


def test_exec_runs_at_global_scope(board: Device) -> None:
    assert board.exec("counter = 41\ndef bump():\n    global counter\n    counter += 1\n") == ""
    board.exec("bump()")
    assert board.eval("counter") == 42


def test_eval_returns_the_value_and_forwards_prints(board: Device, output) -> None:
    board.exec("def noisy():\n    print('side effect')\n    return 7\n")
    assert board.eval("noisy()") == 7
    output.wait_for(lambda text: "side effect\n" in text)


def test_eval_of_none(board: Device) -> None:
    assert board.eval("None") is None


def test_board_exception_carries_type_message_and_traceback(board: Device) -> None:
    board.exec("def fails():\n    raise ValueError('bad reading')\n")
    with pytest.raises(DeviceError) as caught:
        board.eval("fails()")
    error = caught.value
    assert error.type_name == "ValueError"
    assert error.message == "bad reading"
    assert "line 2, in fails" in error.board_traceback
    assert "ValueError: bad reading" in str(error)
    assert board.eval("1 + 1") == 2  # the board is still usable


def test_syntax_error_is_a_device_error(board: Device) -> None:
    with pytest.raises(DeviceError) as caught:
        board.exec("def broken(:\n    pass\n")
    assert caught.value.type_name == "SyntaxError"
    with pytest.raises(DeviceError) as caught:
        board.eval("1 +")
    assert caught.value.type_name == "SyntaxError"
    assert board.eval("3") == 3


def test_timeout_interrupts_and_board_stays_usable(board: Device) -> None:
    with pytest.raises(TaskTimeout) as caught:
        board.exec("while True:\n    pass\n", timeout=0.3)
    assert caught.value.timeout == 0.3
    assert board.eval("'still here'") == "still here"


def test_timeout_on_code_sent_in_raw_paste_mode(board: Device) -> None:
    # Raw-paste code ignores the Ctrl-C byte on the unix port; belayfw must still stop it.
    board._link.repl.raw_paste = True  # the emulator's pty does not need it by default
    padding = "# " + "x" * RAW_PASTE_THRESHOLD + "\n"
    with pytest.raises(TaskTimeout):
        board.exec(padding + "while True:\n    pass\n", timeout=0.3)
    assert board.eval("5 * 5") == 25


def test_device_default_timeout_applies(output) -> None:
    with Device("emulator", output=output, timeout=0.3) as device:
        with pytest.raises(TaskTimeout):
            device.exec("while True: pass")
        assert device.eval("1") == 1


def test_interrupt_from_another_thread(board: Device) -> None:
    board.exec("import time")
    stopper = threading.Timer(0.2, board.interrupt)
    stopper.start()
    try:
        with pytest.raises(DeviceError) as caught:
            board.exec("while True:\n    time.sleep_ms(1)\n")
    finally:
        stopper.cancel()
    assert caught.value.type_name == "KeyboardInterrupt"
    assert board.eval("2") == 2


def test_interrupt_when_idle_sends_nothing(board: Device) -> None:
    before = board.link_stats.bytes_sent
    assert board.interrupt() is False
    assert board.link_stats.bytes_sent == before
    assert board.eval("1") == 1


@pytest.mark.parametrize("raw_paste", [True, False], ids=["raw-paste", "plain-raw"])
def test_large_code_arrives_intact(board: Device, raw_paste: bool) -> None:
    board._link.repl.raw_paste = raw_paste
    numbers = list(range(3000))
    before = board.link_stats.bytes_sent
    board.exec(f"big = {numbers!r}")
    assert board.eval("sum(big)") == sum(numbers)
    assert board.link_stats.bytes_sent - before > len(repr(numbers))


def test_bulk_results_round_trip_intact(board: Device) -> None:
    assert board.eval("bytes(range(256)) * 400") == bytes(range(256)) * 400
    assert board.eval("list(range(10000))") == list(range(10000))


def test_one_round_trip_per_eval(board: Device) -> None:
    before = board.link_stats
    for value in range(10):
        assert board.eval(str(value)) == value
    after = board.link_stats
    assert after.round_trips - before.round_trips == 10
    assert after.bytes_sent > before.bytes_sent
    assert after.bytes_received > before.bytes_received


def test_link_stats_is_a_read_only_record(board: Device) -> None:
    stats = board.link_stats
    with pytest.raises(ValidationError):
        stats.round_trips = 0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        board.link_stats = stats  # type: ignore[misc]


def test_prints_that_look_like_protocol_do_not_confuse_results(board: Device, output) -> None:
    board.exec(
        "def tricky():\n"
        "    print('OK\\x04\\x04>')\n"
        "    print('\\x02fake-frame r123\\x03')\n"
        "    return 'real'\n"
    )
    assert board.eval("tricky()") == "real"
    assert board.exec("tricky()") == "OK\x04\x04>\n\x02fake-frame r123\x03\n"
    assert board.eval("1") == 1
    output.wait_for(lambda text: "\x02fake-frame r123\x03" in text)


class ControlPrinter(Device):
    @thread
    def control():
        print("a\x01b\x02c\x03d\x04e\x10f")


def test_a_threads_control_bytes_travel_escaped_and_arrive_as_printed(
    output: OutputCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raw, a \x01 a thread prints while code goes out in raw-paste mode would count
    # as a window grant (the host would send more than the board has room for).
    with ControlPrinter("emulator", output=output) as device:
        transport = device._board.current.transport
        seen = bytearray()
        read = transport.read

        def tapped(deadline: float) -> bytes:
            data = read(deadline)
            seen.extend(data)
            return data

        monkeypatch.setattr(transport, "read", tapped)
        assert device.control().join(30)
        output.wait_for(lambda text: "[control] a\x01b\x02c\x03d\x04e\x10f\n" in text)
    assert b"a\x10Ab\x10Bc\x10Cd\x10De\x10Pf" in seen
    assert b"a\x01b" not in seen


def test_thread_output_never_corrupts_results(board: Device, output) -> None:
    """A board thread prints every 2 ms while the host makes at least 1,000 evals.

    The calls go on until the thread has printed at least 100 lines during
    them (a count the board keeps), however fast or slow the machine is.
    """
    started = board.exec(
        "import _thread, time\n"
        "running = True\n"
        "count = 0\n"
        "def chatter():\n"
        "    global count\n"
        "    while running:\n"
        "        print('tick', count)\n"
        "        count += 1\n"
        "        time.sleep_ms(2)\n"
        "    print('chatter done', count)\n"
        "def stop():\n"
        "    global running\n"
        "    running = False\n"
        "_thread.start_new_thread(chatter, ())\n"
    )
    first = board.eval("count")
    deadline = time.monotonic() + 60
    value = 0
    while True:
        result, ticked = board.eval(f"({value} * 3, count)")
        assert result == value * 3
        value += 1
        if value >= 1000 and ticked - first >= 100:
            break
        assert time.monotonic() < deadline, f"the board thread printed {ticked - first} lines"
    board.eval("stop()")  # eval forwards output (exec would return the ticks it caught)
    # Ticks printed while exec ran are part of what exec returned.
    whole_line = re.compile(r"chatter done \d+\n")
    text = started + output.wait_for(lambda text: whole_line.search(text) is not None)
    lines = text.splitlines()
    total = int(lines[-1].split()[-1])
    ticks = [line for line in lines if line.startswith("tick")]
    assert ticks == [f"tick {n}" for n in range(total)]  # every line once, whole, in order


def test_idle_thread_output_reaches_the_host(board: Device, output) -> None:
    board.exec(
        "import _thread, time\n"
        "def later():\n"
        "    time.sleep_ms(50)\n"
        "    print('printed while the host was idle')\n"
        "_thread.start_new_thread(later, ())\n"
    )
    output.wait_for(lambda text: "printed while the host was idle\n" in text)


def test_calls_from_many_host_threads_are_serialised(board: Device) -> None:
    errors: list[BaseException] = []

    def worker(base: int) -> None:
        try:
            for offset in range(50):
                assert board.eval(f"{base} + {offset}") == base + offset
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(1000 * n,)) for n in range(4)]
    for caller in threads:
        caller.start()
    for caller in threads:
        caller.join(timeout=30)
    assert not errors


def test_closed_device_refuses_calls(output) -> None:
    device = Device("emulator", output=output)
    device.close()
    device.close()  # idempotent
    assert not device.is_open
    with pytest.raises(Exception, match="not open"):
        device.eval("1")


def test_open_false_defers_connecting(output) -> None:
    device = Device("emulator", output=output, open=False)
    assert not device.is_open
    with device:
        assert device.eval("6 * 7") == 42
    assert not device.is_open


def test_deadline_on_every_read_even_without_timeout(board: Device) -> None:
    # A long call without a timeout completes; nothing gives up early.
    printed = board.exec(
        "import time\n"
        "started = time.ticks_ms()\n"
        "time.sleep_ms(700)\n"
        "print(time.ticks_diff(time.ticks_ms(), started))\n"
    )
    assert int(printed) >= 700  # the whole call ran, by the board's own clock
