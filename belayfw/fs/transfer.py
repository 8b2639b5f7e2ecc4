"""Moving file contents: sizes from the board's memory, few round trips.

Writes stream through the board's stdin while one command runs, a piece per
grant the board writes (:mod:`belayfw.fs.pieces`), checked by SHA-256 at the
end; a board that cannot read its stdin as bytes gets windows of base64
chunks in one command each. Either way a piece goes raw deflate compressed
when the board has ``deflate`` and compressing pays. An upload lands under a
temporary name and replaces the target with one rename, so an interrupted or
failed upload (full flash, Ctrl-C, a lost link) never leaves a half-written
file where the old one was. Reads come back as bytes (base64 on the wire), a
window per round trip.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import zlib
from collections.abc import Iterator

from belayfw.errors import BelayError
from belayfw.fs import pieces
from belayfw.fs.helpers import BoardHelpers, board_file_error
from belayfw.fs.pieces import Progress

__all__ = ["Progress", "download", "temporary_name", "upload"]

#: Deflate window the board decompresses with: 2**WBITS bytes of board RAM.
WBITS = 10
_MIN_CHUNK = 512
_MAX_CHUNK = 16 * 1024
_MAX_WINDOW = 512 * 1024
#: Compress only when it saves at least this share of the bytes.
_WORTH = 0.9


class Budget:
    """Chunk and window sizes for one board, from its free memory."""

    def __init__(self, free_memory: int, can_inflate: bool) -> None:
        self.chunk = max(_MIN_CHUNK, min(_MAX_CHUNK, free_memory // 32))
        # A window's command text, its string constants and one decoded chunk
        # are in board RAM together (about 3x the window's raw bytes), in a heap
        # that is fragmented: a sixth of free memory failed now and then on the
        # 110 KB esp32 profile, a twelfth did not.
        self.window = max(self.chunk, min(_MAX_WINDOW, free_memory // 12))
        self.can_inflate = can_inflate


def budget(helpers: BoardHelpers) -> Budget:
    free, can_inflate, _, _ = helpers.info()
    return Budget(free, can_inflate)


def _encoded_chunks(
    data: bytes, plan: Budget, compress: bool | None
) -> Iterator[tuple[int, str, int]]:
    """(compressed?, base64 text, raw size) per chunk of ``data``."""
    for start in range(0, len(data), plan.chunk):
        raw = data[start : start + plan.chunk]
        packed: bytes | None = None
        if plan.can_inflate and compress is not False:
            squeezer = zlib.compressobj(9, zlib.DEFLATED, -WBITS)
            packed = squeezer.compress(raw) + squeezer.flush()
            if compress is None and len(packed) > _WORTH * len(raw):
                packed = None
        if packed is not None:
            yield 1, base64.b64encode(packed).decode("ascii"), len(raw)
        else:
            yield 0, base64.b64encode(raw).decode("ascii"), len(raw)


def upload(
    helpers: BoardHelpers,
    path: str,
    data: bytes,
    *,
    progress: Progress | None = None,
    compress: bool | None = None,
) -> int:
    """Write ``data`` to board ``path``, replacing it whole; return the bytes written.

    ``compress``: None compresses the chunks it pays for, False never, True always
    (when the board can inflate).
    """
    free, can_inflate, _, has_stdin = helpers.info()
    if has_stdin:
        return _stream(helpers, path, data, free, can_inflate, progress, compress)
    plan = budget(helpers)
    temporary = temporary_name(path)
    total = len(data)
    done = 0
    mode = "wb"
    window: list[tuple[int, str]] = []
    window_size = 0
    window_raw = 0
    try:
        if not data:
            helpers.call("w", temporary, mode, [], WBITS, paths=(path,))
        for flag, text, raw_size in _encoded_chunks(data, plan, compress):
            if window and window_size + len(text) > plan.window:
                done += _send(helpers, temporary, path, mode, window, window_raw)
                mode, window, window_size, window_raw = "ab", [], 0, 0
                if progress is not None:
                    progress(done, total)
            window.append((flag, text))
            window_size += len(text)
            window_raw += raw_size
        if window:
            done += _send(helpers, temporary, path, mode, window, window_raw)
        helpers.call("swap", temporary, path, paths=(temporary, path))
    except BaseException:
        with contextlib.suppress(BelayError):
            helpers.call("drop", temporary)
        raise
    if progress is not None:
        progress(done, total)
    return done


def _stream(
    helpers: BoardHelpers,
    path: str,
    data: bytes,
    free: int,
    can_inflate: bool,
    progress: Progress | None,
    compress: bool | None,
) -> int:
    """Upload through the board's stdin: one command, a piece per grant."""
    wbits = pieces.inflate_bits(free) if can_inflate else None
    feeder = pieces.split(
        data, limit=pieces.piece_size(free), wbits=wbits, compress=compress, progress=progress
    )
    temporary = temporary_name(path)
    digest = hashlib.sha256(data).hexdigest()[:32]  # 128 bits: the command stays short
    # Generous: a 115200-baud UART moves about 11 KB/s of it.
    timeout = 30.0 + feeder.encoded_size / 2000
    try:
        written, got, replaced = helpers.stream_call(
            "recv",
            temporary,
            path,
            len(feeder.pieces),
            len(data),
            wbits or 0,
            digest,
            feeder=feeder,
            timeout=timeout,
            paths=(path, path),  # a refusal names the target, not the temporary name
        )
    except BaseException:
        with contextlib.suppress(BelayError):
            helpers.call("drop", temporary)
        raise
    if not replaced:
        raise BelayError(
            f"the upload to {path} arrived damaged ({written} of {len(data)} bytes, "
            f"sha256 {got[:12]}... instead of {digest[:12]}...); the board kept the old "
            "file: try again (a noisy link?)"
        )
    if progress is not None:
        progress(len(data), len(data))
    return int(written)


def temporary_name(path: str) -> str:
    """Where an upload to ``path`` lands first: the same folder (so the rename
    stays within one file system), a short hidden name (``path`` plus a suffix
    could pass the 255-byte name limit, and could be a user's own file)."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{hashlib.sha256(name.encode()).hexdigest()[:12]}.bfw-part"


def _send(
    helpers: BoardHelpers,
    temporary: str,
    path: str,
    mode: str,
    window: list[tuple[int, str]],
    raw: int,
) -> int:
    written = int(helpers.call("w", temporary, mode, window, WBITS, paths=(path,)))
    if written != raw:
        raise BelayError(f"the board wrote {written} of {raw} bytes to {path}")
    return written


def download(helpers: BoardHelpers, path: str, *, progress: Progress | None = None) -> bytes:
    """The whole content of board file ``path``."""
    is_dir, size, _ = helpers.call("stat", path, paths=(path,))
    if is_dir:
        raise board_file_error(21, path)
    plan = budget(helpers)
    window = max(plan.chunk, plan.window // 2)  # the result is in RAM twice (bytes, base64)
    parts: list[bytes] = []
    done = 0
    while True:
        part = helpers.call("r", path, done, window, paths=(path,))
        if not isinstance(part, bytes):
            raise BelayError(f"reading {path} returned {type(part).__name__}, not bytes")
        parts.append(part)
        done += len(part)
        if progress is not None:
            progress(done, max(size, done))
        if len(part) < window:
            break
    return b"".join(parts)
