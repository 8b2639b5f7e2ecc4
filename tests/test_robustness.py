"""Faults found in review: interrupts at bad moments, cut frames, callbacks, hangs.

Each test drives the real emulator into the situation that once went wrong.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from belayfw import (
    BelayError,
    Device,
    DeviceClosed,
    DeviceDisconnected,
    DeviceError,
    EmulatorBoard,
    ResourceCleanupError,
    TaskTimeout,
    task,
    teardown,
)
from belayfw.protocol import RAW_REPL_BANNER, RawRepl
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, answer_entry

from .conftest import CallInThread, wait_until


def _heap_locked(error: DeviceError) -> bool:
    """The unix port's known aftermath of an interrupt inside a large allocation."""
    return error.type_name == "MemoryError" and "heap is locked" in error.message


def test_timeout_while_a_large_result_is_being_sent(output) -> None:
    """An interrupt at any point of a large result: never a wrong value, never a dead board.

    An interrupt that lands inside the 300 KB allocation can leave the unix
    port's heap locked (docs/wire.md): calls then fail with a clear
    MemoryError, and that emulator is replaced to carry on.
    """
    expression = "(time.sleep_ms(20), b'x' * 300000)[1]"
    board = Device("emulator", output=output)
    try:
        board.exec("import time")
        started = time.perf_counter()
        assert len(board.eval(expression)) == 300000
        full = time.perf_counter() - started
        for step in range(12):
            deadline = 0.02 + full * step / 12  # from before sending to near the end
            try:
                value = board.eval(expression, timeout=deadline)
            except TaskTimeout:
                pass
            except DeviceError as error:
                assert _heap_locked(error), error
            else:
                assert value == b"x" * 300000
            try:  # nothing left over from a cut frame: the next value is exact
                assert board.eval("b'abc'") == b"abc"
            except DeviceError as error:
                assert _heap_locked(error), error
                board.close()
                board = Device("emulator", output=output)
                board.exec("import time")
    finally:
        board.close()


def test_tiny_timeouts_never_kill_the_board(board: Device) -> None:
    for timeout in (1e-6, 1e-5, 1e-4, 3e-4, 1e-3) * 4:
        with contextlib.suppress(TaskTimeout):
            assert board.eval("1 + 1", timeout=timeout) == 2
    assert board.eval("'alive'") == "alive"


def test_interrupt_is_never_sent_to_an_idle_board(board: Device) -> None:
    """The unix port exits on an interrupt while idle: belayfw must hold back."""
    stop = threading.Event()
    sent_while_idle = []

    def pester() -> None:
        while not stop.is_set():
            sent_while_idle.append(board.interrupt())

    before = board.link_stats.bytes_sent
    pest = threading.Thread(target=pester)
    pest.start()
    try:
        threading.Event().wait(0.2)  # let it hammer an idle board for a while
    finally:
        stop.set()
        pest.join(timeout=10)
    assert len(sent_while_idle) > 100 and not any(sent_while_idle)
    assert board.link_stats.bytes_sent == before
    assert board.eval("'alive'") == "alive"


def test_interrupts_from_another_thread_stop_running_code(board: Device) -> None:
    for _ in range(30):
        requested = threading.Event()

        def interrupt_when_running(requested: threading.Event = requested) -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if board.interrupt():
                    requested.set()
                    return

        helper = threading.Thread(target=interrupt_when_running)
        helper.start()
        with pytest.raises(DeviceError) as caught:
            board.exec("while True:\n    pass\n")
        helper.join(timeout=10)
        assert requested.is_set()
        assert caught.value.type_name == "KeyboardInterrupt"
    assert board.eval("'alive'") == "alive"


def test_failing_output_callback_does_not_poison_the_link(caplog) -> None:
    seen: list[str] = []

    def fragile(text: str) -> None:
        seen.append(text)
        if "boom" in text:
            raise RuntimeError("sink broke")

    with Device("emulator", output=fragile) as device:
        assert device.eval("print('boom') or 1") == 1
        assert device.eval("print('after') or 2") == 2
        assert device.eval("3") == 3
    text = "".join(seen)
    assert text.count("boom") == 1
    assert "after\n" in text
    assert "\x04" not in text and ">" not in text
    assert "output callback failed" in caplog.text


