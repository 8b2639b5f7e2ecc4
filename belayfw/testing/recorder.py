"""What a board printed, kept so a failing test's report can show its last lines.

Each board a fixture opens gets a :class:`BoardOutput` as its output sink: the
text still goes to ``sys.stdout`` (so pytest captures it as usual; or to the
test's own ``output=``), and the recent lines are kept with a running number,
so the report of one test shows only what the board printed since it started.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable

#: How many lines of board output a failing test's report shows.
REPORT_LINES = 20
_KEPT_LINES = 200


class BoardOutput:
    """An output sink for one board: forwards to stdout, remembers the last lines."""

    def __init__(self, port: str, forward: Callable[[str], None] | None = None) -> None:
        self.port = port
        self._forward = forward or _to_stdout
        self._lines: deque[tuple[int, str]] = deque(maxlen=_KEPT_LINES)
        self._partial = ""
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        self._forward(text)
        with self._lock:
            pieces = (self._partial + text).split("\n")
            self._partial = pieces.pop()
            for line in pieces:
                self._lines.append((self._count, line.rstrip("\r")))
                self._count += 1

    def mark(self) -> int:
        """A position in the output: :meth:`lines_since` it gives what came after."""
        with self._lock:
            return self._count

    def lines_since(self, mark: int, limit: int = REPORT_LINES) -> list[str]:
        """The last ``limit`` lines printed since ``mark``, with any unfinished line."""
        with self._lock:
            lines = [line for number, line in self._lines if number >= mark]
            if self._partial:
                lines.append(self._partial)
        return lines[-limit:]


def _to_stdout(text: str) -> None:
    stream = sys.stdout  # looked up each time: pytest's capture replaces it per test
    stream.write(text)
    stream.flush()
