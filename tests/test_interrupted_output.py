"""A host Ctrl-C never turns raw-REPL protocol bytes into board output.

When a KeyboardInterrupt cuts a call, the board may still be answering it; the
link must drop that answer, not hand ``OK\\x04\\x04>`` to the user's output sink
as if the board had printed it. The scripted tests put the interrupt at the
exact byte where it used to leak; the storm fires it at random moments on the
real interpreter. Board code that prints those same characters still gets them
through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from belayfw import BelayError, Device, task, thread
from belayfw.in_step import PASTE_CUT_END
from belayfw.protocol import RawRepl
from belayfw.response import ResponseParser
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, Step, answer_entry

from .conftest import OutputCollector
from .test_call_identity import Interrupter

TOKEN = b"\x02cafe0001"
#: What the raw REPL itself sends around a result: none of it is board output.
PROTOCOL_TEXT = "OK\x04\x04>"
#: Board output holding it. Text after the prompt-like ">" keeps the call from
#: waiting to see whether the reply really ended there (see END_QUIET_SECONDS).
PRINTED = f"({PROTOCOL_TEXT})"
#: The storm goes on until this many calls were cut short by a Ctrl-C.
STORM_CUTS = 300
STORM_MAX_CALLS = 20_000
#: An argument that makes a command too large for plain raw mode.
LONG_TEXT = "x" * 300


def _frame(tag: str, call_id: int, payload: bytes) -> bytes:
    return TOKEN + tag.encode() + b"%d:" % call_id + payload + b"\x03"


def _reply(call_id: int, value: bytes) -> bytes:
    return b"OK" + _frame("r", call_id, value) + b"\x04\x04>"


def _answer_ping(written: bytes) -> bytes:
    """The resync ping's reply (its frame names the ping's own call id)."""
    call_id = int(written.rsplit(b",", 1)[1].split(b")")[0])
    return b"OK" + _frame("r", call_id, b"None") + b"\x04\x04>"


class CtrlCAfterWrite(ScriptedTransport):
    """The host's Ctrl-C strikes just after the first command was written whole."""

    def __init__(self, script: list[Step]) -> None:
        super().__init__(script)
        self.armed = True

    def write(self, data: bytes) -> None:
        super().write(data)
        if self.armed and data.startswith(b"_bfw"):
            self.armed = False
            raise KeyboardInterrupt


class CtrlCAfterRead(ScriptedTransport):
    """The host's Ctrl-C strikes after a read took bytes from the board, before the
    parser saw them: those bytes are gone."""

    def __init__(self, script: list[Step], lose: bytes) -> None:
        super().__init__(script)
        self.lose = lose

    def read(self, deadline: float) -> bytes:
        data = super().read(deadline)
        if data == self.lose:
            self.lose = b""
            raise KeyboardInterrupt
        return data


def test_ctrl_c_just_after_a_command_is_sent_does_not_print_its_reply() -> None:
    outputs: list[str] = []
    transport = CtrlCAfterWrite(
        [
            answer_entry,
            AwaitWrite(),
            _reply(1, b"41"),  # the board answers the cut command all the same
            AwaitWrite(),
            _answer_ping,
            AwaitWrite(),
            _reply(2, b"42"),
        ]
    )
    repl = RawRepl(transport, token=TOKEN, on_output=outputs.append)
    repl.enter(timeout=10)
    with pytest.raises(KeyboardInterrupt):
        repl.execute(b"_bfw_c(1,f)", call_id=1, timeout=10)
    response = repl.execute(b"_bfw_c(2,f)", call_id=2, timeout=10)
    assert (response.result_tag, response.result) == ("r", b"42")
    assert outputs == []


def test_ctrl_c_that_loses_the_start_of_a_reply_does_not_print_its_end() -> None:
    outputs: list[str] = []
    frames: list[tuple[str, bytes]] = []
    lost = b"OK" + _frame("r", 1, b"41")  # read from the board, then lost to the Ctrl-C
    thread_line = TOKEN + b"oticker\x1ftick 7\n\x03"
    transport = CtrlCAfterRead(
        [
            answer_entry,
            AwaitWrite(),
            lost,
            b"\x04\x04>" + thread_line,
            AwaitWrite(),
            _answer_ping,
            AwaitWrite(),
            _reply(2, b"42"),
        ],
        lose=lost,
    )
    repl = RawRepl(
        transport,
        token=TOKEN,
        on_output=outputs.append,
        on_frame=lambda tag, payload: frames.append((tag, payload)),
    )
    repl.enter(timeout=10)
    with pytest.raises(KeyboardInterrupt):
        repl.execute(b"_bfw_c(-1,f)", call_id=1, timeout=10)
    assert outputs == []  # the end of the reply is not board output
    assert frames == [("o", b"ticker\x1ftick 7\n")]  # a board thread's line still is
    response = repl.execute(b"_bfw_c(2,f)", call_id=2, timeout=10)
    assert (response.result_tag, response.result) == ("r", b"42")
    assert outputs == []


