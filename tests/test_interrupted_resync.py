"""After a host Ctrl-C, the resync brings the link back from any state the board is in.

A raw paste cut short makes the next resync end the paste's data first (see
``InStep._resync``); those bytes must not keep the link from coming back when
the board is no longer in paste mode (a restart put it at the friendly REPL).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from belayfw import Device, DeviceDisconnected, task
from belayfw.export import ExportedBoard, NetworkExport
from belayfw.in_step import ping_command
from belayfw.protocol import RawRepl
from belayfw.transports.emulator import EmulatorTransport
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, answer_entry

from .conftest import wait_until

TOKEN = b"\x02cafe0002"


class CtrlCAfterPasteRequest(EmulatorTransport):
    """The host's Ctrl-C strikes once the raw-paste request has been written."""

    armed = True

    def write(self, data: bytes) -> None:
        super().write(data)
        if self.armed and data == b"\x05A\x01":
            self.armed = False
            raise KeyboardInterrupt


@pytest.fixture
def repl() -> Iterator[RawRepl]:
    transport = CtrlCAfterPasteRequest()
    link = RawRepl(transport, token=TOKEN, on_output=lambda text: None)
    try:
        link.enter(timeout=30)
        yield link
    finally:
        link.close()


def _ping(repl: RawRepl, call_id: int) -> bytes | None:
    token = int(TOKEN[1:], 16)
    return repl.execute(ping_command(token, call_id), call_id=call_id, timeout=30).result


@pytest.mark.timeout(120)
def test_a_reset_cut_at_the_friendly_repl_after_a_cut_paste_still_resyncs(
    repl: RawRepl, monkeypatch: pytest.MonkeyPatch
) -> None:
    repl.raw_paste = True
    long_command = ping_command(int(TOKEN[1:], 16), 1) + b"#" + b"x" * 400
    with pytest.raises(KeyboardInterrupt):  # the paste is cut: the board waits for its data
        repl.execute(long_command, call_id=1, timeout=30)
    enter = repl.enter

    def ctrl_c_once(timeout: float) -> None:
        monkeypatch.setattr(repl, "enter", enter)
        raise KeyboardInterrupt  # the restarted board is left at its friendly REPL

    monkeypatch.setattr(repl, "enter", ctrl_c_once)
    with pytest.raises(KeyboardInterrupt):
        repl.soft_reset(timeout=30)
    # The new board has no paste open: the resync must not type into its friendly REPL.
    assert _ping(repl, 2) == b"None"
    assert _ping(repl, 3) == b"None"


class Remote(Device):
    @task
    def square(x):
        return x * x


@pytest.mark.timeout(120)
def test_a_board_that_reboots_after_a_cut_call_is_reported_as_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The exchange was abandoned (a Ctrl-C), so what the board sends is dropped
    # until the resync's ping; a reboot in that time must still be noticed, or the
    # next call runs on a board without belayfw's runtime (a bare NameError).
    with (
        NetworkExport(ExportedBoard(), "127.0.0.1", 0, telnet=False) as export,
        Remote(export.url, timeout=30) as device,
    ):
        assert device.square(3) == 9
        transport = device._link.repl.transport
        write = transport.write

        def ctrl_c_after_the_command(data: bytes) -> None:
            write(data)
            if data.startswith(b"_bfw"):
                monkeypatch.setattr(transport, "write", write)
                raise KeyboardInterrupt

        monkeypatch.setattr(transport, "write", ctrl_c_after_the_command)
        with pytest.raises(KeyboardInterrupt):
            device.square(4)
        os.kill(export.board.transport.pid, signal.SIGKILL)  # the board resets
        wait_until(lambda: export.board.reboots == 1, timeout=30)
        with pytest.raises(DeviceDisconnected, match="reset"):
            device.square(5)  # not a bare NameError from a board without the runtime
        device.reconnect()  # what the message says to do
        assert device.square(5) == 25


def _frame(tag: str, call_id: int, payload: bytes) -> bytes:
    return TOKEN + tag.encode() + b"%d:" % call_id + payload + b"\x03"


