"""Progress bars on stderr, fed by dev.fs's ``progress`` callbacks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from belayfw.cli.common import err


def _bar(description: str) -> tuple[Progress, TaskID]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a bar in a log or a pipe is only noise
    )
    return progress, progress.add_task(description, total=None)


@contextmanager
def transfer_progress(description: str = "copying") -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done_bytes, total_bytes)`` callback drawing one bar on stderr."""
    progress, task = _bar(description)
    with progress:
        yield lambda done, total: progress.update(task, completed=done, total=total)


@contextmanager
def sync_progress() -> Iterator[Callable[[int, int, int, int], None]]:
    """A ``progress(files_done, files_total, bytes_done, bytes_total)`` callback for sync."""
    progress, task = _bar("syncing")

    def update(files_done: int, files_total: int, bytes_done: int, bytes_total: int) -> None:
        progress.update(
            task,
            completed=bytes_done,
            total=bytes_total,
            description=f"syncing {files_done}/{files_total} files",
        )

    with progress:
        yield update
