"""Serving a board on a pseudo-terminal: the board holds the master, clients open the slave.

A client opens :attr:`PtyExport.path` (``/dev/pts/N``) exactly as it would open
a USB board's ``/dev/ttyACM0``. The export keeps a slave descriptor of its own
open, so the path stays valid between clients; what the board prints while no
client reads is dropped once the terminal's buffer stays full for
:data:`_STALL_SECONDS`, as a UART drops it; a client that reads, only slower
than the board prints (ser2net relaying a bulk result), loses nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import termios
import threading
import time
import tty

from belayfw.export.board import ExportedBoard

_READ_SIZE = 65536
#: Output waits this long for a full terminal buffer to drain before it is dropped.
_STALL_SECONDS = 1.0


class PtyExport:
    """Relays bytes between a pty's master side and an :class:`ExportedBoard`."""

    def __init__(self, board: ExportedBoard) -> None:
        self.board = board
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave, termios.TCSANOW)  # no echo, no line editing, 8 bits clean
        os.set_blocking(self._master, False)
        #: The serial device path clients open.
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()

    def serve_forever(self) -> None:
        """Relay until :meth:`stop` is called (from another thread or a signal handler)."""
        board_fd = self.board.fileno()
        assert board_fd is not None, "an emulator board always has a descriptor"
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        poller.register(board_fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stop.is_set():
            # The board's output first: it may end the command a client's Ctrl-C is for.
            for fd, _ in sorted(poller.poll(), key=lambda event: event[0] != board_fd):
                if fd == self._master:
                    self._from_client()
                elif fd == board_fd:
                    self._to_client(self.board.read(time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def close(self) -> None:
        self.stop()
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.board.close()

    def __enter__(self) -> PtyExport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _from_client(self) -> None:
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return
        if data:
            self.board.write(data)

    def _to_client(self, data: bytes) -> None:
        view = memoryview(data)
        writable = select.poll()
        writable.register(self._master, select.POLLOUT)
        while view:
            try:
                view = view[os.write(self._master, view) :]
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise
                if not writable.poll(_STALL_SECONDS * 1000):
                    return  # nobody reads: dropped, as a UART with no host drops it
