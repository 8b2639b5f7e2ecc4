"""Every failure belayfw reports, as one typed exception with one clear message.

Each class carries a ``suggestion``: the action a user should take, in the spirit
of the error-type -> suggested-action table of the design seeds.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class BelayError(Exception):
    """Base class of every belayfw error."""

    suggestion: str = ""

    def __str__(self) -> str:
        text = super().__str__()
        if self.suggestion and self.suggestion not in text:
            return f"{text} ({self.suggestion})"
        return text


class DeviceError(BelayError):
    """The board raised an exception while running code.

    ``type_name`` is the board exception's class name, ``message`` its text and
    ``board_traceback`` the traceback the board printed (frames mapped back to the
    host source when the code came from a decorated method).
    """

    suggestion = "the error happened on the board; see the board traceback above"

    def __init__(self, type_name: str, message: str, board_traceback: str = "") -> None:
        self.type_name = type_name
        self.message = message
        self.board_traceback = board_traceback
        summary = f"{type_name}: {message}" if message else type_name
        super().__init__(summary)

    def __str__(self) -> str:
        head = f"{self.type_name}: {self.message}" if self.message else self.type_name
        if self.board_traceback:
            return f"{head}\n\nBoard traceback:\n{self.board_traceback.rstrip()}"
        return head


class HeapLocked(DeviceError):
    """A call failed because the board's heap was locked (a ``MemoryError`` on the board).

    The unix port (the emulator) leaves its heap locked for good when a
    timeout's interrupt cuts into a garbage collection. belayfw then checks the
    board and, if the lock stays, restarts the emulator board and restores the
    device's code and setups. ``restarted`` says whether it did; ``recovered``
    (also ``recoverable``) whether the board answers again, so the call can be
    made again.
    """

    def __init__(
        self,
        message: str,
        board_traceback: str = "",
        *,
        restarted: bool = False,
        recovered: bool = False,
    ) -> None:
        self.restarted = restarted
        self.recovered = recovered
        self.recoverable = recovered
        super().__init__("MemoryError", message, board_traceback)

    @classmethod
    def of(cls, error: DeviceError, *, restarted: bool, recovered: bool) -> HeapLocked:
        """``error`` (a locked-heap failure), with what belayfw did about it."""
        if restarted:
            what = (
                "the heap stayed locked, so belayfw restarted the emulator board and "
                "restored the device's code and setups (board globals set since and "
                "running threads are gone; threads with restart=True run again); call again"
            )
        elif recovered:
            what = "the lock has cleared; call again"
        else:
            what = "the board cannot allocate any more; soft_reset() or reopen the device"
        return cls(
            f"{error.message} ({what})",
            error.board_traceback,
            restarted=restarted,
            recovered=recovered,
        )


class TaskTimeout(BelayError, TimeoutError):
    """A call ran past its timeout; the board was interrupted."""

    suggestion = "raise the timeout, or make the board code return sooner"

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        self.timeout = timeout
        super().__init__(message)


class DeviceDisconnected(BelayError, ConnectionError):
    """The board or its port went away (unplugged, process died, socket closed)."""

    suggestion = "check the cable or port, then open the device again"


class DeviceNotOpen(DeviceDisconnected):
    """A call on a device that is closed or was never opened: no link was lost."""

    suggestion = ""


class DeviceClosed(DeviceNotOpen):
    """A call, retry or reconnect on a device that ``close()`` closed or is closing.

    Nothing reopens a closing device behind the caller's back: open it again
    (``open()`` or a ``with`` block) to use it.
    """


class BoardProcessEnded(DeviceDisconnected):
    """An emulator board's process ended or stopped reading: no cable is involved."""

    suggestion = "open the device again (a new emulator board starts)"


class BoardReset(BoardProcessEnded):
    """An emulator board reset itself: ``machine.reset()``, ``soft_reset()``, its watchdog...

    Its RAM is gone, as on a board; its flash is kept. The call that was running
    did not complete. A :class:`~belayfw.Device` brings the board back at once
    (a new process on the same flash, the device's code and setups restored);
    ``recovered`` says whether it did, so the next call can simply be made.
    """

    suggestion = "soft_reset() or reopen the device to start it again"

    def __init__(self, message: str, *, recovered: bool = False) -> None:
        self.recovered = recovered
        if recovered:
            self.suggestion = "call again"
        super().__init__(message)


class PortNotFound(DeviceDisconnected, FileNotFoundError):
    """No serial port (or emulator board) by that name exists right now."""

    suggestion = (
        "check the port name (`python -m serial.tools.list_ports` lists them) and the "
        "cable, or use 'emulator'"
    )


class PortInUse(DeviceDisconnected):
    """Another device or program holds the port; two users would corrupt each other's calls."""

    suggestion = "close the other device or program first; one port serves one user at a time"


class ConfigurationError(BelayError, ValueError):
    """A bad argument or option, refused before anything reaches the board."""


