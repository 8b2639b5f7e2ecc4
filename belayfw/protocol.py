"""The raw-REPL client: one turnaround per command, on any transport.

It enters raw REPL without resetting the board, sends each command in plain raw
mode (small) or raw-paste mode with flow control (large), reads in bulk with a
deadline on every read, and interrupts the board when a command's timeout
passes. Between commands an idle drainer keeps reading, so board threads never
stall on a full buffer and their output reaches the host as it is printed.
Entering raw REPL (:mod:`belayfw.entry`), raw-paste sending
(:mod:`belayfw.raw_paste`), the idle drainer (:mod:`belayfw.drainer`) and
resynchronisation after an incomplete exchange (:mod:`belayfw.in_step`) live in
their own modules, as parts of :class:`RawRepl`.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from belayfw.drainer import IdleDrainer
from belayfw.entry import RawReplEntry
from belayfw.errors import (
    BelayError,
    BoardReset,
    CommandError,
    DeviceDisconnected,
    DeviceNotOpen,
    ProtocolError,
    TaskTimeout,
)
from belayfw.in_step import InStep
from belayfw.raw_paste import RawPaste
from belayfw.response import (
    RAW_REPL_BANNER as RAW_REPL_BANNER,  # re-exported: the banner belongs to the protocol
)
from belayfw.response import (
    FrameSink,
    OutputSink,
    Phase,
    Response,
    ResponseParser,
    preview,
)
from belayfw.transports.base import Restartable, Transport

log = logging.getLogger(__name__)

FRIENDLY_PROMPT = b">>> "
#: Commands longer than this go through raw-paste mode with flow control.
RAW_PASTE_THRESHOLD = 256
#: An unmarked command (small, no timeout) counts as running this long after its OK.
UNMARKED_COMPILE_MARGIN = 0.002
#: How long a board gets to stop after an interrupt before the next one.
INTERRUPT_GRACE_SECONDS = 1.0
INTERRUPT_ATTEMPTS = 3
#: Reads never wait longer than this, so deadlines and closing are noticed.
_READ_SLICE_SECONDS = 0.5
#: An upload piece is written in slices this big (under a second on a 115200-baud UART,
#: well within a serial write timeout), with the board's output read between.
_FEED_SLICE = 4096
#: A reply that ends with no result (\x04, \x04, prompt) is taken as ended once
#: nothing has followed its prompt for this long; more output means board code
#: printed those bytes itself.
END_QUIET_SECONDS = 0.25
#: A board acknowledges a command (OK) as soon as it has read it: within this
#: long, plus a second per ACK_BYTES_PER_SECOND of command (a slow UART).
ACK_SECONDS = 5.0
ACK_BYTES_PER_SECOND = 2000
#: How long close() waits for a command in another thread to let go of the transport.
CLOSE_WAIT_SECONDS = 2.0
#: Bytes that steer the raw REPL (enter, leave, interrupt, end of input, paste mode):
#: one inside a command would split it, so no command may carry them raw.
CONTROL_BYTES = re.compile(rb"[\x01-\x05]")


class LinkStats(BaseModel):
    """Traffic on one board link since it opened (a read-only snapshot)."""

    model_config = ConfigDict(frozen=True)

    bytes_sent: int
    bytes_received: int
    round_trips: int


class Feeder(Protocol):
    """Data a running command reads from its stdin, one piece per grant frame it writes.

    The board asks for a piece only when it is ready to read all of it at once,
    so its input buffer never has to hold more than a UART delivers meanwhile.
    """

    #: The payload of this transfer's grant frames (tag ``g``).
    key: bytes

    def next_piece(self) -> bytes:
        """The bytes to send for one grant (base64-safe: no control bytes)."""
        ...


#: The feeder for commands sent from this context (see :func:`feeding`).
_FEEDING: contextvars.ContextVar[Feeder | None] = contextvars.ContextVar(
    "belayfw_feeding", default=None
)


@contextlib.contextmanager
def feeding(feeder: Feeder) -> Iterator[None]:
    """Commands sent from this thread inside the block get ``feeder`` (file uploads
    reach the protocol through ``Device.eval`` this way)."""
    token = _FEEDING.set(feeder)
    try:
        yield
    finally:
        _FEEDING.reset(token)


class RawRepl(RawReplEntry, RawPaste, IdleDrainer, InStep):
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
        self.paste_refused = False
        self._paste_open = False  # see RawPaste
        self._lock = threading.Lock()
        self._wake_pipe_orphaned = False
        self._wake_pipe_closed = False
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
        self._feeder: Feeder | None = None
        # Call ids start at random, so no reply left from another host's session matches.
        self._call_ids = itertools.count(secrets.randbelow(1 << 24) + 1)

    # -- lifecycle ----------------------------------------------------------------------

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
        # A command in another thread sees _closing at its next wake-up (the pipe
        # write above) and ends with DeviceDisconnected, letting go of the lock.
        if not self._lock.acquire(timeout=CLOSE_WAIT_SECONDS):
            # Still held (stuck in a write): close the transport under it, so that
            # write fails; it closes the wake pipe on its way out.
            self._wake_pipe_orphaned = True
            if not self._lock.acquire(blocking=False):  # it may just have left
                self.transport.close()
                return
        try:
            self.transport.close()
            self._close_wake_pipe()
        finally:
            self._lock.release()

    def _close_wake_pipe(self) -> None:
        """Close the wake pipe once (callers hold ``_lock``): its numbers are reused later."""
        self._wake_pipe_orphaned = False
        if self._wake_pipe_closed:
            return
        self._wake_pipe_closed = True
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
            restartable = isinstance(self.transport, Restartable)
            if self._broken is not None and not (
                restartable and isinstance(self._broken, BoardReset)
            ):
                raise type(self._broken)(self._broken.args[0])
            if self._unsynced and not restartable:
                self._resync()  # Ctrl-D must meet an empty line, not a half-sent command
            sinks = self.parser.sinks
            sinks.release()
            self.parser = ResponseParser(self.parser.token, sinks.on_output, sinks.on_frame)
            # Out of step until the board is back at the prompt: if a Ctrl-C cuts the
            # reset, its boot text is dropped (drainer.py) and the next command resyncs.
            self._unsynced = True
            try:
                if isinstance(self.transport, Restartable):
                    self.transport.restart()
                    self._paste_open = False  # a new board: no paste of the old one to end
                    self.enter(timeout)
                    self._broken = None  # a board that had reset itself is back
                else:
                    self._write(b"\x04")
                    self._await_reboot(time.monotonic() + timeout)
            except DeviceDisconnected as exc:
                self._broken = exc
                raise
            self._unsynced = False
            self._paste_open = False
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
            f"it sent {preview(seen)}"
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
        paste: bool = False,
        feeder: Feeder | None = None,
    ) -> Response:
        """Run ``code``, whose frames name ``call_id``, and return its response.

        Exactly one turnaround for small code. When ``timeout`` passes, the
        board is interrupted and :class:`TaskTimeout` is raised once it has
        stopped; the link stays usable. A command with a raw control byte is
        refused: the board would cut it there. ``paste`` sends a large command
        in raw-paste mode even on a transport that prefers plain raw mode: in
        plain raw mode the board keeps its input buffer as large as the largest
        command it was sent, for as long as the raw REPL runs (measured: a 20 KB
        command holds 20 KB of a pico-sized heap), while raw paste streams the
        command into the compiler. ``feeder`` answers the command's grant
        frames with data while it runs (file uploads).
        """
        found = CONTROL_BYTES.search(code)
        if found is not None:
            raise CommandError(
                f"the command holds the raw control byte {found.group()!r} at offset "
                f"{found.start()}, which would cut it short on the board"
            )
        self.refuse_from_callback()
        with self._lock:
            self._owner = threading.get_ident()
            self._generation += 1
            try:
                self._marked = marked
                self._small = len(code) <= RAW_PASTE_THRESHOLD
                self._feeder = feeder = feeder or _FEEDING.get()
                self.parser.grant_key = None if feeder is None else feeder.key
                self.parser.grants = 0
                return self._execute_locked(code, call_id, timeout, capture, paste)
            finally:
                self._owner = None
                self._feeder = None
                self.parser.grant_key = None
                if self._wake_pipe_orphaned:  # closed under this command (see close)
                    self._close_wake_pipe()

    def refuse_from_callback(self) -> None:
        """Raise if this thread reads the link now: it is in a callback of the board's output.

        The command's thread or the idle drainer holds the link's lock (not
        reentrant) there: a board call would wait for itself for good.
        """
        if self._owner == threading.get_ident():
            raise BelayError(
                "the board was called from its own output callback; a callback must not "
                "use the device (hand the work to another thread instead)"
            )

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
        self, code: bytes, call_id: int, timeout: float | None, capture: bool, paste: bool
    ) -> Response:
        if self._broken is not None:
            raise type(self._broken)(self._broken.args[0])
        if self._closing:
            raise DeviceNotOpen(f"{self.transport.description} is closed")
        if self.parser.board_reset is not None:
            raise self._reset_seen()
        paste = (self.raw_paste or (paste and not self.paste_refused)) and (
            len(code) > RAW_PASTE_THRESHOLD
        )
        if not paste and self.input_limit is not None and len(code) > self.input_limit:
            raise CommandError(
                f"this call is {len(code):,} bytes as board source, more than "
                f"{self.transport.description} can take in at once (about "
                f"{self.input_limit:,} bytes: it holds the whole command in RAM before "
                "compiling it); pass smaller arguments, or send the data in pieces"
            )
        if self._unsynced:
            self._resync()
            if self.parser.board_reset is not None:  # it rebooted while out of step
                raise self._reset_seen()
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        # From here until the whole response is read, the exchange is open: if it
        # ends any other way (a host Ctrl-C inside a write or a read, an error), the
        # board may still answer it, so the next command resynchronises first.
        self._unsynced = True
        self._paste_unacked = None  # one left by an earlier command is not this one's
        try:
            if paste:
                try:
                    self._send_raw_paste(code, call_id, capture)
                except ProtocolError as exc:
                    # The board is in an unknown state: nothing more can be trusted.
                    self._broken = DeviceDisconnected(f"{exc.args[0]}; the link was given up")
                    raise
            else:
                # The parser expects the reply before the command leaves: a Ctrl-C
                # that strikes once the write is done must not find it idle.
                self.parser.begin(call_id, capture=capture)
                self._write(code + b"\x04")
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
            self._follow_cut_paste()
            self._stop_after_host_interrupt(wait=self._feeder is not None)
            raise
        except DeviceDisconnected as exc:
            self._broken = exc
            self.parser.abandon()
            raise
        except BaseException:
            if self._feeder is not None and self._broken is None:
                # The feeder failed (a progress callback raised, say): the board still
                # waits for data, so it is stopped as after a Ctrl-C.
                self._stop_after_host_interrupt(wait=True)
            else:
                self.parser.abandon()
            raise
        # An upload interrupted mid-piece leaves the rest of it in the board's
        # input, where its REPL would read it as the next command: resync first.
        self._unsynced = self._feeder is not None and (timed_out or response.result_tag == "i")
        if timed_out:
            raise TaskTimeout(
                f"board code ran past its {timeout:g} s timeout and was interrupted",
                timeout=timeout,
            )
        return response

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
            if self._closing:  # by another thread, which waits for this call to let go
                raise DeviceDisconnected(
                    f"{self.transport.description} was closed by another thread during this call"
                )
            if parser.grants and self._feeder is not None:
                self._feed(self._feeder)  # grants may have come with the command's OK
                continue
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
            parser.sinks.release_if_stale()
            if self._interrupt_requested:
                self._interrupt_requested = False
                self._drain_available()  # the last look
                self._interrupt_if_running()
        return tries > 0

    def _feed(self, feeder: Feeder) -> None:
        """Send a piece per grant, reading what the board sends between slices."""
        while self.parser.grants:
            self.parser.grants -= 1
            piece = memoryview(feeder.next_piece())
            for start in range(0, len(piece), _FEED_SLICE):
                self._write(bytes(piece[start : start + _FEED_SLICE]))
                self._drain_available()

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

    # -- bytes ------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self.transport.write(data)
        self.bytes_sent += len(data)

    def _read(self, deadline: float) -> bytes:
        data = self.transport.read(deadline)
        self.bytes_received += len(data)
        return data


def _ignore_frame(tag: str, payload: bytes) -> None:
    log.debug("unhandled board frame %r: %r", tag, payload[:80])
