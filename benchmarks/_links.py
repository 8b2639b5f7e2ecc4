"""A slow link for benchmarks: a relay pty that delays each direction, as USB does.

The board (an emulator on its own pty) is joined to a second pty pair by two
relay threads that hold every chunk for ``delay`` seconds before passing it on.
The host opens the relay's slave path (``/dev/pts/N``) as a serial port, the
way a USB board or QEMU looks. With ``rate`` (bytes per second) each direction
also moves no faster than that, as a UART does (115200 baud: 11520 bytes/s).
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable

from belayfw.transports.emulator import EmulatorTransport, _configure_board_tty

#: With a rate, bytes are delivered in steps this big.
_RATE_STEP = 64


class _Pipe:
    """One direction: chunks are stamped on arrival and delivered ``delay`` later.

    Delivery is pipelined like a real link's latency: a chunk that arrives while
    an earlier one is in flight is not held up by it.
    """

    def __init__(
        self,
        delay: float,
        read: Callable[[], bytes],
        write: Callable[[bytes], None],
        rate: float | None = None,
    ) -> None:
        self.delay = delay
        self.rate = rate
        self._free_at = 0.0  # when the line has sent everything queued (with a rate)
        self._read = read
        self._write = write
        self._queue: deque[tuple[float, bytes]] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._receive, daemon=True),
            threading.Thread(target=self._deliver, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._read()
            except OSError:
                return
            if not data:
                continue
            pieces = [data]
            if self.rate is not None:  # a UART sends a byte at a time: deliver in small steps
                pieces = [data[i : i + _RATE_STEP] for i in range(0, len(data), _RATE_STEP)]
            with self._ready:
                for piece in pieces:
                    due = time.perf_counter() + self.delay
                    if self.rate is not None:
                        self._free_at = max(self._free_at, time.perf_counter())
                        self._free_at += len(piece) / self.rate
                        due = self._free_at + self.delay
                    self._queue.append((due, piece))
                self._ready.notify()

    def _deliver(self) -> None:
        while not self._stop.is_set():
            with self._ready:
                while not self._queue and not self._stop.is_set():
                    self._ready.wait(0.1)
                if self._stop.is_set():
                    return
                due, data = self._queue.popleft()
            remaining = due - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
            try:
                self._write(data)
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        for thread in self.threads:
            thread.join(timeout=1)


class DelayedLink:
    """An emulator board reachable through ``port`` with ``delay`` seconds each way."""

    def __init__(
        self, delay: float = 0.0005, profile: str = "unix", rate: float | None = None
    ) -> None:
        self.delay = delay
        self.board = EmulatorTransport(profile)
        seen = b""
        deadline = time.monotonic() + 10
        while b">>> " not in seen:  # a real board is booted before the host connects
            seen += self.board.read(deadline)
            if time.monotonic() > deadline:
                raise TimeoutError("emulator did not start")
        self._master, slave = os.openpty()
        _configure_board_tty(slave)
        self.port = os.ttyname(slave)
        self._slave = slave  # kept open so the relay never sees a hang-up between opens
        self._pipes = [
            _Pipe(delay, self._read_host, self.board.write, rate),
            _Pipe(delay, lambda: self.board.read(time.monotonic() + 0.1), self._write_host, rate),
        ]

    def _read_host(self) -> bytes:
        ready, _, _ = select.select([self._master], [], [], 0.1)
        return os.read(self._master, 65536) if ready else b""

    def _write_host(self, data: bytes) -> None:
        os.write(self._master, data)

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.stop()
        self.board.close()
        os.close(self._master)
        os.close(self._slave)

    def __enter__(self) -> DelayedLink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
