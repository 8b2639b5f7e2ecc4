"""The board half of ``dev.fs``: ``board/fs.py`` installed once, called by name.

The helpers live in one board global, ``_bfw_F`` (a namespace dict), tagged with
their code hash. Every call checks that tag in the same command, so a board
that lost them (a reset) or holds another version gets them again at the cost
of one more round trip, and a call never leaves a global behind.
"""

from __future__ import annotations

import errno
import threading
from contextlib import AbstractContextManager
from typing import Any, Protocol

from belayfw.board import board_source, source_hash
from belayfw.codec import encode
from belayfw.errors import (
    BoardFileError,
    BoardFileExists,
    BoardFileNotFound,
    BoardFlashFull,
    BoardIsADirectory,
    BoardNotADirectory,
    ProtocolError,
)
from belayfw.protocol import Feeder, feeding


class FileBoard(Protocol):
    """What ``dev.fs`` needs from a device (``Device`` implements it)."""

    def eval(self, expression: str, timeout: float | None = None) -> Any: ...

    def exec(self, code: str, timeout: float | None = None) -> str: ...

    def hold(self) -> AbstractContextManager[object]: ...


_ERRORS: dict[int, tuple[type[BoardFileError], str]] = {
    errno.ENOENT: (BoardFileNotFound, "no such file or folder on the board"),
    errno.EEXIST: (BoardFileExists, "already exists on the board"),
    errno.EISDIR: (BoardIsADirectory, "is a folder on the board"),
    errno.ENOTDIR: (BoardNotADirectory, "is not a folder on the board"),
    errno.ENOSPC: (BoardFlashFull, "the board's flash is full"),
    errno.ENOTEMPTY: (BoardFileError, "folder not empty (rmdir(recursive=True) removes it all)"),
    errno.EROFS: (BoardFileError, "read-only file system on the board"),
    errno.EACCES: (BoardFileError, "permission denied on the board"),
    errno.ENAMETOOLONG: (BoardFileError, "a name is over the board's limit (255 bytes)"),
    errno.EINVAL: (BoardFileError, "invalid operation on the board (a folder into itself?)"),
}


def board_file_error(code: int, path: str) -> BoardFileError:
    """The typed error for the board's errno ``code`` about board ``path``."""
    kind, text = _ERRORS.get(code, (BoardFileError, f"the board's file system said errno {code}"))
    return kind(code, text, path)


class BoardHelpers:
    """Calls into ``board/fs.py`` on one device's board."""

    def __init__(self, board: FileBoard) -> None:
        self.board = board
        self.source = board_source("fs")
        self.version = source_hash(self.source)
        self._info: tuple[int, bool, bool, bool] | None = None
        self._lock = threading.Lock()

    def call(self, name: str, *args: Any, paths: tuple[str, ...] = ()) -> Any:
        """Run helper ``name``; a file-system refusal raises its typed error naming a path."""
        return self._call(name, args, paths, None)

    def stream_call(
        self, name: str, *args: Any, feeder: Feeder, timeout: float, paths: tuple[str, ...] = ()
    ) -> Any:
        """Run helper ``name`` while ``feeder`` answers its grants with data.

        The helper's first arguments say how to write its grant frames: the
        board's frame token ``_bfw_T`` and the feeder's key.
        """
        return self._call(name, args, paths, (feeder, timeout))

    def _call(
        self,
        name: str,
        args: tuple[Any, ...],
        paths: tuple[str, ...],
        stream: tuple[Feeder, float] | None,
    ) -> Any:
        arguments = "".join("," + encode(arg) for arg in args)
        if stream is not None:
            arguments = f",_bfw_T,{stream[0].key!r}{arguments}"
        command = (
            f"(globals().get('_bfw_F') or {{}}).get('_v')=={self.version!r} and "
            f"_bfw_F['c']({name!r}{arguments})"
        )
        reply = self._eval(command, stream)
        if reply is False:
            self.install()
            reply = self._eval(command, stream)
        if not isinstance(reply, tuple) or len(reply) != 2:
            raise ProtocolError(f"the board's file helper {name} answered {reply!r}")
        code, value = reply
        if code:
            named = paths[value] if isinstance(value, int) and 0 <= value < len(paths) else ""
            raise board_file_error(code, named or (paths[0] if paths else ""))
        return value

    def _eval(self, command: str, stream: tuple[Feeder, float] | None) -> Any:
        if stream is None:
            return self.board.eval(command)
        feeder, timeout = stream
        with feeding(feeder):
            return self.board.eval(command, timeout=timeout)

    def install(self) -> None:
        """Put the helpers on the board (one round trip)."""
        with self._lock:
            self.board.exec(f"_bfw_F = {{'_v': {self.version!r}}}\nexec({self.source!r}, _bfw_F)\n")
            self._info = None

    def info(self) -> tuple[int, bool, bool, bool]:
        """(free board memory after gc, has ``deflate``, has ``hashlib``, can read its
        stdin as bytes), asked once."""
        if self._info is None:
            free, has_deflate, has_hashlib, has_stdin = self.call("info")
            self._info = (int(free), bool(has_deflate), bool(has_hashlib), bool(has_stdin))
        return self._info