def test_ctrl_c_in_a_raw_paste_handshake_ends_the_paste_before_resyncing() -> None:
    # The board accepted raw paste and waits for data; the Ctrl-C lost its answer.
    # Where a Ctrl-C byte cannot end the paste (the emulator), the resync first
    # ends its data with a syntax error, or the ping would be read as paste data.
    outputs: list[str] = []
    accepted = b"R\x01\x80\x00"
    resyncs: list[bytes] = []

    def answer_ping(written: bytes) -> bytes:
        resyncs.append(written)
        return _answer_ping(written)

    transport = CtrlCAfterRead(
        [
            answer_entry,
            AwaitWrite(),
            accepted,
            AwaitWrite(),
            answer_ping,
            AwaitWrite(),
            _reply(2, b"42"),
        ],
        lose=accepted,
    )
    repl = RawRepl(transport, token=TOKEN, on_output=outputs.append)
    repl.enter(timeout=10)
    with pytest.raises(KeyboardInterrupt):
        repl.execute(b"_bfw_c(1,f,'" + LONG_TEXT.encode() + b"')", call_id=1, timeout=10)
    response = repl.execute(b"_bfw_c(2,f)", call_id=2, timeout=10)
    assert (response.result_tag, response.result) == ("r", b"42")
    assert len(resyncs) == 1
    assert resyncs[0].startswith(PASTE_CUT_END + b"\x01print(")
    assert outputs == []


def test_a_parse_cut_by_ctrl_c_is_not_parsed_again_in_another_phase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs: list[str] = []
    parser = ResponseParser(TOKEN, outputs.append, lambda tag, payload: None)
    parser.begin(1, capture=False)
    watch = parser._watch_for_boot

    def ctrl_c_once(chunk: bytes) -> None:
        monkeypatch.setattr(parser, "_watch_for_boot", watch)
        raise KeyboardInterrupt  # the parser has taken the OK, not yet the rest

    monkeypatch.setattr(parser, "_watch_for_boot", ctrl_c_once)
    with pytest.raises(KeyboardInterrupt):
        parser.feed(b"OKhi")
    parser.feed(b"\x04\x04>")
    assert outputs == []
    # The next command is read as usual, and its output is delivered.
    parser.begin_sync(2)
    parser.feed(_frame("r", 2, b"None") + b"\x04\x04>")
    parser.finish()
    parser.begin(3, capture=False)
    parser.feed(b"OKOK\x04\x04>" + _frame("r", 3, b"1") + b"\x04\x04>")
    assert parser.finish().result == b"1"
    assert "".join(outputs) == PROTOCOL_TEXT


class Talker(Device):
    @task
    def add(a, b):
        return a + b

    @task
    def squares(n):
        for i in range(n):
            yield i * i

    @task
    def say(text):
        print(text, end="")

    @task
    def size(text):
        return len(text)

    @thread(name="ticker")
    def ticks():
        import time

        n = 0
        while True:
            print("tick", n)
            n += 1
            time.sleep_ms(1)

    @thread(name="echo")
    def echo(text):
        print(text)


@pytest.fixture
def talker(output: OutputCollector) -> Iterator[Talker]:
    with Talker("emulator", output=output, timeout=30) as device:
        yield device


def test_board_output_that_looks_like_the_protocol_passes_through(
    talker: Talker, output: OutputCollector
) -> None:
    talker.say(PRINTED)
    assert output.text == PRINTED
    talker.echo(PROTOCOL_TEXT)
    output.wait_for(lambda text: text.endswith(f"[echo] {PROTOCOL_TEXT}\n"))
    assert output.text == f"{PRINTED}[echo] {PROTOCOL_TEXT}\n"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("raw_paste", [False, True], ids=["raw", "raw-paste"])
def test_ctrl_c_storm_over_calls_and_streams_prints_only_board_output(
    talker: Talker, output: OutputCollector, raw_paste: bool
) -> None:
    # In raw-paste mode (as on a USB board) a cut can also land in the handshake.
    talker._link.repl.raw_paste = raw_paste
    ticker = talker.ticks()
    output.wait_for(lambda text: "[ticker] tick 1\n" in text)
    cut = calls = 0
    with Interrupter(seed=3) as interrupter:
        while cut < STORM_CUTS:
            calls += 1
            assert calls < STORM_MAX_CALLS, f"only {cut} of {calls} calls were cut"
            try:
                try:
                    interrupter.armed = True
                    if calls % 2 == 0:
                        for _ in talker.squares(5 + calls % 40):  # a cut stream makes a close call
                            pass
                    elif raw_paste:
                        talker.size(LONG_TEXT)
                    else:
                        talker.add(calls, 1)
                finally:
                    interrupter.armed = False
            except KeyboardInterrupt:
                cut += 1
            except BelayError:
                talker.reconnect()  # an interrupted link may need it: loud, never wrong
                talker._link.repl.raw_paste = raw_paste
    # After the storm the link is in step, and real output still arrives whole.
    assert [talker.add(k, 1) for k in range(20)] == [k + 1 for k in range(20)]
    ticker.stop(timeout=30)
    talker.say(PRINTED)
    text = output.wait_for(lambda text: text.endswith(PRINTED))
    assert text.count(PROTOCOL_TEXT) == 1, f"{cut} cut calls of {calls}"
    # Everything before came from the ticker thread, prefixed, one whole line at a time.
    lines = text[: -len(PRINTED)].split("\n")
    assert lines[-1] == ""
    strays = [line for line in lines[:-1] if not _is_tick(line)]
    assert strays == [], f"{cut} cut calls of {calls}"


def _is_tick(line: str) -> bool:
    head, _, number = line.rpartition(" ")
    return head == "[ticker] tick" and number.isdigit()
