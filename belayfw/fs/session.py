"""``session.fs``: a session's view of the board's files.

Listings and stats are cached for the session and dropped when anything is
changed through ``dev.fs`` (the cache listens to it). Every change made
through ``session.fs`` is recorded in the session's event log, and
``session.fs.tempfile()`` makes a board file the session removes when it ends,
also after an error.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from belayfw.errors import BelayError, BoardFileNotFound
from belayfw.fs.files import BoardFS, FileEntry, FileStat
from belayfw.fs.paths import board_path


class FileSession(Protocol):
    """What ``session.fs`` needs from a session (``DeviceSession`` implements it)."""

    id: str

    @property
    def resources(self) -> Any: ...

    def record_event(self, message: str, **data: Any) -> None: ...


class BoardTempFile:
    """A board file the session removes when it ends (a session resource)."""

    resource_type = "board_tempfile"

    def __init__(self, files: BoardFS, path: str, size_hint: int = 0) -> None:
        self.resource_id = path
        self.path = path
        self.estimated_cost = size_hint
        self.created_at = datetime.now(UTC)
        self._files = files

    def cleanup(self) -> None:
        with contextlib.suppress(BoardFileNotFound):
            self._files.remove(self.path)


class SessionFiles:
    """The board's files as one session sees them: cached reads, logged changes."""

    def __init__(self, session: FileSession, files: BoardFS) -> None:
        self.session = session
        self.files = files
        self._listings: dict[str, list[FileEntry]] = {}
        self._stats: dict[str, FileStat] = {}
        files.add_listener(self._changed)

    def _changed(self, operation: str, path: str) -> None:
        self._listings.clear()
        self._stats.clear()

    def invalidate(self) -> None:
        """Forget every cached listing and stat (the board changed behind belayfw's back)."""
        self._changed("invalidate", "/")

    def ls(self, path: str | os.PathLike[str] = "/") -> list[FileEntry]:
        """Entries of a board folder, cached until a change through ``dev.fs``."""
        folder = board_path(path)
        if folder not in self._listings:
            self._listings[folder] = self.files.ls(folder, detail=True)
        return list(self._listings[folder])

    def stat(self, path: str | os.PathLike[str]) -> FileStat:
        target = board_path(path)
        if target not in self._stats:
            self._stats[target] = self.files.stat(target)
        return self._stats[target]

    def write_bytes(self, path: str | os.PathLike[str], data: bytes) -> int:
        written = self.files.write_bytes(path, data)
        self.session.record_event("fs write", path=board_path(path), bytes=written)
        return written

    def remove(self, path: str | os.PathLike[str]) -> None:
        self.files.remove(path)
        self.session.record_event("fs remove", path=board_path(path))

    def tempfile(self, suffix: str = "", *, folder: str = "/") -> str:
        """A new empty board file, removed when the session ends; returns its path."""
        if "/" in suffix:
            raise BelayError(f"a temporary file suffix cannot hold '/': {suffix!r}")
        path = board_path(f"tmp-{self.session.id}-{uuid.uuid4().hex[:8]}{suffix}", folder)
        self.files.write_bytes(path, b"")
        self.session.resources.register(BoardTempFile(self.files, path))
        self.session.record_event("fs tempfile", path=path)
        return path

    def close(self) -> None:
        """Stop listening to ``dev.fs`` (the session ended)."""
        self.files.remove_listener(self._changed)
