"""Raw-REPL protocol faults a real board cannot produce on demand (scripted transport)."""

from __future__ import annotations

import itertools

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from belayfw import DeviceDisconnected, ProtocolError, TaskTimeout, protocol
from belayfw.protocol import RawRepl
from belayfw.response import ResponseParser
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, Vanish, answer_entry
from belayfw.transports.serial import SerialTransport

TOKEN = b"\x02cafe0001"


#: The id of the call the scripted replies answer.
CALL = 7


def frame(tag: str, payload: bytes, call_id: int = CALL) -> bytes:
    return TOKEN + tag.encode() + b"%d:" % call_id + payload + b"\x03"


def repl_for(script, outputs: list[str] | None = None) -> tuple[RawRepl, ScriptedTransport]:
    transport = ScriptedTransport(script)
    sink = outputs.append if outputs is not None else (lambda text: None)
    return RawRepl(transport, token=TOKEN, on_output=sink), transport


def test_entry_tolerates_banners_and_noise() -> None:
    outputs: list[str] = []
    repl, transport = repl_for(
        [
            b"\x00garbage\xff MicroPython v1.2\r\n>>> ",
            lambda written: answer_entry(written)[:18],  # "\r\nraw REPL; CTRL-B" ...
            lambda written: answer_entry(written)[18:],
        ],
        outputs,
    )
    repl.enter(timeout=10)
    # No soft reset, no blind Ctrl-C on the emulator-like link: Ctrl-A and a ping.
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"\x01print(")
    assert outputs == []


def test_entry_without_banner_fails_with_what_was_seen() -> None:
    repl, _ = repl_for([b"some other firmware>"])
    with pytest.raises(ProtocolError, match=r"did not enter raw REPL.*some other firmware"):
        repl.enter(timeout=0.3)


def test_real_board_gets_interrupted_before_entry() -> None:
    repl, transport = repl_for([answer_entry])
    transport.interrupt_on_entry = True
    repl.enter(timeout=10)
    assert transport.writes[0] == b"\r\x03\x03"
    assert transport.writes[1].startswith(b"\x01print(")
    assert len(transport.writes) == 2


def test_one_write_and_one_turnaround_per_command() -> None:
    repl, transport = repl_for(
        [answer_entry, AwaitWrite(), b"OK" + frame("r", b"42") + b"\x04\x04>"]
    )
    repl.enter(timeout=10)
    response = repl.execute(b"_bfw_c(lambda:(42\n))", call_id=CALL, timeout=10)
    assert (response.result_tag, response.result) == ("r", b"42")
    assert transport.writes[-1] == b"_bfw_c(lambda:(42\n))\x04"
    assert repl.stats.round_trips == 1


def test_frame_cut_mid_way_then_port_vanishes() -> None:
    repl, _ = repl_for(
        [answer_entry, AwaitWrite(), b"OK" + TOKEN + b"r[1, 2,", Vanish("USB unplugged")]
    )
    repl.enter(timeout=10)
    with pytest.raises(DeviceDisconnected, match="USB unplugged"):
        repl.execute(b"x", call_id=CALL, timeout=10)
    with pytest.raises(DeviceDisconnected, match="USB unplugged"):
        repl.execute(b"y", call_id=CALL, timeout=10)  # the link stays marked as gone


@pytest.fixture
def short_grace(mocker) -> None:
    mocker.patch.object(protocol, "INTERRUPT_GRACE_SECONDS", 0.05)


@pytest.mark.usefixtures("short_grace")
def test_running_board_that_ignores_interrupts_is_given_up() -> None:
    repl, transport = repl_for([answer_entry, AwaitWrite(), b"OK" + frame("s", b"")])
    repl.enter(timeout=10)
    with pytest.raises(TaskTimeout, match=r"after 3 tries \(3 interrupts sent\)"):
        repl.execute(b"stuck()", call_id=CALL, timeout=0.05)
    assert transport.interrupts == 3
    assert transport.closed
    with pytest.raises(DeviceDisconnected):
        repl.execute(b"1", call_id=CALL, timeout=10)


