"""Keeping the link in step: after an exchange that did not complete, resync.

A command's exchange is open from the moment it is sent until its whole reply
is read. If it ends any other way (a host Ctrl-C inside a write or a read, an
error mid-reply), the board may still hold part of the command or still be
answering it. The link is then marked out of step, and before anything else is
sent it is brought back with a ping whose frame names a fresh id; every byte
before that frame is dropped. Part of :class:`~belayfw.protocol.RawRepl` (a
mixin).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from belayfw.errors import DeviceDisconnected, ProtocolError
from belayfw.response import ResponseParser
from belayfw.transports.base import Transport

log = logging.getLogger(__name__)

#: How long a board gets to answer the ping that resynchronises the link.
RESYNC_SECONDS = 5.0
#: How long a call gets to finish by itself after a host Ctrl-C, before it is interrupted.
HOST_INTERRUPT_GRACE_SECONDS = 0.1
#: Ends raw-paste data cut short where a Ctrl-C byte cannot (the emulator: see _resync).
#: Whatever prefix of a command came before, this makes it a syntax error, so
#: none of it runs: it closes any string or comment, and ")(" parses after nothing.
PASTE_CUT_END = b"\n)(\x04"


def ping_command(token: int, call_id: int) -> bytes:
    """Board code that prints the frame ``\\x02<token>r<call_id>:None\\x03`` and nothing else.

    Numbers only: the format string is the same every time, so the board interns
    nothing new for it.
    """
    return b"print(end='\\x02%%08xr%%d:None\\x03'%%(%d,%d))" % (token, call_id)


class InStep:
    """Resynchronisation after an incomplete exchange, the host Ctrl-C path, and the
    errors for a board that left the protocol (it reset, or never acknowledged)."""

    parser: ResponseParser
    transport: Transport
    round_trips: int
    _broken: DeviceDisconnected | None
    #: True from the moment a command is sent until its whole response is read.
    _unsynced: bool
    #: A raw-paste request may have reached the board, and the data's end has not.
    _paste_open: bool
    _ack_allowed: float  # seconds the command in flight has to be acknowledged

    if TYPE_CHECKING:

        def _write(self, data: bytes) -> None: ...

        def _pump(self, until: float) -> None: ...

        def _drain_available(self) -> None: ...

        def _interrupt_if_running(self) -> bool: ...

        def next_call_id(self) -> int: ...

    def _resync(self) -> None:
        """Bring the link back in step after an exchange that did not complete.

        Whatever state the board is in (part of a command in its input, still
        running or answering the abandoned one), it ends up reading a ping whose
        frame names a fresh id: Ctrl-A clears a half-sent line (Ctrl-C first on a
        real board, which also ends a half-sent raw paste; on the emulator a
        Ctrl-C while idle would end the process), and every byte before the
        ping's frame is dropped. One extra round trip, only after a fault.

        A raw paste cut short leaves the board reading paste data, where Ctrl-A
        is data too. Without a Ctrl-C (the emulator, where the byte ends an idle
        process) its data is ended with PASTE_CUT_END: a syntax error, so nothing
        of it runs. It is sent only while the board may be in paste mode; at
        the raw-REPL prompt it is a one-line syntax error too, never the Ctrl-D
        on an empty line that would reset the board.
        """
        call_id = self.next_call_id()
        token = int(self.parser.token[1:], 16)
        prefix = b"\x03\x01" if self.transport.interrupt_on_entry else b"\x01"
        if self._paste_open and not self.transport.interrupt_on_entry:
            prefix = PASTE_CUT_END + prefix
        self.parser.begin_sync(call_id)
        dropped = self.parser.discarded
        self._write(prefix + ping_command(token, call_id) + b"\x04")
        self._paste_open = False
        self.round_trips += 1
        limit = time.monotonic() + RESYNC_SECONDS
        try:
            while not self.parser.done:
                if self.parser.board_reset is not None:
                    raise self._reset_seen()  # its state is gone: no use waiting for the ping
                if time.monotonic() >= limit:
                    self._broken = DeviceDisconnected(
                        f"{self.transport.description} did not answer within "
                        f"{RESYNC_SECONDS:g} s after an interrupted call; reconnect to go on"
                    )
                    raise self._broken
                self._pump(limit)
        except DeviceDisconnected as exc:
            self._broken = exc
            raise
        self.parser.finish()
        self._unsynced = False
        log.debug(
            "%s: back in step; dropped %d stale bytes",
            self.transport.description,
            self.parser.discarded - dropped,
        )

    def _reset_seen(self) -> DeviceDisconnected:
        """The board rebooted: what it held is gone, so the link is given up."""
        self._broken = DeviceDisconnected(
            f"{self.transport.description} reset: {self.parser.board_reset}; "
            "its code and state are gone: reconnect to deploy them again"
        )
        self._broken.suggestion = "reconnect (the board reset)"
        return self._broken

    def _unacknowledged(self) -> ProtocolError:
        """A command the board never acknowledged: say what came instead, briefly."""
        parser = self.parser
        seconds = self._ack_allowed
        count = parser.unacknowledged
        if count:
            preview = parser.garbage_preview or b""
            what = f"{count:,} bytes of something else instead, starting {preview[:60]!r}"
        else:
            what = "nothing at all"
        return ProtocolError(
            f"{self.transport.description} did not acknowledge the command within "
            f"{seconds:.1f} s; it sent {what}"
        )

    def _stop_after_host_interrupt(self, wait: bool = False) -> None:
        """Stop board code the host user gave up on; the next command resyncs.

        A call about to finish gets HOST_INTERRUPT_GRACE_SECONDS to do so: an
        interrupt that lands just as the code ends would end a unix-port board.
        The exchange is never taken as complete here (a second Ctrl-C could land
        inside this too): the link stays marked out of step, and its parser drops
        whatever the board still sends for the abandoned command. With ``wait``
        (a command reading its stdin) the board's end is awaited a while too: an
        emulator's interrupt is a signal, and a reader not yet stopped would
        take the next bytes sent for its own. Meanwhile nothing the command prints
        reaches the output (see :meth:`ResponseParser.cut`): the Ctrl-C may have
        struck between a read and the parser, and a reply read from the middle
        would look like board output.
        """
        try:
            self.parser.cut()
            limit = time.monotonic() + HOST_INTERRUPT_GRACE_SECONDS
            while not self.parser.done and time.monotonic() < limit:
                self._pump(limit)
            if not self.parser.done:
                self._drain_available()  # the last look
                if self._interrupt_if_running() and wait:
                    limit = time.monotonic() + RESYNC_SECONDS
                    while not self.parser.done and time.monotonic() < limit:
                        self._pump(limit)
        except DeviceDisconnected as exc:
            self._broken = exc
        finally:
            self.parser.abandon()
