"""A transport that plays a script: for testing faults a real board cannot produce.

Like httpx's ``MockTransport``: give it the bytes the "board" sends, in chunks
and with optional failures, and it records what the host wrote. Use it to test
cut frames, garbage, or a port that vanishes mid-call::

    transport = ScriptedTransport([b"raw REPL; CTRL-B to exit\\r\\n>", Vanish()])
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from belayfw.errors import DeviceDisconnected


@dataclass(frozen=True)
class Vanish:
    """A script step: the link disappears (the next read raises DeviceDisconnected)."""

    reason: str = "port vanished"


@dataclass(frozen=True)
class AwaitWrite:
    """A script step: hold the rest until the host has written ``count`` times since
    the previous reply was served (i.e. until it has sent its next command)."""

    count: int = 1


Step = bytes | Vanish | AwaitWrite | Callable[[bytes], bytes]

#: The ping belayfw sends to enter raw REPL and resynchronise: frame token, call id.
_PING = re.compile(rb"print\(end='\\x02%08xr%d:None\\x03'%\((\d+),(\d+)\)\)\x04")
_BANNER = b"raw REPL; CTRL-B to exit\r\n>"


def answer_entry(written: bytes) -> bytes:
    """A script step: what a board in raw REPL answers to belayfw's entry ``written``.

    The banner for its Ctrl-A, then the frame its ping prints and the end of the
    command. Use it as the first step of a script: ``ScriptedTransport([answer_entry, ...])``.
    """
    found = _PING.search(written)
    if found is None:
        return _BANNER  # not an entry (an old script): the banner alone
    token, call_id = int(found[1]), int(found[2])
    return _BANNER + b"OK\x02%08xr%d:None\x03\x04\x04>" % (token, call_id)


class ScriptedTransport:
    """Serves scripted replies; ``writes`` holds everything the host sent."""

    interrupt_on_entry = False
    prefers_raw_paste = True
    lasting_identity = False  # nothing learnt about a scripted board is kept on disk
    wakeup = None  # an interrupt is recorded at once (see ``interrupts``)

    def __init__(self, script: Iterable[Step], *, description: str = "scripted") -> None:
        self.description = description
        self.writes: list[bytes] = []
        self.interrupts = 0
        self.closed = False
        self._script: deque[Step] = deque(script)
        self._writes_since_reply = 0

    def write(self, data: bytes) -> None:
        if self.closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        self.writes.append(bytes(data))
        self._writes_since_reply += 1

    def read(self, deadline: float) -> bytes:
        while self._script:
            step = self._script[0]
            if isinstance(step, AwaitWrite):
                if self._writes_since_reply < step.count:
                    break
                self._script.popleft()
                continue
            self._script.popleft()
            self._writes_since_reply = 0
            if isinstance(step, Vanish):
                self.closed = True
                raise DeviceDisconnected(f"{self.description}: {step.reason}")
            if callable(step):
                return step(self.writes[-1] if self.writes else b"")
            return step
        if self.closed:
            raise DeviceDisconnected(f"{self.description} is closed")
        # Nothing scripted now: behave like a silent board until the deadline.
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(min(remaining, 0.01))
        return b""

    def interrupt(self) -> None:
        self.interrupts += 1

    def fileno(self) -> int | None:
        return None

    def close(self) -> None:
        self.closed = True
