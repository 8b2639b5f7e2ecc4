"""Entering raw REPL: stop what runs, switch modes, and come back in step.

The entry is retried when the board does not answer soon (a loaded machine, a
board still booting, one that restarted on the interrupt), so several answers
may be on their way at once: a raw-REPL banner per Ctrl-A, the traceback of
interrupted code, a reboot banner. Counting banners cannot tell a late one
from a lost one, and one that arrives after the entry returned is read as the
answer to the next request: a raw-paste request takes it for a refusal, and
the board's real answer lands in the user's output. So every attempt ends with
a ping that names a fresh call id, and the entry is over only once the board
has answered the *last* attempt. The board reads its input in order, so by
then every earlier answer has arrived, and all of it was dropped. Part of
:class:`~belayfw.protocol.RawRepl` (a mixin).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING

from belayfw.errors import DeviceDisconnected, ProtocolError
from belayfw.in_step import ping_command
from belayfw.response import RAW_REPL_BANNER, Phase, ResponseParser, preview
from belayfw.transports.base import Transport

log = logging.getLogger(__name__)

#: An entry attempt is repeated when the board has not shown its raw-REPL banner
#: this long after it, or has gone quiet this long without answering the ping.
ENTRY_RETRY_SECONDS = 1.0
#: What arrived during the entry is kept up to this size, for an error message.
_SEEN_BYTES = 512


class RawReplEntry:
    """The raw-REPL entry handshake, which leaves nothing of itself in the stream."""

    parser: ResponseParser
    transport: Transport

    if TYPE_CHECKING:

        def _write(self, data: bytes) -> None: ...

        def _read(self, deadline: float) -> bytes: ...

        def next_call_id(self) -> int: ...

    def enter(self, timeout: float = 5.0) -> None:
        """Enter raw REPL: interrupt what runs (where safe), tolerate banners and noise.

        Returns once the board has answered the last entry attempt sent, so no
        answer to any of them is left to be read as something else.
        """
        deadline = time.monotonic() + timeout
        parser = self.parser
        token = parser.token
        nonce = secrets.randbits(32)  # the ping's frames: no board code prints these
        parser.token = b"\x02%08x" % nonce
        seen = bytearray()
        entered = False  # a raw-REPL banner came, for the error message
        try:
            attempt = self._send_attempt(nonce)
            while not parser.done:
                now = time.monotonic()
                if parser.phase is Phase.SYNC and attempt.retry_due(now):
                    attempt = self._send_attempt(nonce)
                    now = attempt.sent_at
                if now >= deadline:
                    raise ProtocolError(
                        _entry_failure(self.transport.description, timeout, seen, entered)
                    )
                wait = attempt.next_check() if parser.phase is Phase.SYNC else deadline
                try:
                    data = self._read(min(deadline, wait))
                except DeviceDisconnected as exc:
                    said = f"; before that it printed {preview(seen)}" if seen else ""
                    raise type(exc)(f"{exc.args[0]}{said}") from None
                if data:
                    seen += data
                    del seen[:-_SEEN_BYTES]
                    attempt.heard(data)
                    entered = entered or attempt.banner
                    parser.feed(data)
            parser.finish()
        finally:
            parser.token = token
        log.debug("%s: in raw REPL, in step", self.transport.description)

    def _send_attempt(self, nonce: int) -> _Attempt:
        """Stop running code (where safe), switch to raw REPL and ping, with a fresh id."""
        if self.transport.interrupt_on_entry:
            self._write(b"\r\x03\x03")
        call_id = self.next_call_id()
        # Everything before this ping's frame is dropped: earlier attempts' answers too.
        self.parser.begin_sync(call_id)
        self._write(b"\x01" + ping_command(nonce, call_id) + b"\x04")
        return _Attempt(time.monotonic())


def _entry_failure(where: str, timeout: float, seen: bytearray, entered: bool) -> str:
    if entered:
        # In raw REPL, but the ping never printed its frame (no memory left, say).
        return (
            f"{where} entered raw REPL but did not run belayfw's check within "
            f"{timeout:.1f} s; it sent {preview(seen)}"
        )
    return f"{where} did not enter raw REPL within {timeout:.1f} s; it sent {preview(seen)}"


class _Attempt:
    """One entry attempt in flight: when it went out, and what has come since."""

    def __init__(self, sent_at: float) -> None:
        self.sent_at = sent_at
        self.heard_at = sent_at
        self._since = bytearray()  # the tail of what came since, to spot a banner
        self.banner = False

    def heard(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
        if not self.banner:
            self._since += data
            self.banner = RAW_REPL_BANNER in self._since
            del self._since[: -len(RAW_REPL_BANNER)]

    def next_check(self) -> float:
        """When to look again whether the attempt must be repeated."""
        if not self.banner:
            return self.sent_at + ENTRY_RETRY_SECONDS
        return self.heard_at + ENTRY_RETRY_SECONDS

    def retry_due(self, now: float) -> bool:
        """No banner yet (the board runs something or lost the bytes), or it went quiet."""
        return now >= self.next_check()
