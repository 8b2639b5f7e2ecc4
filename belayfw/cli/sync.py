"""``belayfw sync``: make a board folder match a folder here, sending only what changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from belayfw.cli.common import Port, open_board, out
from belayfw.cli.files import board_side
from belayfw.cli.progress import sync_progress
from belayfw.fs import SyncReport


def sync(
    folder: Path,
    remote: str = "/",
    /,
    *,
    delete: bool = False,
    dry_run: bool = False,
    ignore: Annotated[list[str] | None, Parameter(name=("--ignore", "-i"))] = None,
    port: Port = None,
) -> None:
    """Make a board folder hold what FOLDER holds, sending only new and changed files.

    Files are compared by SHA-256, computed on the board in one round trip.
    __pycache__, .git, *.pyc and FOLDER/.gitignore's patterns are skipped.

    Parameters
    ----------
    folder
        The folder on this computer.
    remote
        The board folder (default: /).
    delete
        Also remove board files under REMOTE that FOLDER does not have.
    dry_run
        Only say what would be sent and removed.
    ignore
        A .gitignore-style pattern to skip (repeat for more).
    """
    with open_board(port) as device, sync_progress() as progress:
        report = device.fs.sync(
            folder,
            board_side(remote),
            delete=delete,
            ignore=ignore,
            dry_run=dry_run,
            progress=progress,
        )
    _print_report(report)


def _print_report(report: SyncReport) -> None:
    send, remove = ("would send", "would remove") if report.dry_run else ("sent", "removed")
    for name in report.sent:
        out.print(f"{send:<12}  {name}", markup=False)
    for name in report.deleted:
        out.print(f"{remove:<12}  {name}", markup=False)
    out.print(
        f"{send} {len(report.sent)} file(s), {report.bytes_sent:,} bytes; "
        f"{len(report.unchanged)} unchanged; {remove} {len(report.deleted)}; "
        f"board folder {report.remote}; {report.seconds:.2f} s",
        markup=False,
    )
