"""No result is ever taken for another call's: per-call ids, resync, control bytes.

The host Ctrl-C test fires SIGINT at random moments while the main thread calls
the real interpreter; a KeyboardInterrupt can land inside a transport write, a
read, the parser or the wrapper code around them. Interrupted calls may fail,
but every call that returns must return its own value.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from belayfw import BelayError, CommandError, Device, task
from belayfw.protocol import RawRepl
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, Step, answer_entry

TOKEN = b"\x02cafe0001"
CONTROL_CHARACTERS = ["\x01", "\x02", "\x03", "\x04", "\x05"]
#: The storm goes on until this many calls returned and this many were cut short.
RETURNED = 2000
INTERRUPTED = 300
MAX_ATTEMPTS = 50_000


class Adder(Device):
    @task
    def add(a, b):
        return a + b


class Interrupter:
    """Sends SIGINT to the main thread at random moments; the handler raises only
    while ``armed``, so the KeyboardInterrupt lands inside belayfw's call."""

    def __init__(self, seed: int) -> None:
        self.armed = False
        self.fired = 0
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._run, daemon=True)

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.fired += 1
            raise KeyboardInterrupt

    def _run(self) -> None:
        assert self._main is not None
        while not self._stop.wait(self._random.uniform(0.0, 0.004)):
            signal.pthread_kill(self._main, signal.SIGINT)

    def __enter__(self) -> Interrupter:
        self._previous = signal.signal(signal.SIGINT, self.handler)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        signal.signal(signal.SIGINT, self._previous)


@pytest.fixture
def adder(output) -> Iterator[Adder]:
    with Adder("emulator", output=output, timeout=30) as device:
        yield device


@pytest.mark.timeout(300)
def test_host_ctrl_c_at_random_moments_never_yields_a_wrong_result(adder: Adder) -> None:
    wrong: list[tuple[str, int, object]] = []
    returned = interrupted = failed = 0
    n = 0
    with Interrupter(seed=7) as interrupter:
        # Until enough calls both returned and were cut (a loaded machine cuts more).
        while returned < RETURNED or interrupted < INTERRUPTED:
            n += 1
            assert n < MAX_ATTEMPTS, f"returned {returned}, interrupted {interrupted}"
            use_eval = n % 2 == 1
            value: object = None
            try:
                try:
                    interrupter.armed = True
                    value = adder.eval(f"{n} + 1") if use_eval else adder.add(n, 1)
                finally:
                    interrupter.armed = False
            except KeyboardInterrupt:
                interrupted += 1
                continue
            except BelayError:
                failed += 1  # an interrupted link may need a reconnect: loud, never wrong
                adder.reconnect()
                continue
            returned += 1
            if value != n + 1:
                wrong.append(("eval" if use_eval else "task", n, value))
    assert wrong == [], f"returned {returned}, interrupted {interrupted}, failed {failed}"
    # After the storm the link is in step: plain calls answer right, first time.
    assert [adder.add(k, 1) for k in range(50)] == [k + 1 for k in range(50)]
    assert adder.eval("'still' + ' fine'") == "still fine"


@pytest.mark.parametrize("control", CONTROL_CHARACTERS)
def test_control_bytes_in_eval_and_exec_cannot_split_a_command(adder: Adder, control: str) -> None:
    text = f"a{control}b"
    assert adder.eval(repr(text)[0] + text + repr(text)[0]) == text
    assert adder.eval(f"len('x{control}y')") == 3
    assert adder.exec(f"stored = 'p{control}q'\nprint(len(stored))") == "3\n"
    assert adder.eval("stored") == f"p{control}q"
    # The link is still in step: every later call gets its own value.
    assert [adder.add(k, 2) for k in range(20)] == [k + 2 for k in range(20)]


def test_raw_control_byte_in_a_command_is_refused_before_sending() -> None:
    transport = ScriptedTransport([answer_entry])
    repl = RawRepl(transport, token=TOKEN, on_output=lambda text: None)
    repl.enter(timeout=10)
    with pytest.raises(CommandError, match=r"control byte b'\\x04' at offset 3"):
        repl.execute(b"abc\x04def", call_id=1, timeout=10)
    assert len(transport.writes) == 1  # nothing but the entry was sent


