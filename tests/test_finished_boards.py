"""No hang on a board that has visibly finished, and no bulk garbage on stdout.

A reply that ends without a result, with a frame of an unknown tag or a foreign
token, a board that reboots mid-call, or one that babbles instead of answering:
each ends the call with a typed error, with or without a timeout. The scripted
transport plays the faults the real interpreter cannot produce on demand; the
too-big argument runs on the emulator.
"""

from __future__ import annotations

import pytest

from belayfw import (
    CommandError,
    Device,
    DeviceDisconnected,
    DeviceError,
    ProtocolError,
    entry,
    task,
)
from belayfw import protocol as protocol_module
from belayfw.protocol import RawRepl
from belayfw.response import FORWARD_BEFORE_OK
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, Step, answer_entry

TOKEN = b"\x02cafe0001"
CALL = 7
ESP32_BOOT = (
    b"\r\nets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET),boot:0x13\r\n"
    b"MicroPython v1.22.0 on 2024-01-01; ESP32 module with ESP32\r\n"
    b'Type "help()" for more information.\r\n>>> '
)

#: Every test here would hang forever if the fault went unnoticed.
pytestmark = pytest.mark.timeout(60)


def _repl(script: list[Step], outputs: list[str]) -> RawRepl:
    repl = RawRepl(
        ScriptedTransport([answer_entry, *script]), token=TOKEN, on_output=outputs.append
    )
    repl.enter(timeout=10)
    return repl


def _unframed(repl: RawRepl, timeout: float | None = None) -> Exception:
    """The error Connection raises for a reply without a result frame."""
    from belayfw.connection import _unframed_failure

    response = repl.execute(b"_bfw_c(7,f)", call_id=CALL, timeout=timeout)
    assert response.result_tag is None
    return _unframed_failure(response, "scripted")


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_reply_that_ends_without_a_result_frame(timeout: float | None) -> None:
    outputs: list[str] = []
    repl = _repl([AwaitWrite(), b"OK\x04\x04>"], outputs)
    error = _unframed(repl, timeout)
    assert isinstance(error, ProtocolError)
    assert "without sending its result" in str(error)
    assert outputs == []


def test_reply_whose_only_frame_has_an_unknown_tag() -> None:
    reply = b"OK" + TOKEN + b"z%d:42\x03\x04\x04>" % CALL
    repl = _repl([AwaitWrite(), reply], [])
    error = _unframed(repl)
    assert isinstance(error, ProtocolError)
    assert "unknown tag 'z'" in str(error)


def test_reply_whose_result_has_a_foreign_token() -> None:
    outputs: list[str] = []
    reply = b"OK\x02deadbeefr%d:42\x03\x04\x04>" % CALL
    repl = _repl([AwaitWrite(), reply], outputs)
    error = _unframed(repl)
    assert isinstance(error, ProtocolError)
    assert "".join(outputs) == "\x02deadbeefr7:42\x03"  # shown as the output it is, no value


def test_printed_protocol_bytes_then_the_real_result_still_count() -> None:
    # Board code printed "\x04\x04>" itself: more output follows, then the real frame.
    outputs: list[str] = []
    reply = b"OK\x04\x04>\n" + TOKEN + b"r%d:5\x03\x04\x04>" % CALL
    repl = _repl([AwaitWrite(), reply], outputs)
    response = repl.execute(b"_bfw_c(7,f)", call_id=CALL, timeout=None)
    assert (response.result_tag, response.result) == ("r", b"5")
    assert "".join(outputs) == "\x04\x04>\n"


@pytest.mark.parametrize(
    "boot",
    [ESP32_BOOT, b"\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"],
    ids=["hard-reset", "soft-reset"],
)
@pytest.mark.parametrize("timeout", [None, 30.0])
def test_board_that_reboots_mid_call_is_reported_as_disconnected(
    boot: bytes, timeout: float | None
) -> None:
    repl = _repl([AwaitWrite(), b"OK" + TOKEN + b"s%d:\x03" % CALL + boot[:30], boot[30:]], [])
    with pytest.raises(DeviceDisconnected, match="reset: it printed"):
        repl.execute(b"_bfw_c(-7,f)", call_id=CALL, timeout=timeout)
    with pytest.raises(DeviceDisconnected, match="reset"):  # at once, nothing sent
        repl.execute(b"_bfw_c(8,f)", call_id=8, timeout=timeout)


