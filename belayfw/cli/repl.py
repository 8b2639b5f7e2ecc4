"""``belayfw repl``: the board's own interactive REPL in this terminal.

Built on mpremote's console code (``mpremote.console.Console`` puts the
terminal in raw mode and reads keys, on POSIX and Windows). Every key goes to
the board as typed, Ctrl-C and Ctrl-D included, so they interrupt and
soft-reset as on the board's own UART; Ctrl-] leaves. A board thread reads the
board and writes to the terminal. The emulator's unix port exits where a board
soft-resets: the REPL restarts it and carries on, as a board would.
"""

from __future__ import annotations

import re
import select
import sys
import threading
import time

from mpremote.console import Console

from belayfw.cli.common import Port, UsageError, note, pick_port
from belayfw.errors import DeviceDisconnected
from belayfw.transports import open_transport
from belayfw.transports.base import Restartable, Transport

EXIT_KEY = b"\x1d"  # Ctrl-]
#: A board prints "\r\n"; the unix port prints "\n" (its terminal translates nothing),
#: which a raw-mode console shows as a staircase.
_LONE_NEWLINE = re.compile(rb"(?<!\r)\n")
_POLL_SECONDS = 0.1


def repl(*, port: Port = None) -> None:
    """Open an interactive REPL on the board: Ctrl-] exits, Ctrl-C interrupts, Ctrl-D resets."""
    if not sys.stdin.isatty():
        raise UsageError("repl needs a terminal; to run code from a pipe use `belayfw exec`")
    transport = open_transport(pick_port(port))
    try:
        note(f"connected to {transport.description}; Ctrl-] exits, Ctrl-C interrupts")
        Terminal(transport, Console()).run()
    finally:
        transport.close()


class Terminal:
    """Bytes between a raw-mode console and a board, until Ctrl-] or the board goes away."""

    def __init__(self, transport: Transport, console: Console) -> None:
        self.transport = transport
        self.console = console
        self._stop = threading.Event()
        self._write_lock = threading.Lock()  # a restart must not race a key press
        self._failure: DeviceDisconnected | None = None

    def run(self) -> None:
        if not isinstance(self.transport, Restartable):
            self.transport.write(b"\r\x02")  # leave raw REPL if a tool left the board in it
        reader = threading.Thread(target=self._show_board_output, name="belayfw-repl-reader")
        self.console.enter()
        try:
            reader.start()
            self._send_keys()
        finally:
            self._stop.set()
            if reader.is_alive():
                reader.join(timeout=5)
            self.console.exit()
        if self._failure is not None:
            raise self._failure

    def _send_keys(self) -> None:
        infd = getattr(self.console, "infd", None)  # None on Windows: readchar does not block
        while not self._stop.is_set():
            if infd is not None:
                ready, _, _ = select.select([infd], [], [], _POLL_SECONDS)
                if not ready:
                    continue
            key = self.console.readchar()
            if key is None:  # Windows: no key yet
                self._stop.wait(0.01)
                continue
            if key in (EXIT_KEY, b""):  # Ctrl-], or the terminal went away
                return
            with self._write_lock:
                self.transport.write(key)

    def _show_board_output(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.transport.read(time.monotonic() + _POLL_SECONDS)
            except DeviceDisconnected as gone:
                if self._stop.is_set():
                    return
                if not isinstance(self.transport, Restartable):
                    self._failure = gone
                    self._stop.set()
                    return
                with self._write_lock:
                    self.console.write(b"\r\nMPY: soft reboot\r\n")
                    self.transport.restart()
                continue
            if data:
                try:
                    self.console.write(_LONE_NEWLINE.sub(b"\r\n", data))
                except OSError:  # the terminal went away
                    self._stop.set()
                    return
