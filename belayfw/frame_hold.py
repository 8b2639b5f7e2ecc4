"""Keeping a call's printed line whole while board threads print too.

MicroPython's ``print`` writes its parts one at a time, and a board thread's
framed line can arrive between two of them: ``teardown[chatter] tick\\n third``.
So while the line a call is printing is unfinished, board threads' frames wait
here, in order, and go out once the line ends, once the command ends (or is
given up), or once they have waited HOLD_SECONDS: a call that leaves a line open
longer than that does not hold the threads' output back for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Where board output goes: printed text, and board threads' frames (tag, payload).
OutputSink = Callable[[str], None]
FrameSink = Callable[[str, bytes], None]

#: The longest board-thread frames wait for a call's unfinished line.
HOLD_SECONDS = 0.5


class FrameHold:
    """Hands board output to the user's sinks; holds thread frames inside a call's line."""

    def __init__(self, on_output: OutputSink, on_frame: FrameSink) -> None:
        self.on_output = on_output
        self.on_frame = on_frame
        #: The last text a command printed did not end its line.
        self._line_open = False
        self._held: list[tuple[str, bytes]] = []
        self._held_since = 0.0
        #: Seconds, for HOLD_SECONDS (a test may set its own clock).
        self.clock: Callable[[], float] = time.monotonic

    def text(self, text: str, *, in_command: bool) -> None:
        """Pass on printed text; a command's text may open or end a line."""
        if not in_command:
            self.release()  # no command's line is open between commands (after two Ctrl-Cs)
        self._send_text(text)
        if in_command:
            self._line_open = not text.endswith("\n")
            if not self._line_open:
                self.release()

    def frame(self, tag: str, payload: bytes) -> None:
        """Pass on a board thread's frame, or hold it while a command's line is open."""
        if not self._line_open and not self._held:
            self._send_frame(tag, payload)
            return
        if not self._held:
            self._held_since = self.clock()
        self._held.append((tag, payload))
        self.release_if_stale()

    def release_if_stale(self) -> None:
        """Let held frames go once they have waited HOLD_SECONDS."""
        if self._held and self.clock() - self._held_since >= HOLD_SECONDS:
            # The line is broken now, and what follows starts a line: nothing to
            # hold until the command opens another.
            self.release()

    def release(self) -> None:
        """The command's line ended, or the command did: pass on every held frame."""
        self._line_open = False
        held = self._held
        while held:
            # One at a time: a Ctrl-C inside a sink leaves the rest held, not lost.
            tag, payload = held.pop(0)
            self._send_frame(tag, payload)

    def _send_text(self, text: str) -> None:
        try:
            self.on_output(text)
        except Exception:
            log.exception("belayfw: a board output callback failed; the output is dropped")

    def _send_frame(self, tag: str, payload: bytes) -> None:
        try:
            self.on_frame(tag, payload)
        except Exception:
            log.exception("belayfw: a board output callback failed; the output is dropped")