class Babbler(ScriptedTransport):
    """A board at the wrong baud rate: once its script is played, garbage forever."""

    def read(self, deadline: float) -> bytes:
        data = super().read(deadline)
        return data or b"\xfe\x93 noise \x00\xa7" * 100


@pytest.fixture
def short_ack(mocker) -> None:
    mocker.patch.object(protocol_module, "ACK_SECONDS", 0.3)


@pytest.mark.usefixtures("short_ack")
@pytest.mark.parametrize("timeout", [None, 30.0])
def test_endless_garbage_instead_of_an_answer(timeout: float | None) -> None:
    outputs: list[str] = []
    transport = Babbler([answer_entry])
    repl = RawRepl(transport, token=TOKEN, on_output=outputs.append)
    repl.enter(timeout=10)
    with pytest.raises(ProtocolError, match=r"did not acknowledge .* bytes of something else"):
        repl.execute(b"_bfw_c(7,f)", call_id=CALL, timeout=timeout)
    forwarded = sum(len(text.encode()) for text in outputs)
    assert forwarded <= 2 * FORWARD_BEFORE_OK  # a summary, not the flood


@pytest.mark.usefixtures("short_ack")
def test_silent_board_that_never_acknowledges() -> None:
    repl = _repl([], [])
    with pytest.raises(ProtocolError, match="sent nothing at all"):
        repl.execute(b"_bfw_c(7,f)", call_id=CALL, timeout=None)


def test_thread_output_before_a_late_ok_is_forwarded_whole() -> None:
    outputs: list[str] = []
    chatter = b"tick\n" * (2 * FORWARD_BEFORE_OK // 5)
    reply = chatter + b"OK" + TOKEN + b"r%d:1\x03\x04\x04>" % CALL
    repl = _repl([AwaitWrite(), reply], outputs)
    response = repl.execute(b"_bfw_c(7,f)", call_id=CALL, timeout=None)
    assert response.result == b"1"
    assert "".join(outputs) == chatter.decode()


class Echo(Device):
    @task
    def size(value):
        return len(value)


def test_argument_too_big_for_the_board_says_so_and_the_board_stays_usable(output) -> None:
    with Echo("emulator:esp32", output=output) as device:
        with pytest.raises(CommandError, match="more than emulator:esp32 can take in") as caught:
            device.size("x" * 60_000)
        assert "cable" not in str(caught.value)
        assert device.size("ok") == 2
        try:  # near the limit: sent and too big to compile, or refused before sending
            device.size("y" * 20_000)
        except DeviceError as error:
            assert error.type_name == "MemoryError"
            assert "too big for the board" in str(error)
        except CommandError as error:  # the limit follows the board's free heap
            assert "more than emulator:esp32 can take in" in str(error)
        assert device.size("still fine") == 10
        assert device.size("z" * 3_000) == 3_000


def test_a_slow_entry_s_extra_banners_are_not_taken_for_a_reset(monkeypatch) -> None:
    # A board slow to start (a loaded host) gets a second entry attempt and answers both.
    monkeypatch.setattr(entry, "ENTRY_RETRY_SECONDS", 0.05)
    reply = b"OK" + TOKEN + b"r%d:5\x03\x04\x04>" % CALL
    outputs: list[str] = []
    transport = ScriptedTransport(
        [
            AwaitWrite(2),
            lambda _: answer_entry(transport.writes[0]),  # each attempt answered, in order
            lambda _: answer_entry(transport.writes[1]),
            AwaitWrite(),
            reply,
        ]
    )
    repl = RawRepl(transport, token=TOKEN, on_output=outputs.append)
    repl.enter(timeout=10)
    assert len(transport.writes) == 2
    response = repl.execute(b"_bfw_c(7,f)", call_id=CALL, timeout=None)
    assert (response.result_tag, response.result) == ("r", b"5")
    assert outputs == []
