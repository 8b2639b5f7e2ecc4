"""Devices still open when the interpreter exits are closed properly, newest first.

A script that forgets ``close()`` (or dies on an exception outside any
``with``) would otherwise leave board threads running and teardowns unrun, and
the emulator's own exit hook would kill boards under live links, which then
report "board process was killed by signal 9". An :mod:`atexit` hook closes
every device still open instead, in reverse order of opening, like nested
``with`` blocks would. The hook is registered at the first open, after the
emulator's exit hook, so it runs before that one (atexit runs hooks last in,
first out).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Protocol

log = logging.getLogger(__name__)


class Closable(Protocol):
    port: str

    @property
    def is_open(self) -> bool: ...

    def close(self) -> None: ...


_open_devices: list[weakref.ref[Closable]] = []
_lock = threading.Lock()
_hook_registered = False


def _forget_parent_devices() -> None:
    """After ``fork``: the parent's devices are not the child's to close."""
    global _lock
    _lock = threading.Lock()
    _open_devices.clear()


os.register_at_fork(after_in_child=_forget_parent_devices)


def close_at_exit(device: Closable) -> None:
    """Close ``device`` at interpreter exit if it is still open then."""
    global _hook_registered
    with _lock:
        # Forget devices that were closed or collected, so the list stays short.
        _open_devices[:] = [
            ref for ref in _open_devices if (kept := ref()) is not None and kept.is_open
        ]
        if not any(ref() is device for ref in _open_devices):
            _open_devices.append(weakref.ref(device))
        if not _hook_registered:
            atexit.register(close_open_devices)
            _hook_registered = True


def close_open_devices() -> None:
    """Close every device still open, newest first; log what fails and carry on."""
    with _lock:
        devices = [device for ref in reversed(_open_devices) if (device := ref()) is not None]
        _open_devices.clear()
    for device in devices:
        if not device.is_open:
            continue
        log.debug("closing %s at interpreter exit", device.port)
        try:
            device.close()
        except Exception as error:
            log.warning("while closing %s at interpreter exit: %s", device.port, error)
