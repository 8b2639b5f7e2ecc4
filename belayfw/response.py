"""Reading the board's byte stream: raw-REPL sections, result frames, plain output.

A raw-REPL response is ``OK`` + stdout + ``\\x04`` + stderr + ``\\x04`` and, some
time later, the ``>`` prompt. Board threads print at any moment, so their bytes
land anywhere: before ``OK``, inside either section, after the prompt, or between
two commands. The parser therefore:

* finds each protocol marker wherever it is and treats every other byte as
  output, forwarded in stream order so a thread's line arrives whole;
* takes results only from frames (``\\x02`` + token + tag + payload + ``\\x03``),
  which the board writes in one call each, so no print can be mistaken for a
  result; a call's frames begin their payload with its id (``<id>:``), and a
  frame naming another call (left over from an abandoned one) is dropped;
* after an abandoned exchange, drops everything until the frame of a
  resynchronisation ping (:meth:`ResponseParser.begin_sync`), so no stale byte
  of it reaches a later call or the user's output;
* expects a command's reply from before its first byte is sent, and once the
  host gives up on a command (:meth:`ResponseParser.cut`: a Ctrl-C may have
  lost bytes it had read) forwards no plain text of it, only frames: a protocol
  byte is never taken for board output, whatever the moment of the interrupt;
* counts a response complete at the second ``\\x04`` and swallows the prompt
  whenever it turns up, possibly during the next command.
"""

from __future__ import annotations

import codecs
import enum
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from belayfw.frame_hold import FrameHold, FrameSink, OutputSink

log = logging.getLogger(__name__)

__all__ = ["FrameSink", "OutputSink", "Phase", "Response", "ResponseParser"]

RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"

FRAME_START = b"\x02"
FRAME_END = b"\x03"
#: Frame tags that end a call (the rest are events such as thread output).
RESULT_TAGS = frozenset("rbei")
#: Frame tags that carry a value; ``+`` frames before one are the start of its payload.
_VALUE_TAGS = frozenset("rb")
CONTINUATION_TAG = "+"
STARTED_TAG = "s"
#: A board call reading data from its stdin asks for the next piece (payload: its key).
GRANT_TAG = "g"
#: Frames that belong to the command in progress (the rest are board-thread events).
_CALL_TAGS = RESULT_TAGS | {CONTINUATION_TAG, STARTED_TAG}


class Phase(enum.Enum):
    IDLE = "idle"  # between commands: everything is output
    SYNC = "sync"  # after an abandoned exchange: everything is dropped until the ping's frame
    AWAIT_OK = "await-ok"  # command sent in plain raw mode; the board's "OK" is next
    STDOUT = "stdout"
    STDERR = "stderr"
    ENDING = "ending"  # both \x04 came without a result: the end, if the prompt follows
    PROMPTED = "prompted"  # ... and the prompt came: the end, if nothing else follows
    DONE = "done"


@dataclass
class Response:
    """What one command produced."""

    result_tag: str | None = None
    result: bytes = b""
    started: bool = False  # the board reported the command's code running
    output: str = ""  # the command's own printed text, when captured
    stderr: str = ""
    #: What the board sent that no command of belayfw's produces (for error messages).
    oddities: list[str] = field(default_factory=list)


@dataclass
class _Capture:
    output: list[str] = field(default_factory=list)
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )


class ResponseParser:
    """Incremental parser shared by every command on one link (it keeps the prompt state)."""

    def __init__(self, token: bytes, on_output: OutputSink, on_frame: FrameSink) -> None:
        self.token = token
        #: Delivers output and threads' frames; keeps a command's printed line whole.
        self.sinks = FrameHold(on_output, on_frame)
        self.phase = Phase.IDLE
        self.prompt_pending = False
        self._buffer = bytearray()
        self._continuation = bytearray()
        self._out_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._response = Response()
        self._capture: _Capture | None = None
        self._stderr = bytearray()
        self._deliveries: list[tuple[str, Any]] = []
        #: The prefix (``b"<id>:"``) of the frames that answer the command in progress.
        self._call_id = _NO_CALL
        #: Bytes dropped while resynchronising (stale replies of abandoned exchanges).
        self.discarded = 0
        #: Set once the board is seen booting (banner and prompt): its RAM is gone.
        self.board_reset: str | None = None
        self._recent = bytearray()  # the last output bytes, to spot a boot banner
        self._recent_dropped = bytearray()  # the same for bytes dropped out of step
        #: A command's reply was read whole: from now on a resync follows an abandoned
        #: exchange of this link (not the entry, which may meet an older reboot's text).
        self._was_in_step = False
        self._unacknowledged = 0  # output bytes read while awaiting the command's OK
        self._held: list[bytes] = []  # ... beyond what is forwarded at once
        #: The start of what came while awaiting the command's OK (all of it, forwarded
        #: or held): what the board sent instead, when the OK never comes.
        self.garbage_preview = b""
        #: When the current command's OK arrived (monotonic seconds), once it has.
        self.ok_at: float | None = None
        #: Grant frames carrying this key are counted in ``grants`` (see RawRepl.execute).
        self.grant_key: bytes | None = None
        self.grants = 0
        #: The host gave up on the command in progress: its plain text is dropped (see cut).
        self._muted = False
        #: A parse is under way; still set when the next begins, that one was cut short.
        self._parsing = False
        #: How far into the buffer the parse in progress got (see feed).
        self._parsed_to = 0

    # -- command boundaries ------------------------------------------------------------

    def begin(self, call_id: int, *, capture: bool, raw_paste: bool = False) -> None:
        """Start reading the response to command ``call_id``, about to be sent.

        Called before the command's first byte is written: a host Ctrl-C that
        lands once the write is done (the command is on its way) must find the
        parser expecting the reply, or the reply would be read as output.
        """
        self._muted = False
        self._call_id = b"%d:" % call_id
        self._response = Response()
        self._unacknowledged = 0
        self.garbage_preview = b""
        self._capture = _Capture() if capture else None
        self._stderr = bytearray()
        self._continuation.clear()
        self.phase = Phase.STDOUT if raw_paste else Phase.AWAIT_OK
        self.ok_at = time.monotonic() if raw_paste else None

    def abandon(self) -> None:
        """The exchange in progress will not be completed: drop whatever comes of it."""
        self.phase = Phase.SYNC  # first: a Ctrl-C inside this must not leave a reading phase
        self._recent_dropped.clear()
        self._call_id = _NO_CALL
        self._continuation.clear()
        self._held.clear()
        self._capture = None
        self.ok_at = None
        self.prompt_pending = False
        self.phase = Phase.SYNC
        self.sinks.release()  # the command's line will never end

    def cut(self) -> None:
        """The host gave up on the command in progress (a Ctrl-C): follow it, print none of it.

        Its markers and frames are still read, so the link can tell whether the
        board code started or ended (and interrupt it only while it runs); but
        the interrupt may have struck between a read and this parser, losing
        bytes, and a reply read from the wrong place would look like output. So
        no plain text of the command is forwarded any more; board threads'
        frames still are. A command not yet expected (nothing of it was sent,
        or its raw-paste handshake was under way) is abandoned at once.
        """
        self._muted = True
        self._out_decoder.reset()  # a character half read belongs to the dropped text
        self.sinks.release()  # none of the command's text, so its line never ends
        if self.phase is Phase.IDLE:
            self.abandon()
        if self._parsing:  # the Ctrl-C struck inside feed(): read what it had not consumed
            self.feed(b"")

    def begin_sync(self, call_id: int) -> None:
        """Drop everything until the frame of ping ``call_id``, then read the ping's end."""
        self.abandon()
        self._muted = False  # after the ping's frame, the stream is in step again
        self._response = Response()
        self._stderr = bytearray()
        self._call_id = b"%d:" % call_id

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def interruptible(self) -> bool:
        """True while the command's code runs on the board (started, no result yet).

        Only then is an interrupt safe: before, the board may still be compiling;
        after, it is finishing, and the unix port exits on an interrupt then.
        """
        return self._response.started and self.awaiting_result

    @property
    def awaiting_result(self) -> bool:
        """The board accepted the command (OK) and has not begun sending its result.

        Once the first piece of a result arrives the code has finished: it is
        only writing. An interrupt then would cut the write (on the unix port
        that can leave the heap locked) for no gain, so the result is awaited.
        """
        return (
            self.ok_at is not None
            and self._response.result_tag is None
            and not self._continuation
            and self.phase is not Phase.DONE
            and self.phase is not Phase.ENDING  # the board is at its prompt, most likely
            and self.phase is not Phase.PROMPTED
        )

    def conclude(self) -> None:
        """Nothing followed the prompt: the command really ended without a result."""
        if self.phase is Phase.PROMPTED:
            self.phase = Phase.DONE

    def _printed_end(self) -> bytes:
        return b"\x04>" if self.phase is Phase.PROMPTED else b"\x04"

    def finish(self) -> Response:
        """Return the completed response and go back to idle."""
        response = self._response
        capture = self._capture
        if capture is not None:
            tail = capture.decoder.decode(b"", final=True)
            response.output = "".join(capture.output) + tail
        response.stderr = self._stderr.decode("utf-8", "replace")
        self._capture = None
        self._response = Response()
        self._continuation.clear()
        self._call_id = _NO_CALL
        self.ok_at = None  # no command in flight: none to take as running
        self._was_in_step = True
        self._muted = False
        self.phase = Phase.IDLE
        self.sinks.release()  # threads' frames held inside the command's last line
        return response

    # -- bytes in ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Consume bytes from the board (any split, any interleaving).

        Output and thread frames are handed to the callbacks only after the
        parser's own state is consistent, so a callback that raises loses
        nothing and cannot make the same bytes be parsed twice.

        A parse cut short (a host Ctrl-C inside it) leaves its bytes half
        consumed: the next feed drops the part it had consumed and follows the
        command as cut, so none of them is delivered twice or read in the wrong
        phase, and what came after (the call's end, a thread's frame) still counts.
        """
        if self._parsing:
            # Drop what it had consumed and read the rest as cut: the call's end
            # markers and threads' frames in the same read still count.
            del self._buffer[: self._parsed_to]
            self._parsed_to = 0
            self._parsing = False
            self.cut()
        if self.phase is Phase.AWAIT_OK and not self._buffer and self._took_whole(data):
            return
        self._parsing = True
        try:
            self._parse(data)
            self._parsing = False
        finally:
            self._deliver()

    def _took_whole(self, data: bytes) -> bool:
        """The fast path: a response that arrived whole in one read, and nothing else.

        ``OK`` + one result frame of this call + ``\\x04\\x04>``: the common case
        of a call that printed nothing. Anything else (output, a thread's frame,
        a started frame, a split) takes the general path.
        """
        token = self.token
        body = 2 + len(token) + 1
        if (
            data[-4:] != _WHOLE_END
            or data[:2] != b"OK"
            or data[2 : body - 1] != token
            or data[body - 1 : body] not in _RESULT_TAG_BYTES
        ):
            return False
        call_id = self._call_id
        if data[body : body + len(call_id)] != call_id:
            return False
        payload = data[body + len(call_id) : -4]
        if b"\x02" in payload or b"\x03" in payload or b"\x04" in payload:
            return False
        response = self._response
        response.result_tag = chr(data[body - 1])
        response.result = payload
        self.ok_at = time.monotonic()
        self.phase = Phase.DONE
        self.prompt_pending = False  # the prompt came with it
        return True

    def _parse(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        token = self.token
        while True:
            self._parsed_to = start
            if (self.phase is Phase.ENDING or self.phase is Phase.PROMPTED) and start < len(buffer):
                if self.phase is Phase.ENDING and buffer[start] == _PROMPT:
                    # The board's prompt, it seems: the command ended with no result,
                    # unless more output follows (see RawRepl's END_QUIET_SECONDS).
                    self.phase = Phase.PROMPTED
                    start += 1
                    continue
                if not token.startswith(buffer[start : start + len(token)]):
                    # More output: both \x04 (and the ">") were printed by board code.
                    self._reclassify_stderr(b"\x04", self._printed_end())
            position, marker = self._next_marker(start)
            if position < 0:
                keep = self._partial_marker_tail(start)
                self._emit(buffer, start, len(buffer) - keep)
                start = len(buffer) - keep
                break
            self._emit(buffer, start, position)
            if marker == FRAME_START:
                body = position + len(token)
                end = buffer.find(FRAME_END, body)
                cut = _first_control(buffer, body, end)
                if cut >= 0:
                    # A frame cut short (an interrupt stopped the board's write): drop it.
                    self._continuation.clear()
                    start = cut
                    continue
                if end < 0:
                    start = position  # frame still arriving
                    break
                tag = chr(buffer[body])
                start = self._parsed_to = end + 1  # before: a frame is handled at most once
                self._frame(tag, bytes(buffer[body + 1 : end]))
            elif marker == b">":
                self.prompt_pending = False
                start = position + 1
            elif marker == b"OK":
                self.phase = Phase.STDOUT
                self.ok_at = time.monotonic()
                if self._held:
                    self._release_held()
                start = position + 2
            else:  # b"\x04"
                if self.phase is Phase.STDOUT:
                    self.phase = Phase.STDERR
                elif self._response.result_tag is not None or _looks_like_traceback(self._stderr):
                    self.phase = Phase.DONE
                    self.prompt_pending = True
                    self._settle_stderr()
                else:
                    # No result and no traceback: the end if the prompt comes next,
                    # else both \x04 were printed by board code (see the loop's top).
                    self.phase = Phase.ENDING
                start = position + 1
        self._parsed_to = 0
        del buffer[:start]

    def _deliver(self) -> None:
        deliveries, self._deliveries = self._deliveries, []
        sinks = self.sinks
        for kind, item in deliveries:
            if kind == "frame":
                sinks.frame(*item)
            else:
                sinks.text(item, in_command=kind == "text")

    def _next_marker(self, start: int) -> tuple[int, bytes]:
        buffer = self._buffer
        best, best_marker = buffer.find(self.token, start), FRAME_START
        for marker in _PHASE_MARKERS[self.phase, self.prompt_pending]:
            # Only look before the best match found so far.
            found = buffer.find(marker, start, best if best >= 0 else len(buffer))
            if found >= 0:
                best, best_marker = found, marker
        return best, best_marker

    def _partial_marker_tail(self, start: int) -> int:
        """How many trailing bytes could be the start of a marker split across reads."""
        buffer = self._buffer
        markers = [self.token]
        if self.phase is Phase.AWAIT_OK:
            markers.append(b"OK")
        longest = 0
        for marker in markers:
            for size in range(min(len(marker) - 1, len(buffer) - start), longest, -1):
                if buffer.endswith(marker[:size]):
                    longest = size
                    break
        return longest

    def _emit(self, buffer: bytes | bytearray, start: int, end: int) -> None:
        if end <= start:
            return
        chunk = bytes(buffer[start:end])
        capture = self._capture
        phase = self.phase
        if phase is Phase.SYNC:
            self.discarded += len(chunk)
            if self._was_in_step:
                self._watch_for_reboot_out_of_step(chunk)
            return
        self._watch_for_boot(chunk)
        if phase is Phase.AWAIT_OK:
            self._unacknowledged += len(chunk)
            if len(self.garbage_preview) < _GARBAGE_PREVIEW_BYTES:
                self.garbage_preview += chunk[: _GARBAGE_PREVIEW_BYTES - len(self.garbage_preview)]
            if self._unacknowledged > FORWARD_BEFORE_OK:
                self._hold(chunk)  # maybe not output at all: no bulk garbage on stdout
                return
        if phase is Phase.STDERR:
            self._stderr.extend(chunk)
        elif phase is Phase.STDOUT and capture is not None:
            capture.output.append(capture.decoder.decode(chunk))
        else:
            self._forward(self._out_decoder.decode(chunk))

    def _watch_for_boot(self, chunk: bytes) -> None:
        """Notice a board that rebooted: its boot banner, then a REPL prompt.

        Both end in ``>``, so only output with one is searched; the boot text
        before it may have come in earlier reads, hence the recent bytes.
        """
        recent = self._recent
        recent += chunk
        if b">" in chunk:
            if b"raw REPL; CTRL-B to exit\r\n>" in recent:
                self.board_reset = "it printed the raw-REPL banner again (a soft reset)"
            elif recent.endswith(b">>> ") and (
                b"MicroPython v" in recent or b"soft reboot" in recent
            ):
                self.board_reset = "it printed its boot banner and the >>> prompt"
            if self.board_reset is not None:
                recent.clear()
                if self.phase is not Phase.IDLE:
                    self.phase = Phase.DONE
        if len(recent) > 2 * _RECENT_BYTES:
            del recent[:-_RECENT_BYTES]

    def _watch_for_reboot_out_of_step(self, chunk: bytes) -> None:
        """Notice a reboot in bytes dropped after an abandoned exchange.

        The board's state is gone then, and the resync alone would not tell: its
        ping runs on the new board too. A resync's own Ctrl-A prints the raw-REPL
        banner, so only a reboot's own words count here: ``soft reboot`` before
        that banner, or a boot banner before the friendly ``>>>`` prompt.
        """
        recent = self._recent_dropped
        recent += chunk
        if b">" in chunk:
            rebooted = recent.find(b"soft reboot")
            if (rebooted >= 0 and recent.find(RAW_REPL_BANNER, rebooted) >= 0) or (
                recent.endswith(b">>> ") and (rebooted >= 0 or b"MicroPython v" in recent)
            ):
                self.board_reset = "it rebooted while the link was out of step"
                recent.clear()
        if len(recent) > 2 * _RECENT_BYTES:
            del recent[:-_RECENT_BYTES]

    def _hold(self, chunk: bytes) -> None:
        if sum(map(len, self._held)) < HOLD_BEFORE_OK:
            self._held.append(chunk)

    def _release_held(self) -> None:
        """The OK came after all: what was held was board output; forward it."""
        text = self._out_decoder.decode(b"".join(self._held))
        self._held.clear()
        self.garbage_preview = b""
        self._forward(text)

    @property
    def unacknowledged(self) -> int:
        """Bytes read since the command was sent, none of them its OK."""
        return self._unacknowledged if self.phase is Phase.AWAIT_OK else 0

    def _settle_stderr(self) -> None:
        """Forward the stderr section as output when a frame carried the result.

        belayfw's board wrapper catches every exception into a frame, so a framed
        command leaves nothing of its own on stderr: whatever is there was printed
        by a board thread and belongs to the output stream, at this very point.
        """
        if self._response.result_tag is not None and self._stderr:
            text = self._out_decoder.decode(bytes(self._stderr))
            self._stderr.clear()
            self._forward(text)

    def _forward(self, text: str) -> None:
        """Queue board output for the user's sink, unless the host gave up on the command."""
        if not text:
            return
        if self._muted:
            self.discarded += len(text)
            return
        self._deliveries.append(("text" if self.phase is not Phase.IDLE else "idle", text))

    def _reclassify_stderr(self, before: bytes, after: bytes) -> None:
        """Treat the current 'stderr section' as stdout text after all."""
        text = before + bytes(self._stderr) + after
        self._stderr.clear()
        self.phase = Phase.STDOUT
        self._emit(text, 0, len(text))

    def _frame(self, tag: str, payload: bytes) -> None:
        if tag == GRANT_TAG:
            if self.grant_key is not None and payload == self.grant_key:
                self.grants += 1
            return  # a stale one (an abandoned transfer's) asks for nothing
        if tag in _CALL_TAGS:
            call_id = self._call_id
            if not payload.startswith(call_id):
                # Another call's frame (an abandoned one, or a foreign host's): not ours.
                self.discarded += len(payload)
                log.debug("dropped a frame %r of another call: %r", tag, payload[:40])
                return
            payload = payload[len(call_id) :]
            phase = self.phase
            if phase is Phase.SYNC:
                phase = self.phase = Phase.STDOUT  # the ping answered: the link is in step
            elif phase is Phase.IDLE or phase is Phase.AWAIT_OK or phase is Phase.DONE:
                return  # ours cannot come before OK or after the end: a forgery; drop it
            if tag == STARTED_TAG:
                self._response.started = True
                return
            if tag == CONTINUATION_TAG:
                self._continuation += payload
                return
            if self.phase is Phase.STDERR:
                # The board writes results inside stdout: the \x04 before was printed.
                self._reclassify_stderr(b"\x04", b"")
            elif self.phase is Phase.ENDING or self.phase is Phase.PROMPTED:
                self._reclassify_stderr(b"\x04", self._printed_end())
            if self._continuation:
                # A result written in pieces; an error or interrupt ends it unfinished.
                if tag in _VALUE_TAGS:
                    payload = bytes(self._continuation) + payload
                self._continuation.clear()
            self._response.result_tag = tag
            self._response.result = payload
            return
        if payload.startswith(self._call_id):
            # Shaped like this call's frame, with a tag no belayfw runtime writes.
            self._response.oddities.append(f"a frame with the unknown tag {tag!r}")
            return
        self._deliveries.append(("frame", (tag, payload)))