class ArgumentTypeError(ConfigurationError, TypeError):
    """An argument of the wrong type (also a ``TypeError``)."""


class BoardFileError(BelayError, OSError):
    """The board's file system refused an operation; ``filename`` is the board path."""


class BoardFileNotFound(BoardFileError, FileNotFoundError):
    """A file or folder on the board does not exist."""

    suggestion = "check the path on the board"


class BoardFileExists(BoardFileError, FileExistsError):
    """A file or folder on the board is already there."""


class BoardIsADirectory(BoardFileError, IsADirectoryError):
    """A file operation met a folder on the board."""


class BoardNotADirectory(BoardFileError, NotADirectoryError):
    """A folder operation met a file on the board (or a path runs through one)."""


class BoardFlashFull(BoardFileError):
    """The board's flash has no room left for what was written."""

    suggestion = "remove files from the board (see fs.df()) or write less"


class BoardPathError(ConfigurationError):
    """A board path that cannot be valid (empty, NUL, above the root), refused on the host."""


class ProtocolError(BelayError):
    """The board answered with bytes that do not follow the raw-REPL protocol."""

    suggestion = "the board may be running other firmware or another program holds the port"


class CommandError(BelayError, ValueError):
    """A command cannot be sent as it is (for example, it holds a raw REPL control byte)."""

    suggestion = "escape control characters in code (write '\\x04', not the byte itself)"


class SerializationError(BelayError):
    """A value cannot cross the wire as a Python literal."""

    suggestion = "use None, bool, int, float, str, bytes, list, tuple, dict or set"


class StreamSendError(BelayError, TypeError):
    """``send(value)`` on a board generator stream, which cannot deliver it.

    The board runs ahead of the host by up to a window of values, so the
    ``yield`` a sent value would answer has already passed on the board.
    """

    suggestion = (
        "pass the value as an argument of a new call, or let a @task that returns one "
        "value at a time take it"
    )


class ThreadJoinTimeout(BelayError, TimeoutError):
    """A board thread still runs after the time given to ``join``-like waits."""

    suggestion = "wait longer, or stop the thread with handle.stop()"


class ThreadNotFinished(BelayError):
    """A board thread has no result: it was stopped, or lost with its board, or runs on."""

    suggestion = "only a thread whose function returned has a result; see handle.state"


class ThreadReportLost(ThreadNotFinished):
    """A board thread ended, but the frame that carried its return value or error was lost.

    The board sends that report once, as the thread ends. A host Ctrl-C that
    cuts a read can drop it; belayfw then learns the end from the board's
    thread table and says so, rather than report a value it never received.
    """

    suggestion = (
        "run the thread again if its result matters; a host Ctrl-C while board threads "
        "end can drop their reports"
    )


class FeatureUnavailable(BelayError):
    """The board lacks a feature the code needs (for example ``_thread``)."""

    suggestion = "use a board or firmware build that has this feature"


class SessionError(BelayError):
    """A session cannot do what was asked."""

    def __init__(self, message: str, *, recoverable: bool = False) -> None:
        self.recoverable = recoverable
        super().__init__(message)


class InvalidTransition(SessionError):
    """A session state change that the lifecycle does not allow."""

    suggestion = "see SessionState.next_states() for the allowed moves"


class SessionLimitExceeded(SessionError):
    """A configured session limit would be crossed."""

    suggestion = "end an existing session or raise the limit in SessionOptions"


class ResourceCleanupError(BelayError, ExceptionGroup[Exception]):
    """One or more resources failed to clean up; every failure is inside."""

    suggestion = "each failure is listed; the other resources were still cleaned up"

    def __new__(cls, message: str, errors: Sequence[Exception]) -> ResourceCleanupError:
        return super().__new__(cls, message, list(errors))

    def __init__(self, message: str, errors: Sequence[Exception]) -> None:
        super().__init__(message, list(errors))

    def derive(self, excs: Sequence[Exception]) -> ResourceCleanupError:  # type: ignore[override]
        return ResourceCleanupError(self.message, excs)

    def __str__(self) -> str:
        return ExceptionGroup.__str__(self)


class CircuitOpen(BelayError):
    """Reconnection attempts are paused after repeated failures."""

    suggestion = "the board kept failing; wait for the breaker's cool-down or fix the link"


class FlashImageError(BelayError, OSError):
    """An emulator board's flash image cannot be used (not LittleFS2, wrong size, in use)."""


class VirtualHardwareError(BelayError):
    """The virtual hardware of an emulator board cannot do what a test asked."""


class NotAnEmulator(VirtualHardwareError, FeatureUnavailable):
    """Virtual hardware was asked of a board that is real: only emulator boards have it."""

    suggestion = "open the device on an emulator port (emulator, emulator:pico, emulator:esp32)"


class BoardHandlerError(VirtualHardwareError):
    """Board code that a virtual-hardware change ran (a ``Pin.irq`` handler) raised."""

    suggestion = "the board traceback is above; fix the handler on the board"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to a misspelt ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
