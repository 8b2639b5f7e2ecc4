"""``dev.fs``: the board's files, with verbs like mpremote's ``fs`` and pathlib's.

Paths are board paths (posix; a relative one is relative to ``/``), checked on
the host first. A missing file raises :class:`~belayfw.errors.BoardFileNotFound`
(a ``FileNotFoundError``) whose ``filename`` is the board path; other refusals
raise the matching :class:`~belayfw.errors.BoardFileError` subclass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, overload

from pydantic import BaseModel, ConfigDict

from belayfw.errors import BoardFileNotFound, BoardIsADirectory, BoardNotADirectory
from belayfw.fs import transfer
from belayfw.fs.helpers import BoardHelpers, FileBoard, board_file_error
from belayfw.fs.paths import board_path, join
from belayfw.fs.sync import SyncProgress, SyncReport, sync
from belayfw.fs.transfer import Progress


class FileEntry(BaseModel):
    """One name in a board folder; ``kind`` ``mount`` is another file system (``/rom``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    kind: Literal["file", "dir", "mount"]
    size: int

    @property
    def is_dir(self) -> bool:
        return self.kind != "file"


class FileStat(BaseModel):
    """What ``fs.stat`` tells about a board path."""

    model_config = ConfigDict(frozen=True)

    path: str
    is_dir: bool
    size: int
    mtime: int


class DiskUsage(BaseModel):
    """The board flash holding a path: total and free bytes."""

    model_config = ConfigDict(frozen=True)

    total: int
    free: int

    @property
    def used(self) -> int:
        return self.total - self.free


_KINDS: dict[str, Literal["file", "dir", "mount"]] = {"f": "file", "d": "dir", "m": "mount"}

#: Told of every change made through this object: (operation, board path).
ChangeListener = Callable[[str, str], None]


class BoardFS:
    """The files of one device's board (``dev.fs``)."""

    def __init__(self, board: FileBoard) -> None:
        self._helpers = BoardHelpers(board)
        self._listeners: list[ChangeListener] = []

    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(operation, path)`` after each change made through ``dev.fs``."""
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self, operation: str, path: str) -> None:
        for listener in list(self._listeners):
            listener(operation, path)

    # -- looking -------------------------------------------------------------------------

    @overload
    def ls(
        self, path: str | os.PathLike[str] = "/", *, detail: Literal[False] = False
    ) -> list[str]: ...
    @overload
    def ls(
        self, path: str | os.PathLike[str] = "/", *, detail: Literal[True]
    ) -> list[FileEntry]: ...
    def ls(
        self, path: str | os.PathLike[str] = "/", *, detail: bool = False
    ) -> list[str] | list[FileEntry]:
        """Names in a board folder, sorted; ``detail=True`` gives :class:`FileEntry` items."""
        folder = board_path(path)
        rows = self._helpers.call("ls", folder, paths=(folder,))
        entries = sorted(
            (
                FileEntry(name=name, path=join(folder, name), kind=_KINDS[kind], size=size)
                for name, kind, size in rows
            ),
            key=lambda entry: entry.name,
        )
        return entries if detail else [entry.name for entry in entries]

    def stat(self, path: str | os.PathLike[str]) -> FileStat:
        target = board_path(path)
        is_dir, size, mtime = self._helpers.call("stat", target, paths=(target,))
        return FileStat(path=target, is_dir=bool(is_dir), size=int(size), mtime=int(mtime))

    def exists(self, path: str | os.PathLike[str]) -> bool:
        try:
            self.stat(path)
        except BoardFileNotFound:
            return False
        return True

    def walk(self, top: str | os.PathLike[str] = "/") -> Iterator[tuple[str, list[str], list[str]]]:
        """``(folder, folder names, file names)`` for ``top`` and every folder under it, like
        :func:`os.walk`, from one round trip. Other mounted file systems are not entered."""
        root = board_path(top)
        rows = self._helpers.call("walk", root, paths=(root,))
        tree: dict[str, tuple[list[str], list[str]]] = {root: ([], [])}
        for relative, kind, _ in sorted(rows):
            parent, _, name = relative.rpartition("/")
            folder = join(root, parent) if parent else root
            dirs, files = tree.setdefault(folder, ([], []))
            if kind == "d":
                dirs.append(name)
                tree.setdefault(join(root, relative), ([], []))
            elif kind == "f":
                files.append(name)
        for folder in sorted(tree):
            dirs, files = tree[folder]
            yield folder, dirs, files

    def hash(self, path: str | os.PathLike[str]) -> str:
        """SHA-256 (hex) of a board file's content, computed on the board."""
        target = board_path(path)
        digest: str = self._helpers.call("hash", target, paths=(target,))
        return digest

    def df(self, path: str | os.PathLike[str] = "/") -> DiskUsage:
        """Total and free bytes of the flash holding ``path``."""
        target = board_path(path)
        total, free = self._helpers.call("df", target, paths=(target,))
        return DiskUsage(total=int(total), free=int(free))

    # -- reading and writing -----------------------------------------------------------------

    def read_bytes(
        self, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> bytes:
        return transfer.download(self._helpers, board_path(path), progress=progress)

    def read_text(self, path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
        return self.read_bytes(path).decode(encoding)

    def write_bytes(
        self,
        path: str | os.PathLike[str],
        data: bytes,
        *,
        progress: Progress | None = None,
        compress: bool | None = None,
    ) -> int:
        """Write ``data`` to a board file, replacing it whole (never half-written)."""
        target = board_path(path)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"write_bytes takes bytes, not {type(data).__name__}")
        written = transfer.upload(
            self._helpers, target, bytes(data), progress=progress, compress=compress
        )
        self._changed("write", target)
        return written

    def write_text(self, path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(path, text.encode(encoding))

    def put(
        self,
        local: str | os.PathLike[str],
        remote: str | os.PathLike[str] | None = None,
        *,
        progress: Progress | None = None,
    ) -> str:
        """Copy a host file to the board; ``remote`` defaults to ``/<its name>``, and a
        remote folder receives the file under its name. Returns the board path."""
        source = Path(local)
        if not source.is_file():
            raise FileNotFoundError(2, "no such file on this computer", str(source))
        target = board_path(remote if remote is not None else source.name)
        try:
            if self.stat(target).is_dir:
                target = join(target, source.name)
        except BoardFileNotFound:
            pass
        self.write_bytes(target, source.read_bytes(), progress=progress)
        return target

    def get(
        self,
        remote: str | os.PathLike[str],
        local: str | os.PathLike[str] | None = None,
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Copy a board file to the host; a local folder receives it under its name."""
        source = board_path(remote)
        target = Path(local) if local is not None else Path(source.rsplit("/", 1)[1])
        if target.is_dir():
            target = target / source.rsplit("/", 1)[1]
        data = self.read_bytes(source, progress=progress)
        target.write_bytes(data)
        return target

    # -- changing the tree -------------------------------------------------------------------

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Remove a board file (a folder: :meth:`rmdir`)."""
        target = board_path(path)
        self._refuse_root(target, "remove")
        self._helpers.call("remove", target, paths=(target,))
        self._changed("remove", target)

    def mkdir(
        self, path: str | os.PathLike[str], *, parents: bool = True, exist_ok: bool = True
    ) -> None:
        """Make a board folder (and, with ``parents``, the folders above it)."""
        target = board_path(path)
        if target == "/":
            return
        self._helpers.call("mkdir", target, parents, exist_ok, paths=(target,))
        self._changed("mkdir", target)

    def rmdir(self, path: str | os.PathLike[str], *, recursive: bool = True) -> None:
        """Remove a board folder; ``recursive`` removes what is in it too (never
        entering another mounted file system)."""
        target = board_path(path)
        self._refuse_root(target, "rmdir")
        if not self.stat(target).is_dir:
            raise board_file_error(20, target)
        self._helpers.call("rmdir", target, recursive, paths=(target,))
        self._changed("rmdir", target)

    def rename(self, source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        old, new = board_path(source), board_path(target)
        self._refuse_root(old, "rename")
        self._helpers.call("rename", old, new, paths=(old, new))
        self._changed("rename", old)
        self._changed("rename", new)

    # -- many files --------------------------------------------------------------------------

    def hashes(self, folder: str | os.PathLike[str] = "/") -> dict[str, tuple[int, str]]:
        """``{path relative to folder: (size, sha256 hex)}`` of every file under it, in one
        round trip (empty when the folder does not exist)."""
        root = board_path(folder)
        found = self._helpers.call("hashes", root, paths=(root,))
        if found is None:
            raise BoardNotADirectory(20, "is not a folder on the board", root)
        return {name: (int(size), digest) for name, (size, digest) in found.items()}

    def inventory(
        self, folder: str | os.PathLike[str] = "/"
    ) -> tuple[dict[str, tuple[int, str]], set[str]] | None:
        """(:meth:`hashes`, the relative paths of the folders) under ``folder``, in one
        round trip; empty when it does not exist, None when it is a file."""
        root = board_path(folder)
        found = self._helpers.call("hashes", root, 1, paths=(root,))
        if found is None:
            return None
        files = {name: (int(e[0]), e[1]) for name, e in found.items() if e is not None}
        return files, {name for name, entry in found.items() if entry is None}

    def sync(
        self,
        local_dir: str | os.PathLike[str],
        remote: str | os.PathLike[str] = "/",
        *,
        delete: bool = False,
        ignore: list[str] | None = None,
        dry_run: bool = False,
        progress: SyncProgress | None = None,
    ) -> SyncReport:
        """Make board folder ``remote`` match ``local_dir`` (see :func:`belayfw.fs.sync.sync`)."""
        return sync(
            self,
            local_dir,
            remote,
            delete=delete,
            ignore=ignore,
            dry_run=dry_run,
            progress=progress,
        )

    @staticmethod
    def _refuse_root(path: str, verb: str) -> None:
        if path == "/":
            raise BoardIsADirectory(21, f"cannot {verb} the board's root folder", path)
