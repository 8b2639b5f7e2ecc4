"""Board output that is not a result: what board threads print, emit, return, raise.

The board sends these frames between results. :class:`BoardFrames` turns them
into host events: printed text goes to the device's output sink with each line
prefixed by the thread's name (``[blink] tick``); a thread's emitted values,
return value and unhandled exception go to whoever tracks threads.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

from belayfw import codec
from belayfw.errors import BelayError, ProtocolError
from belayfw.response import OutputSink

log = logging.getLogger(__name__)


class ThreadReports(Protocol):
    """Who tracks board threads: told of their failures, events and return values."""

    def thread_failed(self, thread_id: int, type_name: str, message: str, traceback: str) -> None:
        """A thread raised (exception type name, message, board traceback)."""

    def thread_emitted(self, thread_id: int, value: Any) -> None:
        """A thread called ``emit(value)``."""

    def thread_returned(self, thread_id: int, value: Any) -> None:
        """A thread's function returned ``value``."""


class LinePrefixer:
    """Prefixes each line a board thread prints with its name, across partial writes."""

    def __init__(self) -> None:
        self._line_start: dict[str, bool] = {}

    def __call__(self, name: str, text: str) -> str:
        prefix = f"[{name}] "
        at_start = self._line_start.get(name, True)
        lines = text.split("\n")
        pieces = []
        for index, line in enumerate(lines):
            last = index == len(lines) - 1
            if line or not last:
                head = prefix if (at_start or index) else ""
                pieces.append(head + line + ("" if last else "\n"))
        self._line_start[name] = text.endswith("\n")
        return "".join(pieces)


class BoardFrames:
    """The link's frame sink: thread output (o), failures (x), events (v), returns (f)."""

    def __init__(self, output: OutputSink, threads: ThreadReports) -> None:
        self._output = output
        self._threads = threads
        self._prefixed = LinePrefixer()

    def __call__(self, tag: str, payload: bytes) -> None:
        if tag == "o":
            name, _, text = _unescape(payload).decode("utf-8", "replace").partition("\x1f")
            self._output(self._prefixed(name, text))
        elif tag == "x":
            try:
                thread_id, type_name, message, traceback = codec.decode_fields(
                    payload.decode("utf-8", "replace"), ("thread", "type", "message", "traceback")
                )
                if type(thread_id) is not int:
                    raise ProtocolError(f"thread id {thread_id!r} is not an int")
            except ProtocolError as exc:
                log.warning("belayfw: ignoring a malformed thread failure report: %s", exc)
                return
            self._threads.thread_failed(thread_id, str(type_name), str(message), str(traceback))
        elif tag == "v" or tag == "f":
            self._thread_value(tag, payload)
        else:
            log.debug("unknown board frame %r", tag)

    def _thread_value(self, tag: str, payload: bytes) -> None:
        """``(thread id, value)``: an emitted value (``v``) or a return value (``f``)."""
        head, _, rest = payload.partition(b", ")
        try:
            thread_id = int(head[1:])
        except ValueError:
            log.warning("belayfw: ignoring a malformed thread report %r", payload[:80])
            return
        try:
            value: Any = codec.decode_repr(rest[:-1].decode("utf-8", "replace"))
        except BelayError as exc:
            if tag == "f":  # result() raises this rather than invent a value
                message = f"the thread's function returned a value the host cannot decode: {exc}"
                self._threads.thread_failed(thread_id, "SerializationError", message, "")
                return
            log.warning(
                "belayfw: board thread #%d emitted a value that is not a literal: %s",
                thread_id,
                exc,
            )
            return
        if tag == "v":
            self._threads.thread_emitted(thread_id, value)
        else:
            self._threads.thread_returned(thread_id, value)


#: How a board thread's printed text carries the bytes that delimit frames (threads.py).
_ESCAPED = re.compile(rb"\x10(.)", re.DOTALL)


def _unescape(payload: bytes) -> bytes:
    """Undo the board's escaping of \\x01-\\x04 and \\x10 (as \\x10 + byte + 64)."""
    if b"\x10" not in payload:
        return payload
    return _ESCAPED.sub(lambda found: bytes([found[1][0] - 64]), payload)
