"""One user per port: a lock file per port string, held while a transport is open.

Two programs talking to one board interleave their commands and each reads the
other's results, so a second opener must fail at once instead. pyserial's
``exclusive=True`` locks a real serial device; URL ports (``socket://``,
``rfc2217://``) have no device to lock, and a pty is shared by anyone who opens
its path, so every port also takes a lock file (:mod:`filelock`) named after
the port string, in a per-user folder under the system temp folder. The
operating system releases it when the holder exits, even by SIGKILL.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import filelock

from belayfw.errors import PortInUse


def lock_folder() -> Path:
    """Where the lock files live (``BELAYFW_LOCK_DIR`` overrides)."""
    explicit = os.environ.get("BELAYFW_LOCK_DIR")
    if explicit:
        return Path(explicit)
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"belayfw-{user}" / "ports"


class PortLock:
    """The lock on one port string; :meth:`acquire` fails at once when it is taken."""

    def __init__(self, port: str) -> None:
        self.port = port
        readable = re.sub(r"[^A-Za-z0-9]+", "_", port).strip("_")[:60]
        digest = hashlib.sha256(port.encode("utf-8")).hexdigest()[:12]
        folder = lock_folder()
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{readable}-{digest}.lock"
        self._lock = filelock.FileLock(self.path, timeout=0, thread_local=False)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise port_in_use(self.port) from None

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def port_in_use(port: str) -> PortInUse:
    return PortInUse(f"{port} is in use by another device or program")