#: The protocol markers to look for, by (phase, prompt still pending).
_PHASE_MARKERS: dict[tuple[Phase, bool], tuple[bytes, ...]] = {
    (phase, pending): (
        ((b"OK",) if phase is Phase.AWAIT_OK else ())
        + ((b"\x04",) if phase in (Phase.STDOUT, Phase.STDERR) else ())
        + ((b">",) if pending else ())
    )
    for phase in Phase
    for pending in (False, True)
}


_PROMPT = ord(">")
#: How a whole response ends: the result frame's end, both \x04 and the prompt.
_WHOLE_END = FRAME_END + b"\x04\x04>"
_RESULT_TAG_BYTES = tuple(tag.encode() for tag in sorted(RESULT_TAGS))
#: Output read before a command's OK that is forwarded at once; past this it is
#: held until the OK comes (a board that never sends one sent garbage, not output).
FORWARD_BEFORE_OK = 4096
HOLD_BEFORE_OK = 1 << 20
#: How much of what came instead of an OK an error message shows.
_GARBAGE_PREVIEW_BYTES = 80
#: How much recent output is kept to recognise a boot banner.
_RECENT_BYTES = 512

#: The frame prefix while no call is in progress: matches no frame (ids are digits).
_NO_CALL = b"-"


def _first_control(buffer: bytearray, start: int, end: int) -> int:
    """The first frame start or \\x04 in ``buffer[start:end]`` (``end`` -1: to the end)."""
    stop = len(buffer) if end < 0 else end
    found = [
        i
        for i in (buffer.find(FRAME_START, start, stop), buffer.find(b"\x04", start, stop))
        if i >= 0
    ]
    return min(found) if found else -1


def _looks_like_traceback(stderr: bytearray) -> bool:
    """True when an unframed stderr section is the board reporting an error."""
    return b"Traceback (most recent call last)" in stderr or b"Error" in stderr


def preview(data: bytes | bytearray, limit: int = 120) -> str:
    """The last ``limit`` bytes of ``data``, for an error message."""
    data = bytes(data)
    return repr(data if len(data) <= limit else data[-limit:])
