"""Board output that is not a result: what board threads print, and how they fail.

The board sends these frames between results. :class:`BoardFrames` turns them
into host events: printed text goes to the device's output sink with each line
prefixed by the thread's name (``[blink] tick``), and a thread's unhandled
exception goes to whoever tracks threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from belayfw import codec
from belayfw.errors import ProtocolError
from belayfw.response import OutputSink

log = logging.getLogger(__name__)

#: Called with (thread id, exception type name, message, board traceback).
ThreadFailureSink = Callable[[int, str, str, str], None]


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
    """The link's frame sink: ``o`` is thread output, ``x`` a thread failure."""

    def __init__(self, output: OutputSink, on_thread_failure: ThreadFailureSink) -> None:
        self._output = output
        self._on_thread_failure = on_thread_failure
        self._prefixed = LinePrefixer()

    def __call__(self, tag: str, payload: bytes) -> None:
        if tag == "o":
            name, _, text = payload.decode("utf-8", "replace").partition("\x1f")
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
            self._on_thread_failure(thread_id, str(type_name), str(message), str(traceback))
        else:
            log.debug("unknown board frame %r", tag)