def test_callback_that_calls_the_device_gets_a_clear_error(caplog) -> None:
    holder: dict[str, Device] = {}
    errors: list[BaseException] = []

    def reentrant(text: str) -> None:
        try:
            holder["device"].eval("1")
        except BelayError as error:
            errors.append(error)

    with Device("emulator", output=reentrant) as device:
        holder["device"] = device
        assert device.eval("print('hello') or 5", timeout=30) == 5
    assert errors and "output callback" in str(errors[0])


def test_raw_paste_with_a_chatty_board_thread(board: Device, output) -> None:
    board._link.repl.raw_paste = True
    board.exec(
        "import _thread, time\n"
        "chatting = True\n"
        "def chat():\n"
        "    while chatting:\n"
        "        print('tick')\n"
        "        time.sleep_ms(1)\n"
        "_thread.start_new_thread(chat, ())\n"
    )
    for n in range(60):
        numbers = list(range(n, n + 100))
        board.exec(f"data = {numbers!r}")
        assert board.eval("sum(data)") == sum(numbers)
    board.eval("globals().__setitem__('chatting', False)")
    assert "\x00" not in output.text and "\x80" not in output.text


def test_board_without_raw_paste_falls_back_to_plain_raw() -> None:
    token = b"\x02feed0001"
    reply = b"OK" + token + b"s3:\x03" + token + b"r3:None\x03\x04\x04>"
    transport = ScriptedTransport(
        [answer_entry, AwaitWrite(), RAW_REPL_BANNER, AwaitWrite(), reply]
    )
    repl = RawRepl(transport, token=token, on_output=lambda text: None)
    repl.enter(timeout=10)
    code = b"x = 1  # " + b"padding " * 60
    response = repl.execute(code, call_id=3, timeout=10)
    assert response.result_tag == "r"
    assert repl.raw_paste is False
    assert transport.writes[-1] == code + b"\x04"


class Stubborn(Device):
    @task
    def spin():
        while True:
            pass

    @teardown
    def never_returns():
        while True:
            pass


@pytest.mark.timeout(30)  # a hang guard: the teardown below never returns by itself
def test_hanging_teardown_cannot_hang_close(output) -> None:
    device = Stubborn("emulator", output=output, teardown_timeout=0.3)
    with pytest.raises(ResourceCleanupError) as caught:
        device.close()
    assert any(isinstance(error, TaskTimeout) for error in caught.value.exceptions)
    assert not device.is_open


def test_close_from_another_thread_interrupts_a_running_call(output) -> None:
    device = Stubborn("emulator", output=output, teardown_timeout=0.3)
    caller = CallInThread(device.spin)
    # Running on the board, past its compile: close() must interrupt it, not wait for it.
    wait_until(device._link.repl._interruptible, what="the call to be running on the board")
    with pytest.raises(ResourceCleanupError):  # the teardown loops forever: bounded, reported
        device.close()
    outcome = caller.outcome(timeout=10)
    assert isinstance(outcome, DeviceError | DeviceClosed), outcome
    assert not device.is_open


class Deaf(Device):
    @task
    def ignore_interrupts():
        while True:
            try:
                while True:
                    pass
            except KeyboardInterrupt:
                pass


@pytest.mark.timeout(120)  # a hang guard: before, close() waited for this call for good
def test_close_never_waits_for_good_on_a_call_that_ignores_interrupts(output) -> None:
    device = Deaf("emulator", output=output)
    caller = CallInThread(device.ignore_interrupts)
    wait_until(device._link.repl._interruptible, what="the call to be running on the board")
    device.close()  # interrupts it again and again, then closes the link under it
    outcome = caller.outcome()
    assert isinstance(outcome, DeviceClosed), outcome
    assert not device.is_open


@pytest.fixture
def shared() -> Iterator[EmulatorBoard]:
    with EmulatorBoard() as board:
        yield board


class Retrying(Device):
    @task(retries=1)
    def slow():
        import time

        time.sleep_ms(300)
        return 1


def test_failed_retry_reports_the_real_cause(shared: EmulatorBoard, output, mocker) -> None:
    from belayfw.executors import task as task_module

    mocker.patch.object(task_module, "RETRY_BACKOFF_BASE", 0.01)
    device = Retrying(shared.port, output=output)
    threading.Timer(0.1, shared.close).start()  # the board itself goes away for good
    with pytest.raises(DeviceDisconnected) as caught:
        device.slow()
    message = str(caught.value)
    assert "not open" not in message
    assert "emulator" in message
    device._abandon()
