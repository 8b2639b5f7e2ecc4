"""Which board a test process may use: one lock file per port, shared by every process.

pytest-xdist runs tests in several worker processes. Two workers talking to one
board would read each other's results, so a worker *claims* a port before it
opens it: a lock file (:mod:`filelock`) in the same temp folder as the
transports' port locks, under a different name (the transport takes its own
lock when the port opens, in the same process). A worker keeps preferring the
port it used last, so each worker settles on its own board; when every port is
taken it waits for its preferred one up to a deadline, then fails saying so.

An emulator port that starts a new board (``emulator``, ``emulator:pico``) is
never shared: each opener gets its own process, so such ports need no claim.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import filelock

from belayfw.errors import PortInUse
from belayfw.transports.port_lock import lock_folder


def is_private_board(port: str) -> bool:
    """True for ports that start a new emulator board for each opener."""
    return (port == "emulator" or port.startswith("emulator:")) and "#" not in port


def claim_path(port: str) -> Path:
    """The lock file that says a test process is using ``port``."""
    readable = re.sub(r"[^A-Za-z0-9]+", "_", port).strip("_")[:60]
    digest = hashlib.sha256(port.encode("utf-8")).hexdigest()[:12]
    folder = lock_folder() / "pytest"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{readable}-{digest}.lock"


class PortClaims:
    """This process's claims on the configured ports; re-entrant per port.

    ``worker_index`` (the xdist worker number, 0 without xdist) picks the
    first port tried, so N workers on N ports start on N different boards.
    ``wait`` is how long to wait for a taken port, in seconds (0 fails at once).
    """

    def __init__(self, ports: Sequence[str], *, worker_index: int = 0, wait: float = 300.0):
        if not ports:
            raise ValueError("at least one port is needed")
        self.ports = list(ports)
        self.wait = wait
        self._preferred = self.ports[worker_index % len(self.ports)]
        self._locks: dict[str, filelock.FileLock] = {}
        self._depth: dict[str, int] = {}
        self._guard = threading.Lock()

    @property
    def preferred(self) -> str:
        """The port this process tries first: the one it used last."""
        return self._preferred

    @contextmanager
    def claim(self, port: str | None = None) -> Iterator[str]:
        """Hold a port for the block: ``port``, or any configured one (the preferred first)."""
        taken = self.acquire(port)
        try:
            yield taken
        finally:
            self.release(taken)

    def acquire(self, port: str | None = None) -> str:
        """Claim ``port`` (or a free configured port) and return it; see :meth:`claim`."""
        if port is not None:
            self._take(port, self.wait)
            return port
        candidates = [self._preferred] + [p for p in self.ports if p != self._preferred]
        for candidate in candidates:
            if self._try(candidate):
                self._preferred = candidate
                return candidate
        self._take(self._preferred, self.wait)  # every board is busy: wait for ours
        return self._preferred

    def release(self, port: str) -> None:
        """Give back one claim on ``port``; the lock is released with the last one."""
        if is_private_board(port):
            return
        with self._guard:
            self._depth[port] -= 1
            if self._depth[port] == 0:
                self._locks[port].release(force=True)

    def _try(self, port: str) -> bool:
        try:
            self._take(port, 0)
        except PortInUse:
            return False
        return True

    def _take(self, port: str, wait: float) -> None:
        if is_private_board(port):
            return
        with self._guard:
            if self._depth.get(port, 0) > 0:
                self._depth[port] += 1
                return
            lock = self._locks.get(port)
            if lock is None:
                lock = filelock.FileLock(claim_path(port), thread_local=False)
                self._locks[port] = lock
        try:
            lock.acquire(timeout=wait)
        except filelock.Timeout:
            waited = f"after waiting {wait:g} s" if wait > 0 else "(--belayfw-lock-timeout 0)"
            raise PortInUse(
                f"{port} is used by another test worker or program {waited}; give each "
                "worker its own board (--belayfw-port a,b,...) or run fewer workers (-n)"
            ) from None
        with self._guard:
            self._depth[port] = 1