def _frame(tag: str, call_id: int, payload: bytes) -> bytes:
    return TOKEN + tag.encode() + b"%d:" % call_id + payload + b"\x03"


def test_a_frame_naming_another_call_is_never_taken() -> None:
    # A late reply of call 4 arrives inside call 5's response: only 5's frame counts.
    reply = b"OK" + _frame("r", 4, b"22000") + _frame("r", 5, b"22001") + b"\x04\x04>"
    transport = ScriptedTransport([answer_entry, AwaitWrite(), reply])
    repl = RawRepl(transport, token=TOKEN, on_output=lambda text: None)
    repl.enter(timeout=10)
    response = repl.execute(b"_bfw_c(5,add,22000,1)", call_id=5, timeout=10)
    assert (response.result_tag, response.result) == ("r", b"22001")


class InterruptedWrite(ScriptedTransport):
    """Raises KeyboardInterrupt inside the first command's write, after sending part."""

    def __init__(self, script: list[Step]) -> None:
        super().__init__(script)
        self.fail_next_command = True

    def write(self, data: bytes) -> None:
        if self.fail_next_command and data.startswith(b"_bfw"):
            self.fail_next_command = False
            super().write(data[:9])
            raise KeyboardInterrupt
        super().write(data)


def test_ctrl_c_inside_a_write_resyncs_before_the_next_command() -> None:
    outputs: list[str] = []
    ping_reply = (
        b"raw REPL; CTRL-B to exit\r\n>OK"
        + b"stale garbage\x04\x04>"  # what the board still said about the cut command
        + TOKEN
        + b"r%d:None\x03\x04\x04>"
    )

    def answer_ping(written: bytes) -> bytes:
        assert written.startswith(b"\x01print(end=")  # Ctrl-A clears the half-sent line
        call_id = int(written.rsplit(b",", 1)[1].split(b")")[0])
        return ping_reply % call_id

    def answer_call(written: bytes) -> bytes:
        call_id = int(written.split(b"(", 1)[1].split(b",", 1)[0])
        return b"OK" + _frame("r", call_id, b"42") + b"\x04\x04>"

    transport = InterruptedWrite(
        [answer_entry, AwaitWrite(2), answer_ping, AwaitWrite(), answer_call]
    )
    repl = RawRepl(transport, token=TOKEN, on_output=outputs.append)
    repl.enter(timeout=10)
    with pytest.raises(KeyboardInterrupt):
        repl.execute(b"_bfw_c(1,f)", call_id=1, timeout=10)
    response = repl.execute(b"_bfw_c(2,f)", call_id=2, timeout=10)
    assert (response.result_tag, response.result) == ("r", b"42")
    assert outputs == []  # the stale reply was dropped, not printed
    assert repl.stats.round_trips == 2


@pytest.mark.parametrize("run", ["eval", "exec"])
def test_a_nul_character_in_code_is_refused_not_misread(adder: Adder, run: str) -> None:
    # MicroPython's compiler reads NUL as \x01: 'a<NUL>b' would come back as 'a\x01b'.
    with pytest.raises(CommandError, match=r"NUL character at offset [24]"):
        if run == "eval":
            adder.eval("'a\x00b'")
        else:
            adder.exec("s='a\x00b'")
    assert adder.eval("'a\\x00b'") == "a\x00b"  # the escape is the way, and it is in step
    assert adder.add(1, 2) == 3


@pytest.mark.parametrize("run", ["eval", "exec"])
def test_code_that_is_not_valid_unicode_is_a_command_error(adder: Adder, run: str) -> None:
    with pytest.raises(CommandError, match="valid Unicode"):
        if run == "eval":
            adder.eval("'\ud800'")
        else:
            adder.exec("s='\ud800'")
    assert adder.eval("'\u00e9\U0001f600'") == "\u00e9\U0001f600"
