"""The idle drainer: reading board output between commands.

Board threads print at any moment; if nobody reads, a board's output buffer
fills and its threads stall. A daemon thread therefore reads whenever the link
has been quiet for a moment, and hands what it reads to the parser, which
forwards it as output. Part of :class:`~belayfw.protocol.RawRepl` (a mixin).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import TYPE_CHECKING

from belayfw.errors import BoardReset, DeviceDisconnected
from belayfw.response import Phase, ResponseParser
from belayfw.transports.base import Transport

log = logging.getLogger(__name__)

#: The idle drainer starts reading once no command has run for this long.
DRAIN_QUIET_SECONDS = 0.02
#: ... and pauses this long between reads while board threads keep writing.
FLOWING_PAUSE_SECONDS = 0.001


class IdleDrainer:
    """Reads between commands; it never touches the link while a command runs."""

    parser: ResponseParser
    transport: Transport
    _lock: threading.Lock
    _owner: int | None  # the thread holding _lock (see RawRepl.refuse_from_callback)
    _stop: threading.Event
    _generation: int
    _broken: DeviceDisconnected | None
    _closing: bool
    _unsynced: bool  # an exchange was left open (see in_step.py)
    _wake_r: int
    _drainer: threading.Thread | None

    if TYPE_CHECKING:

        def _read(self, deadline: float) -> bytes: ...

    def start_drainer(self) -> None:
        """Start reading board output between commands."""
        if self._drainer is None:
            self._drainer = threading.Thread(
                target=self._drain, name=f"belayfw-drain[{self.transport.description}]", daemon=True
            )
            self._drainer.start()

    def _drain(self) -> None:
        """Read between commands, once the link has been quiet for a moment.

        While the host keeps calling, this thread stays asleep (it wakes once per
        quiet period to check), so it costs the hot path nothing; once no command
        has run for ``DRAIN_QUIET_SECONDS`` it waits on the descriptor and
        forwards whatever board threads print or emit, reading on without a
        pause while they keep writing.
        """
        fd = self.transport.fileno()
        poller = None
        if fd is not None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
        generation = self._generation
        flowing = False  # the last read brought data, and no command has run since
        try:
            while True:
                if flowing and self._generation == generation:
                    # Board threads are writing (events, output): read on almost at
                    # once, or a thread that writes fast stalls on a full link. The
                    # short pause lets a command that waits for the link take it.
                    if self._stop.wait(FLOWING_PAUSE_SECONDS):
                        return
                    if self._generation != generation:
                        continue
                else:
                    generation = self._generation
                    if self._stop.wait(DRAIN_QUIET_SECONDS):
                        return
                    if self._generation != generation:
                        continue  # busy: stay out of the way
                flowing = False
                if poller is not None:
                    events = poller.poll()
                    if self._stop.is_set() or any(ready == self._wake_r for ready, _ in events):
                        return
                if not self._lock.acquire(blocking=False):
                    continue
                # Output callbacks run in this thread now: one that calls the board
                # must be refused, not wait for this lock for good.
                self._owner = threading.get_ident()
                try:
                    if isinstance(self._broken, BoardReset) and not self._closing:
                        continue  # the next call starts the board again (link.py)
                    if self._broken is not None or self._closing:
                        return
                    if self._unsynced and self.parser.phase is not Phase.SYNC:
                        # An exchange left open that nobody reads any more (a Ctrl-C
                        # struck where it could not be closed): what comes of it is
                        # dropped, not printed; the next command resyncs.
                        self.parser.abandon()
                    # With a descriptor the data is there now; without one, wait briefly.
                    until = time.monotonic() + (0.0 if fd is not None else DRAIN_QUIET_SECONDS)
                    try:
                        data = self._read(until)
                    except BoardReset as reset:
                        self._broken = reset
                        log.info("%s", reset)
                        continue
                    if data:
                        self.parser.feed(data)
                        flowing = True
                finally:
                    self._owner = None
                    self._lock.release()
        except DeviceDisconnected as exc:
            self._broken = exc
            log.warning("%s", exc)
        except (OSError, ValueError) as exc:  # the descriptor went away under us
            if not self._closing:
                self._broken = DeviceDisconnected(f"{self.transport.description}: {exc}")
                log.warning("%s", self._broken)
