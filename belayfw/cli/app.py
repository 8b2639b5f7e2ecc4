"""The ``belayfw`` application: every command registered on one cyclopts app."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from cyclopts import App

from belayfw.cli import emulator, files, info, latency, ports, repl, reset, run, sync


def _version() -> str:
    try:
        return f"belayfw {version('belayfw')}"
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "belayfw (not installed)"


app = App(
    name="belayfw",
    help="Drive a MicroPython board from the shell: run code, open a REPL, check the board.",
    version=_version,
    help_format="markdown",
    suppress_keyboard_interrupt=False,  # main() reports it and exits 130
)
app.command(run.run)
app.command(run.exec_, name="exec")
app.command(run.eval_, name="eval")
app.command(repl.repl)
app.command(info.info)
app.command(latency.latency)
app.command(reset.reset)
app.command(ports.ports)
app.command(emulator.emulator)
for file_command in (files.ls, files.cat, files.cp, files.rm, files.mkdir, files.df):
    app.command(file_command)
app.command(sync.sync)


@app.command
def completion(shell: Literal["bash", "zsh", "fish", "powershell"], /) -> None:
    """Print the shell completion script for SHELL (see docs/cli.md to install it).

    Parameters
    ----------
    shell
        The shell to complete in.
    """
    sys.stdout.write(app.generate_completion(shell=shell))
