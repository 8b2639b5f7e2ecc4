"""``belayfw ls``, ``cat``, ``cp``, ``rm``, ``mkdir``, ``df``: the board's files.

Board paths may start with ``:``, as in mpremote; ``cp`` needs it to tell the
board's side from this computer's (``belayfw cp main.py :``,
``belayfw cp :data.csv .``). Everything goes through ``dev.fs``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter
from rich.table import Table

from belayfw.cli.common import Port, UsageError, open_board, out
from belayfw.cli.progress import transfer_progress
from belayfw.errors import BoardIsADirectory


def board_side(path: str) -> str:
    """A board path as dev.fs takes it: the optional ``:`` marker dropped."""
    return path[1:] or "/" if path.startswith(":") else path


def ls(
    path: str = "/",
    /,
    *,
    long: Annotated[bool, Parameter(name=("--long", "-l"))] = False,
    port: Port = None,
) -> None:
    """List a board folder (folders end in /).

    Parameters
    ----------
    path
        The board folder (default: /).
    long
        Show each entry's kind and size.
    """
    with open_board(port) as device:
        entries = device.fs.ls(board_side(path), detail=True)
    if not long:
        for entry in entries:
            out.print(entry.name + ("/" if entry.is_dir else ""), markup=False)
        return
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column(justify="right")
    table.add_column()
    table.add_column()
    for entry in entries:
        size = "" if entry.is_dir else f"{entry.size:,}"
        table.add_row(size, entry.kind, entry.name + ("/" if entry.is_dir else ""))
    out.print(table)


def cat(path: str, /, *, port: Port = None) -> None:
    """Print a board file.

    Parameters
    ----------
    path
        The board file.
    """
    with open_board(port) as device:
        data = device.fs.read_bytes(board_side(path))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def cp(source: str, target: str, /, *, port: Port = None) -> None:
    """Copy a file between this computer and the board; ':' marks the board's side.

    `belayfw cp main.py :` puts main.py in the board's /, `belayfw cp main.py :lib/`
    in /lib, `belayfw cp :data.csv .` brings data.csv here.

    Parameters
    ----------
    source
        The file to copy (':name' for a board file).
    target
        Where to copy it (':' or ':folder/' or ':name' on the board; a path here).
    """
    to_board, from_board = target.startswith(":"), source.startswith(":")
    if to_board == from_board:
        raise UsageError(
            "cp copies between this computer and the board: mark the board's side, "
            "and only it, with ':' (e.g. `belayfw cp main.py :` or `belayfw cp :log.txt .`)"
        )
    with open_board(port) as device, transfer_progress() as progress:
        if to_board:
            remote = board_side(target)
            if remote.endswith("/"):  # into that folder, which must exist
                remote += Path(source).name
            remote = device.fs.put(source, remote, progress=progress)
            message = f"{source} -> :{remote}"
        else:
            local = device.fs.get(board_side(source), target, progress=progress)
            message = f":{board_side(source)} -> {local}"
    out.print(message, markup=False)


def rm(
    path: str,
    /,
    *,
    recursive: Annotated[bool, Parameter(name=("--recursive", "-r"))] = False,
    port: Port = None,
) -> None:
    """Remove a board file (a folder, with what is in it: -r).

    Parameters
    ----------
    path
        The board file or folder.
    recursive
        Remove a folder and everything under it.
    """
    target = board_side(path)
    with open_board(port) as device:
        if device.fs.stat(target).is_dir:
            if not recursive:
                raise BoardIsADirectory(21, "is a folder on the board; use rm -r", target)
            device.fs.rmdir(target, recursive=True)
        else:
            device.fs.remove(target)


def mkdir(
    path: str,
    /,
    *,
    parents: Annotated[bool, Parameter(name=("--parents", "-p"))] = False,
    port: Annotated[
        str | None,
        Parameter(name="--port", help="The board, as -p elsewhere (here -p is --parents)."),
    ] = None,
) -> None:
    """Make a board folder.

    Parameters
    ----------
    path
        The board folder.
    parents
        Make the folders above it too, and accept one that exists.
    """
    with open_board(port) as device:
        device.fs.mkdir(board_side(path), parents=parents, exist_ok=parents)


def df(path: str = "/", /, *, port: Port = None) -> None:
    """Show the board flash's size, use and free space.

    Parameters
    ----------
    path
        A path on the file system to measure (default: /).
    """
    with open_board(port) as device:
        usage = device.fs.df(board_side(path))
    table = Table()
    for column in ("file system", "size", "used", "free", "use%"):
        table.add_column(column, justify="right")
    percent = 100 * usage.used / usage.total if usage.total else 0.0
    table.add_row(
        board_side(path),
        f"{usage.total / 1024:,.0f} KB",
        f"{usage.used / 1024:,.0f} KB",
        f"{usage.free / 1024:,.0f} KB",
        f"{percent:.0f}%",
    )
    out.print(table)
