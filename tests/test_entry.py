"""Entering raw REPL on a slow link: the link is in step before the first command.

The board here is the real emulator; :class:`LateAnswers` only delays what it
sends, as a loaded machine does, at the worst points for the entry handshake.
"""

from __future__ import annotations

import time

import pytest

from belayfw import protocol
from belayfw.connection import Connection
from belayfw.errors import ProtocolError
from belayfw.export import ExportedBoard
from belayfw.protocol import RAW_REPL_BANNER, RawRepl
from belayfw.transports import open_transport
from belayfw.transports.base import Transport
from belayfw.transports.scripted import AwaitWrite, ScriptedTransport, answer_entry


class LateAnswers:
    """A real board seen through a loaded machine: its answers arrive late, in pieces.

    Nothing the board sends arrives until the host has written ``hold_writes``
    times (so the host's entry retries); then only what ends with the first
    raw-REPL banner; everything after it arrives with the host's next write.
    """

    interrupt_on_entry = False
    prefers_raw_paste = True  # as on a USB board: large commands go in raw-paste mode
    lasting_identity = False
    wakeup = None

    def __init__(self, inner: Transport, hold_writes: int = 2) -> None:
        self.inner = inner
        self.description = inner.description
        self.writes: list[bytes] = []
        self._hold_writes = hold_writes
        self._pending = bytearray()
        self._released: int | None = None  # writes seen when the first banner was let through

    def write(self, data: bytes) -> None:
        self.inner.write(data)
        self.writes.append(bytes(data))

    def read(self, deadline: float) -> bytes:
        if self._released is not None and len(self.writes) > self._released:
            data = bytes(self._pending) + self.inner.read(time.monotonic())
            self._pending.clear()
            return data or self.inner.read(deadline)
        self._pending += self.inner.read(min(deadline, time.monotonic() + 0.05))
        if self._released is None and len(self.writes) >= self._hold_writes:
            end = self._pending.find(RAW_REPL_BANNER)
            if end >= 0:
                end += len(RAW_REPL_BANNER)
                first = bytes(self._pending[:end])
                del self._pending[:end]
                self._released = len(self.writes)
                return first
        return b""

    def interrupt(self) -> None:
        self.inner.interrupt()

    def fileno(self) -> int | None:
        return None

    def close(self) -> None:
        self.inner.close()


@pytest.mark.timeout(120)
def test_late_answers_to_entry_retries_never_reach_output_or_the_next_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Seen once under load: the second banner of a retried entry arrived during the
    # first command's raw-paste request, was taken for a refusal, and the board's
    # raw-paste answer (R\x01, window) was printed as output, then the command failed.
    monkeypatch.setattr(protocol, "ACK_SECONDS", 1.0)  # a failure shows sooner
    printed: list[str] = []
    transport = LateAnswers(open_transport("emulator:pico"))
    connection = Connection("emulator:pico", transport=transport, on_output=printed.append)
    try:
        connection.install()  # the runtime: a large command, in raw-paste mode
        assert connection.evaluate("6 * 7") == 42
        assert connection.evaluate("[n for n in range(200)]") == list(range(200))
    finally:
        connection.close()
    assert printed == []
    assert len(transport.writes) >= 3  # the entry was retried: the late case was exercised


def test_every_answer_to_the_entry_is_read_before_it_returns() -> None:
    # Two entry attempts (the first answered late): the board answers both, the
    # first after the host retried. Nothing of either may be left for the next command.
    first_answer = []

    def answer_first(_: bytes) -> bytes:
        return answer_entry(first_answer[0])

    def remember(written: bytes) -> bytes:
        first_answer.append(written)
        return b""

    transport = ScriptedTransport([remember, AwaitWrite(), answer_first, answer_entry])
    printed: list[str] = []
    repl = RawRepl(transport, token=b"\x02cafe0001", on_output=printed.append)
    repl.enter(timeout=10)
    assert len(transport.writes) == 2
    assert repl.parser.phase is protocol.Phase.IDLE
    assert printed == []


def test_a_board_that_never_acknowledges_is_summarised_with_what_it_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The summary once said "12 bytes of something else instead, starting b''": the
    # start was only recorded for output held back, not for what was forwarded.
    monkeypatch.setattr(protocol, "ACK_SECONDS", 0.3)
    transport = ScriptedTransport([answer_entry, AwaitWrite(), b"\x01\x01\x04junk\x04\x04>"])
    repl = RawRepl(transport, token=b"\x02cafe0001", on_output=lambda text: None)
    repl.enter(timeout=10)
    with pytest.raises(ProtocolError) as caught:
        repl.execute(b"_bfw_c(1,2)", call_id=1, timeout=None)
    message = str(caught.value)
    assert "10 bytes of something else instead, starting b'\\x01\\x01\\x04junk" in message


def test_a_banner_after_the_raw_paste_acceptance_is_no_refusal() -> None:
    # The first answer in the stream counts: R\x01 and a window, then whatever follows.
    data = bytearray(b"R\x01\x80\x00\x01" + RAW_REPL_BANNER)
    assert RawRepl._raw_paste_reply(data) == (0, 4)
    refused = bytearray(RAW_REPL_BANNER + b"R\x01\x80\x00")
    assert RawRepl._raw_paste_reply(refused) == (0, len(RAW_REPL_BANNER))
    assert RawRepl._raw_paste_reply(bytearray(b"R\x01")) == (-1, 0)  # the window comes next


def _read_until(read, marker: bytes) -> bytes:
    deadline = time.monotonic() + 30
    seen = b""
    while marker not in seen:
        assert time.monotonic() < deadline, f"never saw {marker!r}; got {seen!r}"
        seen += read(min(deadline, time.monotonic() + 0.5))
    return seen


@pytest.mark.timeout(120)
def test_a_ctrl_c_just_after_the_code_ended_leaves_the_served_board_alone() -> None:
    # The served board learns that code ended from the prompt it relays, a moment
    # late. A client's Ctrl-C in that moment once became SIGINT for an idle unix
    # port, which exits: the board rebooted and its RAM (a --no-follow script's
    # state) was gone. Code sent in plain raw mode gets the byte, as on a UART.
    board = ExportedBoard("pico")
    try:
        board.write(b"\x01")
        _read_until(board.read, RAW_REPL_BANNER)
        board.write(b"kept = 42\x04")
        # The board finishes, but its prompt is not relayed yet: "running" is stale.
        _read_until(board.transport.read, b"\x04>")
        assert board.running
        board.write(b"\x03")
        board.write(b"print(kept)\x04")
        assert b"42" in _read_until(board.read, b"\x04>")
        assert board.reboots == 0
    finally:
        board.close()


def test_a_board_in_raw_repl_that_cannot_run_the_check_says_so() -> None:
    traceback = b"OK\x04Traceback (most recent call last):\r\nMemoryError: \r\n\x04>"
    transport = ScriptedTransport([RAW_REPL_BANNER + traceback])
    repl = RawRepl(transport, token=b"\x02cafe0001", on_output=lambda text: None)
    with pytest.raises(ProtocolError, match=r"entered raw REPL but did not run .*MemoryError"):
        repl.enter(timeout=0.5)