def test_a_ctrl_c_inside_the_parser_still_sees_the_end_read_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The read that ends the call also holds a thread's line; the Ctrl-C strikes
    # while the parser is at the call's output before them. The call ended: the
    # board must not be interrupted (a unix-port board exits on an interrupt that
    # finds it idle), and the thread's line is not lost.
    thread_line = TOKEN + b"oticker\x1ftick 7\n\x03"
    transport = ScriptedTransport(
        [
            answer_entry,
            AwaitWrite(),
            b"OK" + _frame("s", 1, b""),  # the code started
            b"hello\n" + thread_line + _frame("r", 1, b"41") + b"\x04\x04>",
        ]
    )
    outputs: list[str] = []
    frames: list[tuple[str, bytes]] = []
    link = RawRepl(
        transport,
        token=TOKEN,
        on_output=outputs.append,
        on_frame=lambda tag, payload: frames.append((tag, payload)),
    )
    link.enter(timeout=10)
    parser = link.parser
    watch = parser._watch_for_boot

    def ctrl_c_at_the_output(chunk: bytes) -> None:
        if b"hello" in chunk:
            monkeypatch.setattr(parser, "_watch_for_boot", watch)
            raise KeyboardInterrupt
        watch(chunk)

    monkeypatch.setattr(parser, "_watch_for_boot", ctrl_c_at_the_output)
    with pytest.raises(KeyboardInterrupt):
        link.execute(b"_bfw_c(1,f)", call_id=1, timeout=10)
    assert transport.interrupts == 0
    assert frames == [("o", b"ticker\x1ftick 7\n")]
    assert outputs == []


class Spinner(Device):
    @task
    def spin(blob):
        while True:  # until interrupted: longer than any resync waits
            pass


@pytest.mark.timeout(120)
def test_a_ctrl_c_as_the_board_acknowledges_a_raw_paste_still_stops_its_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The data's end went out whole; the Ctrl-C strikes before the board's
    # acknowledgement is read. Before, the parser never followed the code, so it
    # was never interrupted, and the next call's resync gave the link up after 5 s.
    with Spinner("emulator", output=lambda text: None) as device:
        repl = device._link.repl
        repl.raw_paste = True
        transport = device._link.transport
        write = transport.write
        cut: list[bool] = []

        def cut_after_the_data(data: bytes) -> None:
            write(data)
            if not cut and data == b"\x04" and repl._paste_unacked is not None:
                cut.append(True)
                raise KeyboardInterrupt

        monkeypatch.setattr(transport, "write", cut_after_the_data)
        with pytest.raises(KeyboardInterrupt):
            device.spin("x" * 400)  # over RAW_PASTE_THRESHOLD: sent in raw-paste mode
        assert cut, "the call never went out in raw-paste mode"
        assert device.eval("1 + 1") == 2


class Quick(Device):
    @task
    def quick(blob):
        return len(blob)


@pytest.mark.timeout(120)
def test_a_second_ctrl_c_while_awaiting_a_paste_ack_leaves_no_state_for_later_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A second Ctrl-C cut the wait for the acknowledgement after the first Ctrl-C.
    # Before, the paste stayed marked unacknowledged: a Ctrl-C in a later plain
    # call took that call's end of output for the ack, printed its error text
    # and interrupted the idle board, which ended the emulator.
    outputs: list[str] = []
    with Quick("emulator", output=outputs.append) as device:
        repl = device._link.repl
        repl.raw_paste = True
        transport = device._link.transport
        write, read = transport.write, transport.read
        cuts: list[str] = []

        def write_then_cut(data: bytes) -> None:
            write(data)
            if not cuts and data == b"\x04" and repl._paste_unacked is not None:
                cuts.append("paste end")
                raise KeyboardInterrupt
            if cuts == ["paste end", "ack wait"] and b"777" in data:
                cuts.append("plain call")
                raise KeyboardInterrupt

        def cut_the_ack_wait(deadline: float) -> bytes:
            if cuts == ["paste end"]:
                cuts.append("ack wait")
                raise KeyboardInterrupt
            return read(deadline)

        monkeypatch.setattr(transport, "write", write_then_cut)
        monkeypatch.setattr(transport, "read", cut_the_ack_wait)
        with pytest.raises(KeyboardInterrupt):
            device.quick("x" * 400)  # over RAW_PASTE_THRESHOLD: sent in raw-paste mode
        assert cuts == ["paste end", "ack wait"]
        assert device.eval("1 + 1") == 2
        with pytest.raises(KeyboardInterrupt):
            device.eval("print('hello'); 777")
        assert cuts[-1] == "plain call"
        assert device.eval("2 + 2") == 4
    assert outputs == []
