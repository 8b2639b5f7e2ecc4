"""Raw-paste mode: large code sent within the board's flow-control window.

Plain raw mode sends a command in one write; a board's UART buffer may drop
what does not fit. Raw-paste mode (``\\x05A\\x01``) has the board grant a
window and refill it with ``\\x01`` as it reads, and belayfw never sends
beyond it. Part of :class:`~belayfw.protocol.RawRepl` (a mixin: the methods
use the link's reads, writes and parser).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from belayfw.errors import DeviceDisconnected, ProtocolError
from belayfw.response import RAW_REPL_BANNER, ResponseParser, preview
from belayfw.transports.base import Transport

#: How long the board may go without granting window or answering.
RAW_PASTE_STALL_SECONDS = 5.0
#: How long a host Ctrl-C waits for the board's acknowledgement of data it sent whole.
CUT_ACK_SECONDS = 1.0


class RawPaste:
    """Sending one command in raw-paste mode, falling back to plain raw if refused."""

    parser: ResponseParser
    transport: Transport
    #: Send large code in raw-paste mode (turned off when the board refuses it).
    raw_paste: bool
    #: The board refused raw-paste mode: never ask again.
    paste_refused: bool
    #: A raw-paste request may have reached the board, and the data's end has not
    #: (a resync must end the data first: see InStep._resync).
    _paste_open: bool
    #: The data's end went out and its acknowledgement has not been read:
    #: (call id, capture) of the command, whose code runs on the board once acked.
    _paste_unacked: tuple[int, bool] | None = None
    #: What the read for an answer has taken so far (kept: a Ctrl-C may cut that read).
    _reply_pending: bytearray
    _broken: DeviceDisconnected | None

    if TYPE_CHECKING:

        def _write(self, data: bytes) -> None: ...

        def _read(self, deadline: float) -> bytes: ...

    def _send_raw_paste(self, code: bytes, call_id: int, capture: bool) -> None:
        """Send ``code`` in raw-paste mode, honouring the board's flow-control window."""
        self._paste_open = True  # before the request: a Ctrl-C may cut its write
        self._write(b"\x05A\x01")
        header = self._read_until_reply(self._raw_paste_reply, "answer the raw-paste request")
        before, reply, after = header
        self._feed_idle(before)
        if not reply.startswith(b"R\x01"):
            # Refused, or firmware without raw-paste: plain raw mode from now on.
            self._paste_open = False
            self.raw_paste = False
            self.paste_refused = True
            self._feed_idle(after)
            self.parser.begin(call_id, capture=capture)  # before the command leaves
            self._write(code + b"\x04")
            return
        self._feed_idle(reply[2:-2])  # thread output between the answer and the window
        window = struct.unpack("<H", reply[-2:])[0]
        credit = window + window * self._take_grants(after)
        sent = 0
        view = memoryview(code)
        while sent < len(code):
            if credit <= 0:
                stall_limit = time.monotonic() + RAW_PASTE_STALL_SECONDS
                while credit <= 0:
                    if time.monotonic() >= stall_limit:
                        raise ProtocolError(
                            f"{self.transport.description} stopped granting raw-paste window"
                        )
                    credit += window * self._take_grants(self._read(stall_limit))
            chunk = bytes(view[sent : sent + credit])
            self._write(chunk)
            sent += len(chunk)
            credit -= len(chunk)
        self._reply_pending = bytearray()
        self._paste_unacked = (call_id, capture)
        self._write(b"\x04")
        self._paste_open = False  # after the end: a paste end sent at the prompt is harmless
        self._take_paste_ack(RAW_PASTE_STALL_SECONDS, call_id, capture)

    def _take_paste_ack(self, seconds: float, call_id: int, capture: bool) -> None:
        """Read the board's \\x04 that acknowledges the data; the parser then follows the code."""
        before, _, after = self._read_until_reply(
            _find_paste_ack, "acknowledge raw-paste data", seconds, keep=True
        )
        self._paste_unacked = None  # first: a Ctrl-C from here on must not read a second ack
        self._reply_pending = bytearray()
        self._feed_idle(before.replace(b"\x01", b""))
        self.parser.begin(call_id, capture=capture, raw_paste=True)
        self._feed_idle(after)

    def _follow_cut_paste(self) -> None:
        """A host Ctrl-C struck while the board acknowledged raw-paste data sent whole.

        The board runs that code once it has acknowledged it, and only a parser
        that follows the command can tell when to interrupt it: without this,
        the code ran on unstopped and the next command's resync gave the link up
        if it ran past RESYNC_SECONDS. No acknowledgement within CUT_ACK_SECONDS:
        the resync deals with whatever the board is doing.
        """
        unacked = self._paste_unacked
        if unacked is None:
            return
        # Taken before the read: a second Ctrl-C inside it must leave nothing that a
        # later command's Ctrl-C would take for its own (reading that command's end
        # of output as the ack, it would interrupt an idle board).
        self._paste_unacked = None
        try:
            self._take_paste_ack(CUT_ACK_SECONDS, *unacked)
        except ProtocolError:
            pass
        except DeviceDisconnected as exc:
            self._broken = exc

    @staticmethod
    def _raw_paste_reply(data: bytearray) -> tuple[int, int]:
        """Where the board's answer to a raw-paste request is in ``data``: (start, length).

        ``R\\x00`` refuses; firmware older than raw-paste reprints the raw-REPL
        banner. ``R\\x01`` accepts and is followed by the 16-bit window, which the
        board writes separately, so a thread's print may sit between them: the
        window is the first plausible pair after it, and what lies between is
        handed back as output by :meth:`_send_raw_paste`. The first answer in
        the stream counts: a banner after an acceptance is no refusal.
        """
        refusals = [
            (found, len(refusal))
            for refusal in (b"R\x00", RAW_REPL_BANNER)
            if (found := data.find(refusal)) >= 0
        ]
        refused = min(refusals, default=(-1, 0))
        accepted = data.find(b"R\x01")
        if accepted < 0 or 0 <= refused[0] < accepted:
            return refused
        for index in range(accepted + 2, len(data) - 1):
            if _plausible_window(data[index : index + 2]):
                return accepted, index + 2 - accepted
        return -1, 0  # accepted; the window is still on its way

    def _read_until_reply(
        self,
        locate: Callable[[bytearray], tuple[int, int]],
        what: str,
        seconds: float = RAW_PASTE_STALL_SECONDS,
        *,
        keep: bool = False,
    ) -> tuple[bytes, bytes, bytes]:
        """Read until ``locate`` finds the reply; return (before, reply, after).

        With ``keep``, what was read goes on from ``_reply_pending``, where a read
        cut by a host Ctrl-C left it.
        """
        pending = self._reply_pending if keep else bytearray()
        limit = time.monotonic() + seconds
        while True:
            start, length = locate(pending)
            if start >= 0:
                data = bytes(pending)
                return data[:start], data[start : start + length], data[start + length :]
            if time.monotonic() >= limit:
                raise ProtocolError(
                    f"{self.transport.description} did not {what}; it sent {preview(pending)}"
                )
            pending += self._read(limit)

    def _take_grants(self, data: bytes) -> int:
        """Count window grants (\\x01) in ``data``; forward anything else as output."""
        rest = data.replace(b"\x01", b"")
        if b"\x04" in rest:
            self._write(b"\x04")
            raise ProtocolError(f"{self.transport.description} aborted the raw-paste transfer")
        self._feed_idle(rest)
        return len(data) - len(rest)

    def _feed_idle(self, data: bytes | bytearray) -> None:
        if data:
            self.parser.feed(bytes(data))


def _plausible_window(pair: bytes | bytearray) -> bool:
    """A raw-paste window size: a power of two from 16 to 8192 (MicroPython's are)."""
    window = pair[0] | pair[1] << 8
    return 16 <= window <= 8192 and window & (window - 1) == 0


def _find_paste_ack(data: bytearray) -> tuple[int, int]:
    """The board's \\x04 that ends raw-paste data, skipping late window grants."""
    return data.find(b"\x04"), 1
