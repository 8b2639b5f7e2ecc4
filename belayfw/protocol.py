"""The raw-REPL client: one turnaround per command, on any transport.

It enters raw REPL without resetting the board, sends each command in plain raw
mode (small) or raw-paste mode with flow control (large), reads in bulk with a
deadline on every read, and interrupts the board when a command's timeout
passes. Between commands an idle drainer keeps reading, so board threads never
stall on a full buffer and their output reaches the host as it is printed.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import secrets
import select
import struct
import threading
import time
from collections.abc import Callable, Iterator

from pydantic import BaseModel, ConfigDict

from belayfw.errors import (
    BelayError,
    CommandError,
    DeviceDisconnected,
    DeviceNotOpen,
    ProtocolError,
    TaskTimeout,
)
from belayfw.response import FrameSink, OutputSink, Phase, Response, ResponseParser
from belayfw.transports.base import Restartable, Transport

log = logging.getLogger(__name__)

RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
FRIENDLY_PROMPT = b">>> "
#: Commands longer than this go through raw-paste mode with flow control.
RAW_PASTE_THRESHOLD = 256
#: An unmarked command (small, no timeout) counts as running this long after its OK.
UNMARKED_COMPILE_MARGIN = 0.002
#: How long a board gets to stop after an interrupt before the next one.
INTERRUPT_GRACE_SECONDS = 1.0
INTERRUPT_ATTEMPTS = 3
#: How long a call gets to finish by itself after a host Ctrl-C, before it is interrupted.
HOST_INTERRUPT_GRACE_SECONDS = 0.1
#: Reads never wait longer than this, so deadlines and closing are noticed.
_READ_SLICE_SECONDS = 0.5
_ENTRY_RETRY_SECONDS = 1.0
_RAW_PASTE_STALL_SECONDS = 5.0
#: The idle drainer starts reading once no command has run for this long.
DRAIN_QUIET_SECONDS = 0.02
#: How long a board gets to answer the ping that resynchronises the link.
RESYNC_SECONDS = 5.0
#: A reply that ends with no result (\x04, \x04, prompt) is taken as ended once
#: nothing has followed its prompt for this long; more output means board code
#: printed those bytes itself.
END_QUIET_SECONDS = 0.25
#: A board acknowledges a command (OK) as soon as it has read it: within this
#: long, plus a second per ACK_BYTES_PER_SECOND of command (a slow UART).
ACK_SECONDS = 5.0
ACK_BYTES_PER_SECOND = 2000
#: Bytes that steer the raw REPL (enter, leave, interrupt, end of input, paste mode):
#: one inside a command would split it, so no command may carry them raw.
CONTROL_BYTES = re.compile(rb"[\x01-\x05]")


class LinkStats(BaseModel):
    """Traffic on one board link since it opened (a read-only snapshot)."""

    model_config = ConfigDict(frozen=True)

    bytes_sent: int
    bytes_received: int
    round_trips: int


class RawRepl:
    """A raw-REPL session on one transport; safe to share between host threads."""

    def __init__(
        self,
        transport: Transport,
        *,
        token: bytes,
        on_output: OutputSink,
        on_frame: FrameSink | None = None,
    ) -> None:
        self.transport = transport
        self.parser = ResponseParser(token, on_output, on_frame or _ignore_frame)
        self.bytes_sent = 0
        self.bytes_received = 0
        self.round_trips = 0
        #: Send code over RAW_PASTE_THRESHOLD in raw-paste mode (turned off if refused).
        self.raw_paste = getattr(transport, "prefers_raw_paste", True)
        self._lock = threading.Lock()
        self._owner: int | None = None  # the thread holding the lock
        self._interrupt_requested = False
        self._marked = True  # the command in flight reports "started" (see _interruptible)
        self._small = True  # ... or is small enough to compile in microseconds
        self._generation = 0  # bumped by every command, so the drainer can tell busy from idle
        self._stop = threading.Event()
        self._busy = False
        self._broken: DeviceDisconnected | None = None
        self._closing = False
        self._drainer: threading.Thread | None = None
        self._wake_r, self._wake_w = os.pipe()
        #: True from the moment a command is sent until its whole response is read:
        #: while it is, the board may still answer it, and the next command resyncs first.
        self._unsynced = False
        #: The longest command the board can take in plain raw mode, where it
        #: holds the whole text in RAM before compiling it (None: no limit known).
        self.input_limit: int | None = None
        self._ack_allowed = ACK_SECONDS
        # Call ids start at random, so no reply left from another host's session matches.
        self._call_ids = itertools.count(secrets.randbelow(1 << 24) + 1)

    # -- lifecycle ----------------------------------------------------------------------

    def enter(self, timeout: float = 5.0) -> None:
        """Enter raw REPL: interrupt what runs (where safe), tolerate banners and noise."""
        deadline = time.monotonic() + timeout
        seen = bytearray()
        transport = self.transport
        while True:
            if transport.interrupt_on_entry:
                self._write(b"\r\x03\x03")
            self._write(b"\x01")
            retry_at = min(deadline, time.monotonic() + _ENTRY_RETRY_SECONDS)
            while time.monotonic() < retry_at:
                try:
                    seen += self._read(retry_at)
                except DeviceDisconnected as exc:
                    said = f"; before that it printed {_preview(seen)}" if seen else ""
                    raise type(exc)(f"{exc.args[0]}{said}") from None
                index = seen.find(RAW_REPL_BANNER)
                if index >= 0:
                    if index:
                        log.debug(
                            "%s: before raw REPL: %r", transport.description, bytes(seen[:index])
                        )
                    rest = bytes(seen[index + len(RAW_REPL_BANNER) :])
                    if rest:
                        self.parser.feed(rest)
                    return
            if time.monotonic() >= deadline:
                raise ProtocolError(
                    f"{transport.description} did not enter raw REPL within {timeout:.1f} s; "
                    f"it sent {_preview(seen)}"
                )

    def start_drainer(self) -> None:
        """Start reading board output between commands."""
        if self._drainer is None:
            self._drainer = threading.Thread(
                target=self._drain, name=f"belayfw-drain[{self.transport.description}]", daemon=True
            )
            self._drainer.start()

    def close(self) -> None:
        """Stop the drainer and close the transport."""
        if self._closing:
            return
        self._closing = True
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._drainer is not None and self._drainer is not threading.current_thread():
            self._drainer.join(timeout=2.0)
        with self._lock:
            self.transport.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    @property
    def closed(self) -> bool:
        return self._closing

    @property
    def broken(self) -> DeviceDisconnected | None:
        """Why the link is unusable, once it is."""
        return self._broken

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[Transport]:
        """Lend the transport, with no command or drainer touching it meanwhile.

        For tools that speak to the board directly (benchmarks, file transfer);
        the board must be back at the raw-REPL prompt when the block ends.
        """
        with self._lock:
            self._generation += 1
            if self._unsynced:
                self._resync()
            yield self.transport

    def soft_reset(self, timeout: float = 10.0) -> None:
        """Soft-reset the board (its RAM is cleared) and come back to the raw-REPL prompt.

        A board resets on Ctrl-D at an empty raw-REPL line and prints ``soft
        reboot`` and the raw-REPL banner again; a transport that owns its board
        (the emulator, see :class:`~belayfw.transports.base.Restartable`)
        restarts it instead. Output the board prints while it boots is dropped.
        """
        with self._lock:
            self._generation += 1
            if self._broken is not None:
                raise type(self._broken)(self._broken.args[0])
            if self._unsynced and not isinstance(self.transport, Restartable):
                self._resync()  # Ctrl-D must meet an empty line, not a half-sent command
            parser = self.parser
            self.parser = ResponseParser(parser.token, parser.on_output, parser.on_frame)
            self._unsynced = False
            try:
                if isinstance(self.transport, Restartable):
                    self.transport.restart()
                    self.enter(timeout)
                else:
                    self._write(b"\x04")
                    self._await_reboot(time.monotonic() + timeout)
            except DeviceDisconnected as exc:
                self._broken = exc
                raise
            self.round_trips += 1

    def _await_reboot(self, deadline: float) -> None:
        """Read until the banner that follows ``soft reboot`` (boot.py may print between)."""
        seen = bytearray()
        while time.monotonic() < deadline:
            seen += self._read(deadline)
            rebooted = seen.find(b"soft reboot")
            if rebooted >= 0 and seen.find(RAW_REPL_BANNER, rebooted) >= 0:
                log.debug("%s soft reset: %r", self.transport.description, bytes(seen))
                return
        raise ProtocolError(
            f"{self.transport.description} did not come back from a soft reset; "
            f"it sent {_preview(seen)}"
        )

    @property
    def stats(self) -> LinkStats:
        return LinkStats(
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            round_trips=self.round_trips,
        )

    # -- commands -----------------------------------------------------------------------

    def next_call_id(self) -> int:
        """A fresh id for a command's frames (see ``board/runtime.py``)."""
        return next(self._call_ids) & 0x3FFFFFFF  # a small int on every port

    def execute(
        self,
        code: bytes,
        *,
        call_id: int,
        timeout: float | None = None,
        capture: bool = False,
        marked: bool = True,
    ) -> Response:
        """Run ``code``, whose frames name ``call_id``, and return its response.

        Exactly one turnaround for small code. When ``timeout`` passes, the
        board is interrupted and :class:`TaskTimeout` is raised once it has
        stopped; the link stays usable. A command with a raw control byte is
        refused: the board would cut it there.
        """
        found = CONTROL_BYTES.search(code)
        if found is not None:
            raise CommandError(
                f"the command holds the raw control byte {found.group()!r} at offset "
                f"{found.start()}, which would cut it short on the board"
            )
        if self._owner == threading.get_ident():
            raise BelayError(
                "the board was called from its own output callback; a callback must not "
                "use the device (hand the work to another thread instead)"
            )
        with self._lock:
            self._owner = threading.get_ident()
            self._generation += 1
            try:
                self._marked = marked
                self._small = len(code) <= RAW_PASTE_THRESHOLD
                return self._execute_locked(code, call_id, timeout, capture)
            finally:
                self._owner = None

    def interrupt(self) -> bool:
        """Interrupt the command running now; returns False when no board code runs.

        Only a command whose code has started (and not yet sent its result) is
        interrupted: the unix port exits on an interrupt that arrives while it
        compiles or is idle.
        """
        if not (self._busy and self._interruptible()):
            return False
        wakeup = self.transport.wakeup
        if wakeup is None:
            self.transport.interrupt()  # a real board shrugs off a late Ctrl-C byte
            return True
        # The thread reading the link sends it, right after one last look, so it
        # cannot land after the code has finished (the unix port exits then).
        self._interrupt_requested = True
        wakeup()
        return True

    def _execute_locked(
        self, code: bytes, call_id: int, timeout: float | None, capture: bool
    ) -> Response:
        if self._broken is not None:
            raise type(self._broken)(self._broken.args[0])
        if self._closing:
            raise DeviceNotOpen(f"{self.transport.description} is closed")
        if self.parser.board_reset is not None:
            raise self._reset_seen()
        paste = self.raw_paste and len(code) > RAW_PASTE_THRESHOLD
        if not paste and self.input_limit is not None and len(code) > self.input_limit:
            raise CommandError(
                f"this call is {len(code):,} bytes as board source, more than "
                f"{self.transport.description} can take in at once (about "
                f"{self.input_limit:,} bytes: it holds the whole command in RAM before "
                "compiling it); pass smaller arguments, or send the data in pieces"
            )
        if self._unsynced:
            self._resync()
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        # From here until the whole response is read, the exchange is open: if it
        # ends any other way (a host Ctrl-C inside a write or a read, an error), the
        # board may still answer it, so the next command resynchronises first.
        self._unsynced = True
        try:
            if paste:
                try:
                    self._send_raw_paste(code, call_id, capture)
                except ProtocolError as exc:
                    # The board is in an unknown state: nothing more can be trusted.
                    self._broken = DeviceDisconnected(f"{exc.args[0]}; the link was given up")
                    raise
            else:
                self._write(code + b"\x04")
                self.parser.begin(call_id, capture=capture)
            self.round_trips += 1
            self._busy = True
            self._interrupt_requested = False
            self._ack_allowed = ACK_SECONDS + len(code) / ACK_BYTES_PER_SECOND
            ack_limit = time.monotonic() + self._ack_allowed
            try:
                timed_out = self._await_response(deadline, timeout, ack_limit)
            finally:
                self._busy = False
            if self.parser.board_reset is not None:
                raise self._reset_seen()
            response = self.parser.finish()
        except KeyboardInterrupt:
            # The host user pressed Ctrl-C: stop the board too, then let it propagate.
            self._stop_after_host_interrupt()
            raise
        except DeviceDisconnected as exc:
            self._broken = exc
            self.parser.abandon()
            raise
        except BaseException:
            self.parser.abandon()
            raise
        self._unsynced = False
        if timed_out:
            raise TaskTimeout(
                f"board code ran past its {timeout:g} s timeout and was interrupted",
                timeout=timeout,
            )
        return response

    def _resync(self) -> None:
        """Bring the link back in step after an exchange that did not complete.

        Whatever state the board is in (part of a command in its input, still
        running or answering the abandoned one), it ends up reading a ping whose
        frame names a fresh id: Ctrl-A clears a half-sent line (Ctrl-C first on a
        real board, which also ends a half-sent raw paste; on the emulator a
        Ctrl-C while idle would end the process), and every byte before the
        ping's frame is dropped. One extra round trip, only after a fault.
        """
        call_id = self.next_call_id()
        token = int(self.parser.token[1:], 16)
        ping = b"print(end='\\x02%%08xr%%d:None\\x03'%%(%d,%d))" % (token, call_id)
        prefix = b"\x03\x01" if self.transport.interrupt_on_entry else b"\x01"
        self.parser.begin_sync(call_id)
        dropped = self.parser.discarded
        self._write(prefix + ping + b"\x04")
        self.round_trips += 1
        limit = time.monotonic() + RESYNC_SECONDS
        try:
            while not self.parser.done:
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

    def _await_response(
        self, deadline: float | None, timeout: float | None, ack_limit: float
    ) -> bool:
        """Read until the response is complete; returns True when it had to interrupt.

        Past the deadline, belayfw looks once more (a board that has just
        finished must not be interrupted), then interrupts only if the
        command's code is running; every grace period it tries again, and after
        INTERRUPT_ATTEMPTS tries it gives the link up.
        """
        parser = self.parser
        tries = 0
        sent = 0
        next_try = 0.0
        prompted_at = 0.0
        while not parser.done:
            now = time.monotonic()
            read_until = now + _READ_SLICE_SECONDS
            phase = parser.phase
            if phase is Phase.AWAIT_OK:
                if now >= ack_limit:
                    raise self._unacknowledged()
                read_until = min(read_until, ack_limit)
            elif phase is Phase.PROMPTED:
                prompted_at = prompted_at or now
                if now - prompted_at >= END_QUIET_SECONDS:
                    parser.conclude()
                    break
                read_until = min(read_until, prompted_at + END_QUIET_SECONDS)
            else:
                prompted_at = 0.0
            if deadline is not None and now >= deadline:
                if now >= next_try:
                    self._drain_available()  # the last look
                    if parser.done:
                        break
                    if tries >= INTERRUPT_ATTEMPTS:
                        raise self._give_up(timeout, sent)
                    tries += 1
                    sent += self._interrupt_if_running()
                    next_try = now + INTERRUPT_GRACE_SECONDS
                wait_until = next_try
            else:
                wait_until = now + _READ_SLICE_SECONDS if deadline is None else deadline
            self._pump(min(wait_until, read_until))
            if self._interrupt_requested:
                self._interrupt_requested = False
                self._drain_available()  # the last look
                self._interrupt_if_running()
        return tries > 0

    def _interruptible(self) -> bool:
        """Is the command's code running on the board now (so an interrupt is safe)?

        A marked command says so itself. An unmarked small one is taken as
        running once its OK is UNMARKED_COMPILE_MARGIN old: compiling a command
        that small takes microseconds. An unmarked large one never is.
        """
        parser = self.parser
        if self._marked:
            return parser.interruptible
        ok_at = parser.ok_at
        return (
            self._small
            and parser.awaiting_result
            and ok_at is not None
            and time.monotonic() - ok_at >= UNMARKED_COMPILE_MARGIN
        )

    def _interrupt_if_running(self) -> bool:
        """Interrupt the board only if the command's code is running; True if sent."""
        if not self._interruptible():
            return False
        self.transport.interrupt()
        return True

    def _drain_available(self) -> None:
        """Read everything the board has sent so far, without waiting.

        The look before an interrupt must see all of it: a board that already
        sent its whole result is idle, and the unix port exits on an interrupt.
        """
        while not self.parser.done:
            data = self._read(time.monotonic())
            if not data:
                return
            self.parser.feed(data)

    def _pump(self, until: float) -> None:
        data = self._read(until)
        if data:
            self.parser.feed(data)

    def _give_up(self, timeout: float | None, interrupts: int) -> TaskTimeout:
        description = self.transport.description
        self._broken = DeviceDisconnected(
            f"{description} did not stop after {interrupts} interrupts and was disconnected"
        )
        self._stop.set()
        self.transport.close()
        return TaskTimeout(
            f"board code ran past its {timeout:g} s timeout and did not stop after "
            f"{INTERRUPT_ATTEMPTS} tries ({interrupts} interrupts sent); "
            f"the link to {description} was closed",
            timeout=timeout,
        )

    def _stop_after_host_interrupt(self) -> None:
        """Stop board code the host user gave up on; the next command resyncs.

        A call about to finish gets HOST_INTERRUPT_GRACE_SECONDS to do so: an
        interrupt that lands just as the code ends would end a unix-port board.
        The exchange is never taken as complete here (a second Ctrl-C could land
        inside this too): the link stays marked out of step, and its parser drops
        whatever the board still sends for the abandoned command.
        """
        try:
            limit = time.monotonic() + HOST_INTERRUPT_GRACE_SECONDS
            while not self.parser.done and time.monotonic() < limit:
                self._pump(limit)
            if not self.parser.done:
                self._drain_available()  # the last look
                self._interrupt_if_running()
        except DeviceDisconnected as exc:
            self._broken = exc
        finally:
            self.parser.abandon()

    # -- raw-paste mode -------------------------------------------------------------------

    def _send_raw_paste(self, code: bytes, call_id: int, capture: bool) -> None:
        """Send ``code`` in raw-paste mode, honouring the board's flow-control window."""
        self._write(b"\x05A\x01")
        header = self._read_until_reply(self._raw_paste_reply, "answer the raw-paste request")
        before, reply, after = header
        self._feed_idle(before)
        if not reply.startswith(b"R\x01"):
            # Refused, or firmware without raw-paste: plain raw mode from now on.
            self.raw_paste = False
            self._feed_idle(after)
            self._write(code + b"\x04")
            self.parser.begin(call_id, capture=capture)
            return
        self._feed_idle(reply[2:-2])  # thread output between the answer and the window
        window = struct.unpack("<H", reply[-2:])[0]
        credit = window + window * self._take_grants(after)
        sent = 0
        view = memoryview(code)
        while sent < len(code):
            if credit <= 0:
                stall_limit = time.monotonic() + _RAW_PASTE_STALL_SECONDS
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
        self._write(b"\x04")
        # The board acknowledges the end of data with \x04, then runs the code.
        before, _, after = self._read_until_reply(_find_paste_ack, "acknowledge raw-paste data")
        self._feed_idle(before.replace(b"\x01", b""))
        self.parser.begin(call_id, capture=capture, raw_paste=True)
        self._feed_idle(after)

    @staticmethod
    def _raw_paste_reply(data: bytearray) -> tuple[int, int]:
        """Where the board's answer to a raw-paste request is in ``data``: (start, length).

        ``R\\x00`` refuses; firmware older than raw-paste reprints the raw-REPL
        banner. ``R\\x01`` accepts and is followed by the 16-bit window, which the
        board writes separately, so a thread's print may sit between them: the
        window is the first plausible pair after it, and what lies between is
        handed back as output by :meth:`_send_raw_paste`.
        """
        for refusal in (b"R\x00", RAW_REPL_BANNER):
            found = data.find(refusal)
            if found >= 0:
                return found, len(refusal)
        accepted = data.find(b"R\x01")
        if accepted < 0:
            return -1, 0
        for index in range(accepted + 2, len(data) - 1):
            if _plausible_window(data[index : index + 2]):
                return accepted, index + 2 - accepted
        return -1, 0

    def _read_until_reply(
        self, locate: Callable[[bytearray], tuple[int, int]], what: str
    ) -> tuple[bytes, bytes, bytes]:
        """Read until ``locate`` finds the reply; return (before, reply, after)."""
        pending = bytearray()
        limit = time.monotonic() + _RAW_PASTE_STALL_SECONDS
        while True:
            start, length = locate(pending)
            if start >= 0:
                data = bytes(pending)
                return data[:start], data[start : start + length], data[start + length :]
            if time.monotonic() >= limit:
                raise ProtocolError(
                    f"{self.transport.description} did not {what}; it sent {_preview(pending)}"
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

    # -- idle drainer ---------------------------------------------------------------------

    def _drain(self) -> None:
        """Read between commands, once the link has been quiet for a moment.

        While the host keeps calling, this thread stays asleep (it wakes once per
        quiet period to check), so it costs the hot path nothing; once no command
        has run for ``DRAIN_QUIET_SECONDS`` it waits on the descriptor and
        forwards whatever board threads print.
        """
        fd = self.transport.fileno()
        poller = None
        if fd is not None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                generation = self._generation
                if self._stop.wait(DRAIN_QUIET_SECONDS):
                    return
                if self._generation != generation:
                    continue  # busy: stay out of the way
                if poller is not None:
                    events = poller.poll()
                    if self._stop.is_set() or any(ready == self._wake_r for ready, _ in events):
                        return
                if not self._lock.acquire(blocking=False):
                    continue
                try:
                    if self._broken is not None or self._closing:
                        return
                    # With a descriptor the data is there now; without one, wait briefly.
                    until = time.monotonic() + (0.0 if fd is not None else DRAIN_QUIET_SECONDS)
                    data = self._read(until)
                    if data:
                        self.parser.feed(data)
                finally:
                    self._lock.release()
        except DeviceDisconnected as exc:
            self._broken = exc
            log.warning("%s", exc)
        except (OSError, ValueError) as exc:  # the descriptor went away under us
            if not self._closing:
                self._broken = DeviceDisconnected(f"{self.transport.description}: {exc}")
                log.warning("%s", self._broken)

    # -- bytes ------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.transport.write(data)
        self.bytes_sent += len(data)

    def _read(self, deadline: float) -> bytes:
        data = self.transport.read(deadline)
        self.bytes_received += len(data)
        return data


def _plausible_window(pair: bytes | bytearray) -> bool:
    """A raw-paste window size: a power of two from 16 to 8192 (MicroPython's are)."""
    window = pair[0] | pair[1] << 8
    return 16 <= window <= 8192 and window & (window - 1) == 0


def _find_paste_ack(data: bytearray) -> tuple[int, int]:
    """The board's \\x04 that ends raw-paste data, skipping late window grants."""
    return data.find(b"\x04"), 1


def _ignore_frame(tag: str, payload: bytes) -> None:
    log.debug("unhandled board frame %r: %r", tag, payload[:80])


def _preview(data: bytes | bytearray, limit: int = 120) -> str:
    data = bytes(data)
    return repr(data if len(data) <= limit else data[-limit:])
