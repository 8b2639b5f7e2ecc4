"""Board-side MicroPython code, kept as real ``.py`` files and loaded as package data.

``runtime.py`` is the resident core every connection installs. The files
named in :data:`PARTS` are runtime parts: sent only with the code of a class
that needs them, and recorded on the board under :func:`part_key`.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

#: Runtime parts (``board/<name>.py``), each loaded on demand (see
#: ``belayfw.deploy.parts_needed``): ``threads`` for a class with a ``@thread``,
#: ``streams`` for a generator task or a ``@thread`` (windows, events), ``setups``
#: for a ``@setup`` or ``@teardown``.
PARTS = ("threads", "streams", "setups")


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


def part_key(name: str) -> str:
    """The name a runtime part is recorded under in the board's table of deployed code."""
    return f"part:{name}"
