"""``dev.sync``: make a board folder match a host folder, sending only what changed.

One round trip brings the SHA-256 of every board file under the target; the
host compares with its own files and sends only new or changed ones (each
with :mod:`belayfw.fs.transfer`). ``delete=True`` removes board files the host
folder lacks, only ever under the target folder, and is refused when the host
folder is empty or missing (it would wipe the target). Ignore patterns are
``.gitignore``-style (``pathspec``), on top of ``__pycache__``, ``.git`` and
``*.pyc`` and the host folder's own ``.gitignore``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pathspec
from pydantic import BaseModel

from belayfw.errors import BoardIsADirectory, BoardNotADirectory, ConfigurationError
from belayfw.fs.paths import board_path, is_within, join

DEFAULT_IGNORE = ("__pycache__/", ".git/", "*.pyc")

#: ``progress(files_done, files_total, bytes_done, bytes_total)``.
SyncProgress = Callable[[int, int, int, int], None]


class SyncTarget(Protocol):
    """What a sync needs from ``dev.fs`` (:class:`~belayfw.fs.files.BoardFS`)."""

    def inventory(
        self, folder: str = "/"
    ) -> tuple[dict[str, tuple[int, str]], set[str]] | None: ...

    def mkdir(self, path: str, *, parents: bool = True, exist_ok: bool = True) -> None: ...

    def write_bytes(self, path: str, data: bytes) -> int: ...

    def remove(self, path: str) -> None: ...

    def rmdir(self, path: str, *, recursive: bool = True) -> None: ...


class SyncReport(BaseModel):
    """What a sync did (or, with ``dry_run``, would do). Paths are relative to the target."""

    remote: str
    sent: list[str] = []
    unchanged: list[str] = []
    deleted: list[str] = []
    created_dirs: list[str] = []
    bytes_sent: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.deleted or self.created_dirs)


def ignore_spec(root: Path, ignore: list[str] | None) -> pathspec.GitIgnoreSpec:
    """The defaults, ``ignore`` and ``root/.gitignore`` as one matcher."""
    patterns = [*DEFAULT_IGNORE, *(ignore or [])]
    gitignore = root / ".gitignore"
    if gitignore.is_file():
        patterns += gitignore.read_text(encoding="utf-8").splitlines()
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def local_files(root: Path, spec: pathspec.GitIgnoreSpec) -> dict[str, Path]:
    """``{posix path relative to root: file}`` for every host file not ignored.

    Symbolic links are followed, to folders as to files: a board has no links,
    so a linked package is sent as its content. Skipping linked folders would
    make ``delete=True`` remove their files from the board. A link back to a
    folder above it (a loop) is not entered. A folder that cannot be listed
    stops the sync: taken as empty, its files would be deleted from the board.
    """
    found: dict[str, Path] = {}
    chains: dict[str, tuple[str, ...]] = {str(root): (os.path.realpath(root),)}
    for folder, dirs, files in os.walk(root, onerror=_unlistable, followlinks=True):
        chain = chains.pop(folder)
        relative_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative_folder == "." else relative_folder + "/"
        kept = []
        for name in sorted(dirs):
            real = os.path.realpath(os.path.join(folder, name))
            if spec.match_file(prefix + name + "/") or real in chain:
                continue
            kept.append(name)
            chains[os.path.join(folder, name)] = (*chain, real)
        dirs[:] = kept
        for name in sorted(files):
            relative = prefix + name
            if not spec.match_file(relative):
                found[relative] = Path(folder) / name
    return found


def _unlistable(error: OSError) -> None:
    raise ConfigurationError(
        f"cannot sync: the folder {error.filename} cannot be listed ({error.strerror or error}); "
        "nothing was sent"
    ) from error


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot sync {path}: {exc.strerror or exc} (a broken link? ignore it with "
            "ignore=[...] or remove it); nothing was sent"
        ) from exc


def sync(
    fs: SyncTarget,
    local_dir: str | os.PathLike[str],
    remote: str | os.PathLike[str] = "/",
    *,
    delete: bool = False,
    ignore: list[str] | None = None,
    dry_run: bool = False,
    progress: SyncProgress | None = None,
) -> SyncReport:
    """Make board folder ``remote`` hold what host folder ``local_dir`` holds."""
    started = time.perf_counter()
    root = Path(local_dir)
    if not root.is_dir():
        raise ConfigurationError(f"cannot sync {root}: no such folder on this computer")
    target = board_path(remote)
    spec = ignore_spec(root, ignore)
    files = local_files(root, spec)
    if delete and not files:
        raise ConfigurationError(
            f"refusing to sync an empty folder ({root}) with delete=True: it would remove "
            f"every file under {target} on the board"
        )
    report = SyncReport(remote=target, dry_run=dry_run)
    found = fs.inventory(target)
    target_is_file = found is None
    if found is None:
        _conflict(target, root, "", is_file=True, delete=delete)
        found = ({}, set())
    on_board, board_dirs = found
    # A board file where the host has a folder, or a board folder where the host
    # has a file: the entry is removed first (delete=True), or the sync refused.
    local_dirs = {prefix for relative in files for prefix in _parents(relative)}
    file_conflicts = sorted(set(on_board) & local_dirs)
    dir_conflicts = sorted(board_dirs & set(files))
    for relative in (*file_conflicts, *dir_conflicts):
        _conflict(join(target, relative), root, relative, relative in on_board, delete)
    gone = set(file_conflicts)
    for folder in dir_conflicts:
        gone.update(name for name in on_board if name.startswith(folder + "/"))
        board_dirs = {name for name in board_dirs if not _under(name, folder)}
    on_board = {name: known for name, known in on_board.items() if name not in gone}
    to_send: list[tuple[str, bytes]] = []
    for relative, path in files.items():
        data = _read(path)
        known = on_board.get(relative)
        if known is not None and known == (len(data), hashlib.sha256(data).hexdigest()):
            report.unchanged.append(relative)
        else:
            to_send.append((relative, data))
    board_dirs |= {prefix for relative in on_board for prefix in _parents(relative)}
    needed = sorted({relative.rpartition("/")[0] for relative, _ in to_send} - board_dirs - {""})
    report.created_dirs = [d for d in needed if not any(o.startswith(d + "/") for o in needed)]
    if delete:
        # An ignored name is left alone on the board too (board-made logs, say),
        # unless it is in the way of the host's files (a conflict above).
        report.deleted = sorted(
            {name for name in set(on_board) - set(files) if not spec.match_file(name)}
            | gone
            | {folder + "/" for folder in dir_conflicts}
        )
    total_bytes = sum(len(data) for _, data in to_send)
    if not dry_run:
        if target_is_file:
            fs.remove(target)  # normalised by board_path; remove() refuses "/"
        for relative in file_conflicts:
            fs.remove(confined(join(target, relative), target))
        for folder in dir_conflicts:
            fs.rmdir(confined(join(target, folder), target), recursive=True)
        if to_send and target != "/" and (target_is_file or not (on_board or board_dirs)):
            fs.mkdir(target, parents=True, exist_ok=True)
        for folder in report.created_dirs:
            fs.mkdir(join(target, folder), parents=True, exist_ok=True)
        done_bytes = 0
        for count, (relative, data) in enumerate(to_send, 1):
            fs.write_bytes(join(target, relative), data)
            done_bytes += len(data)
            if progress is not None:
                progress(count, len(to_send), done_bytes, total_bytes)
        removed = gone | {folder + "/" for folder in dir_conflicts}
        for relative in report.deleted:
            if relative not in removed:
                fs.remove(confined(join(target, relative), target))
    report.sent = [relative for relative, _ in to_send]
    report.bytes_sent = total_bytes
    report.seconds = time.perf_counter() - started
    return report


def _parents(relative: str) -> list[str]:
    """The folders above a relative path: ``a/b/c`` -> ``a``, ``a/b``."""
    parts = relative.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _under(name: str, folder: str) -> bool:
    return name == folder or name.startswith(folder + "/")


def confined(path: str, target: str) -> str:
    """``path``, normalised, if it lies strictly under ``target``: a sync deletes nothing else."""
    doomed = board_path(path)
    if doomed == board_path(target) or not is_within(doomed, target):
        raise ConfigurationError(f"refusing to delete {path}: outside {target}")
    return doomed


def _conflict(path: str, root: Path, relative: str, is_file: bool, delete: bool) -> None:
    """Refuse (without ``delete``) a board entry of the wrong kind where the host has one."""
    if delete:
        return
    local = root / relative if relative else root
    if is_file:
        raise BoardNotADirectory(
            20,
            f"is a file on the board but a folder on this computer ({local}); "
            "sync(..., delete=True) replaces the board file with the folder",
            path,
        )
    raise BoardIsADirectory(
        21,
        f"is a folder on the board but a file on this computer ({local}); "
        "sync(..., delete=True) replaces the board folder (and all in it) with the file",
        path,
    )
