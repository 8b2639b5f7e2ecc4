"""Board-side MicroPython code, kept as real ``.py`` files and loaded as package data."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources


@cache
def board_source(name: str) -> str:
    """Return the text of ``belayfw/board/<name>.py`` as sent: no comments, no blank lines.

    The board compiles every byte it receives; comments cost it time and RAM.
    """
    from belayfw.source import strip_comments

    text = resources.files(__package__).joinpath(f"{name}.py").read_text(encoding="utf-8")
    return "".join(line for line in strip_comments(text).splitlines(keepends=True) if line.strip())


def source_hash(text: str) -> str:
    """The short content hash that names a version of board code."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
