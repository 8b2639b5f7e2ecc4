"""An emulator board that behaves like a hardware board toward a serial client.

The client's bytes reach the board's own pseudo-terminal unchanged, so a
Ctrl-C is an ordinary key while the board waits for input, as on a board's
UART. While code runs, a Ctrl-C becomes SIGINT: the terminal does that itself
for code sent in raw REPL, exactly while the code runs. Code sent in raw-paste
mode runs with the terminal still raw, where the byte would be ignored, so
while such code runs this board sends the signal itself. "Runs" means the
client ended a command (Ctrl-D) and the board has not yet shown its raw-REPL
prompt (``\x04>``) since; that can be stale by a moment, and the unix port
exits on a signal that finds it idle, so only raw-paste code gets one. Where a
board soft-resets (Ctrl-D at an empty REPL line) the unix port exits: this
board restarts it on the same files, prints ``MPY: soft reboot`` and, if the
client was in raw REPL, brings the new process into raw REPL too, which is
what a board does and what mpremote waits for before every command. A new
process takes no client input until its REPL has shown its prompt: a Ctrl-C
in its first milliseconds, before the REPL took the terminal, would end it.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from belayfw.errors import DeviceDisconnected, ProtocolError
from belayfw.protocol import FRIENDLY_PROMPT, RAW_REPL_BANNER
from belayfw.transports.emulator import EmulatorTransport

log = logging.getLogger(__name__)

SOFT_REBOOT = b"MPY: soft reboot\r\n"
ENTER_RAW, EXIT_RAW = b"\x01", b"\x02"
RAW_PASTE_REQUEST = b"\x05A\x01"
CTRL_C, END_OF_COMMAND = b"\x03", b"\x04"
#: What the raw REPL prints when a command has finished and it waits for the next.
COMMAND_DONE = b"\x04>"
_REBOOT_SECONDS = 10.0
#: Ctrl-Cs this close to the last signal are one key press (mpremote and belayfw send
#: ``\r\x03\x03``): one signal stops the code, a second may find the board idle.
_SIGNAL_SPACING_SECONDS = 0.5


class ExportedBoard:
    """An emulator board served to one outside client at a time; it survives resets."""

    def __init__(
        self, profile: str = "unix", *, flash: str | os.PathLike[str] | None = None
    ) -> None:
        self.transport = EmulatorTransport(profile, flash=flash)
        self.description = self.transport.description
        try:
            # A board is ready before anyone plugs in; a Ctrl-C in the process's
            # first milliseconds (before its REPL took the terminal) would end it.
            self._read_until(FRIENDLY_PROMPT, time.monotonic() + _REBOOT_SECONDS)
        except BaseException:
            self.transport.close()
            raise
        self.reboots = 0
        self._raw_mode = False  # the client's last mode switch: Ctrl-A raw, Ctrl-B friendly
        self._running = False  # a command was sent and its prompt has not come back yet
        self._pasting = False  # ... in raw-paste mode (the client asked for it)
        # Asked for the command being sent now; it becomes _pasting at that command's end.
        # Kept apart because the last command's prompt can reach this board's reader
        # after the client's next request: it must not cancel that request.
        self._paste_requested = False
        self._input_tail = b""  # the last client bytes, for a request split across reads
        self._tail = b""  # the last byte of output, for a prompt split across reads
        self._signalled_at = -1e9  # when this board last sent running code a signal
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """True from the client's end of a command (Ctrl-D) until the raw-REPL prompt is back."""
        return self._running

    def write(self, data: bytes) -> None:
        """Bytes from the client to the board (lost, as on a board, while it reboots)."""
        with self._lock:
            self._track_mode(data)
            try:
                for piece in _split_keeping(data, CTRL_C):
                    if piece == CTRL_C and self._running:
                        self._interrupt()
                        continue
                    self._track_paste(piece)
                    if END_OF_COMMAND in piece:
                        self._running = True
                        self._signalled_at = -1e9  # a new command: a Ctrl-C may signal again
                        self._pasting, self._paste_requested = self._paste_requested, False
                    self.transport.write(piece)
            except DeviceDisconnected:
                log.debug("%s: input dropped while the board restarts", self.description)

    def _interrupt(self) -> None:
        """Interrupt running code, once per burst of Ctrl-Cs.

        Plain raw-REPL code runs with the terminal turning a Ctrl-C byte into SIGINT;
        raw-paste code runs with the terminal raw, so this board sends the signal
        itself (see the module docstring). Either way the unix port exits on a signal
        that finds it idle, and a client's ``\\r\\x03\\x03`` would deliver the second
        just as the first stopped the code (seen: the board rebooted and lost its RAM,
        1 full test run in 10). So Ctrl-Cs within ``_SIGNAL_SPACING_SECONDS`` of one
        that interrupted the same command are dropped. Code that catches
        KeyboardInterrupt gets a later press; the next command's Ctrl-C always goes.
        """
        now = time.monotonic()
        if now - self._signalled_at < _SIGNAL_SPACING_SECONDS:
            return
        self._signalled_at = now
        if self._pasting:
            self.transport.interrupt()
        else:
            self.transport.write(CTRL_C)

    def read(self, deadline: float) -> bytes:
        """Board output for the client; a board that ended is rebooted first."""
        try:
            data = self.transport.read(deadline)
        except DeviceDisconnected as ended:
            with self._lock:
                self._running = self._pasting = self._paste_requested = False
                return self._reboot(ended)
        if data:
            with self._lock:
                if COMMAND_DONE in self._tail + data:
                    self._running = self._pasting = False
                self._tail = data[-1:]
        return data

    def new_client(self) -> None:
        """Another client connected: what the last one asked for but never sent is forgotten.

        A raw-paste request whose command never ended belongs to the client that
        left (the new one's Ctrl-C cancels it on the board); kept, it would make
        the new client's next plain command count as raw-paste code.
        """
        with self._lock:
            self._paste_requested = False
            self._input_tail = b""

    def fileno(self) -> int | None:
        return self.transport.fileno()

    def close(self) -> None:
        self.transport.close()

    def _track_mode(self, data: bytes) -> None:
        raw_at, friendly_at = data.rfind(ENTER_RAW), data.rfind(EXIT_RAW)
        if raw_at != friendly_at:  # both -1 means no switch
            self._raw_mode = raw_at > friendly_at

    def _track_paste(self, piece: bytes) -> None:
        if piece == CTRL_C:
            return
        recent = self._input_tail + piece
        if RAW_PASTE_REQUEST in recent:
            self._paste_requested = True
        self._input_tail = recent[-(len(RAW_PASTE_REQUEST) - 1) :]

    def _reboot(self, ended: DeviceDisconnected) -> bytes:
        """Start the board again; return what a board prints when it soft-resets."""
        log.info("%s: %s; restarting it (a soft reset)", self.description, ended.args[0])
        self.transport.restart()
        self.reboots += 1
        # Under the lock: the client's input waits until the new process's REPL has
        # the terminal (a Ctrl-C before that would end it again).
        deadline = time.monotonic() + _REBOOT_SECONDS
        banner = self._read_until(FRIENDLY_PROMPT, deadline)
        if not self._raw_mode:
            return SOFT_REBOOT + banner
        self.transport.write(ENTER_RAW)
        self._read_until(RAW_REPL_BANNER, deadline)
        return SOFT_REBOOT + RAW_REPL_BANNER

    def _read_until(self, marker: bytes, deadline: float) -> bytes:
        seen = b""
        while marker not in seen:
            if time.monotonic() >= deadline:
                raise ProtocolError(f"{self.description} did not start; it sent {seen!r}")
            seen += self.transport.read(deadline)
        return seen


def _split_keeping(data: bytes, separator: bytes) -> list[bytes]:
    """``data`` cut around each ``separator``, which stays as an item of its own."""
    pieces: list[bytes] = []
    for index, chunk in enumerate(data.split(separator)):
        if index:
            pieces.append(separator)
        if chunk:
            pieces.append(chunk)
    return pieces