@pytest.mark.usefixtures("short_grace")
def test_code_that_has_not_started_is_never_interrupted() -> None:
    # Still compiling (no "started" frame): an interrupt would kill a unix-port board.
    repl, transport = repl_for([answer_entry, AwaitWrite(), b"OK"])
    repl.enter(timeout=10)
    with pytest.raises(TaskTimeout, match=r"0 interrupts sent"):
        repl.execute(b"huge()", call_id=CALL, timeout=0.05)
    assert transport.interrupts == 0
    assert repl.interrupt() is False


def test_serial_port_that_cannot_open(mocker) -> None:
    mocker.patch(
        "belayfw.transports.serial.serial.serial_for_url",
        side_effect=serial.SerialException("[Errno 2] No such file or directory"),
    )
    with pytest.raises(DeviceDisconnected, match="cannot open /dev/ttyACM9"):
        SerialTransport("/dev/ttyACM9")


def test_serial_port_that_vanishes_mid_read(mocker) -> None:
    port = mocker.MagicMock()
    port.fileno.side_effect = AttributeError  # no descriptor: pyserial's own wait is used
    port.in_waiting = 0
    port.read.side_effect = serial.SerialException(
        "device reports readiness to read but returned no data"
    )
    mocker.patch("belayfw.transports.serial.serial.serial_for_url", return_value=port)
    transport = SerialTransport("/dev/ttyACM0")
    with pytest.raises(DeviceDisconnected, match="returned no data"):
        transport.read(deadline=0)


# -- the response parser under arbitrary splits and interleavings ---------------------------


def _stream_with_noise(noise: list[str]) -> tuple[bytes, str]:
    """A response with thread text in every gap; returns (stream, expected output)."""
    gaps = (noise + [""] * 6)[:6]
    parts = [
        gaps[0].encode(),
        b"OK",
        gaps[1].encode(),
        frame("+", b"[1, 2, "),
        gaps[2].encode(),
        frame("r", b"3]"),
        gaps[3].encode(),
        b"\x04",
        gaps[4].encode(),
        b"\x04",
        gaps[5].encode(),
    ]
    return b"".join(parts), "".join(gaps)


noise_text = st.text(
    alphabet=st.characters(
        blacklist_characters="\x01\x02\x03\x04>OK", blacklist_categories=("Cs",)
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    noise=st.lists(noise_text, min_size=6, max_size=6),
    cuts=st.lists(st.integers(0, 200), max_size=8),
)
def test_parser_result_and_output_survive_any_split(noise: list[str], cuts: list[int]) -> None:
    stream, expected_output = _stream_with_noise(noise)
    stream += b">"  # the prompt, swallowed
    outputs: list[str] = []
    parser = ResponseParser(TOKEN, outputs.append, lambda tag, payload: None)
    parser.begin(CALL, capture=False)
    points = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    for start, end in itertools.pairwise(points):
        parser.feed(stream[start:end])
    assert parser.done
    response = parser.finish()
    assert (response.result_tag, response.result) == ("r", b"[1, 2, 3]")
    assert "".join(outputs) == expected_output
    assert not parser.prompt_pending


@settings(max_examples=200, deadline=None)
@given(
    payload=st.text(max_size=40).map(lambda text: repr(text).encode()),
    tag=st.sampled_from("rbei+s"),
)
def test_a_response_that_arrives_whole_reads_as_in_pieces(payload: bytes, tag: str) -> None:
    """The parser's fast path (one read holding the whole response) agrees with the
    general path fed the same bytes one at a time."""
    stream = b"OK" + frame(tag, payload) + b"\x04\x04>"
    results = []
    for pieces in ([stream], [stream[i : i + 1] for i in range(len(stream))]):
        outputs: list[str] = []
        parser = ResponseParser(TOKEN, outputs.append, lambda tag, payload: None)
        parser.begin(CALL, capture=False)
        for piece in pieces:
            parser.feed(piece)
        done = parser.done
        response = parser.finish() if done else None
        results.append(
            (
                done,
                response and (response.result_tag, response.result),
                outputs,
                parser.prompt_pending,
            )
        )
    assert results[0] == results[1]
