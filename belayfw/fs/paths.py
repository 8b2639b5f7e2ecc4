"""Board paths: posix, absolute, checked on the host before anything is sent."""

from __future__ import annotations

import os
import posixpath

from belayfw.errors import BoardPathError

#: LittleFS and FAT both cap a name at 255 bytes.
_NAME_MAX = 255


def board_path(path: str | os.PathLike[str], base: str = "/") -> str:
    """The absolute, normalised board path for ``path`` (relative ones join ``base``).

    Refused with :class:`BoardPathError`: a non-text path, an empty one, NUL or
    other control characters, a name over 255 bytes, and ``..`` that climbs
    above the board's root.
    """
    text = os.fspath(path)
    if not isinstance(text, str):
        raise BoardPathError(f"a board path is text, not {type(text).__name__}: {text!r}")
    if not text:
        raise BoardPathError("a board path cannot be empty; the board's root is '/'")
    if any(ord(char) < 32 or char == "\x7f" for char in text):
        raise BoardPathError(f"board path {text!r} holds a control character (NUL, newline...)")
    joined = posixpath.join(base, text) if not text.startswith("/") else text
    if not joined.startswith("/"):
        raise BoardPathError(f"board path {text!r} is not absolute after joining {base!r}")
    depth = 0
    for name in joined.split("/"):
        if name == "..":
            depth -= 1
            if depth < 0:
                raise BoardPathError(f"board path {text!r} climbs above the board's root")
        elif name not in ("", "."):
            depth += 1
            if len(name.encode("utf-8")) > _NAME_MAX:
                raise BoardPathError(f"the name {name[:40]!r}... in {text!r} is over 255 bytes")
    normal = posixpath.normpath(joined)
    return "/" + normal.lstrip("/")


def join(folder: str, relative: str) -> str:
    """``folder`` and a posix path relative to it."""
    return folder.rstrip("/") + "/" + relative if relative else folder


def is_within(path: str, folder: str) -> bool:
    """Whether board ``path`` is ``folder`` or lies under it, both normalised first
    (so ``/lib/../x`` is not under ``/lib``, and ``//lib/a`` is under ``/lib``)."""
    path, folder = _normal(path), _normal(folder)
    return folder == "/" or path == folder or path.startswith(folder + "/")


def _normal(path: str) -> str:
    return "/" + posixpath.normpath("/" + path).lstrip("/")
