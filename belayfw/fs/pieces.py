"""An upload as pieces the board reads from its stdin, one per grant it writes.

The board (``recv`` in ``board/fs.py``) asks for a piece only when it is
ready to read all of it straight into RAM, and processes it before asking for
the next, so at most one piece is ever in flight: a real board's UART buffer
(a few hundred bytes) never has to hold more than arrives while it reads. A
piece is ``z`` (raw deflate) or ``p`` (plain), its length in 7 digits, then
base64, which holds no byte a raw REPL or a terminal treats specially.

Compression: the whole file is compressed once to decide (it must save at
least a tenth) and to size the pieces; each piece is then compressed on its
own (the board keeps no inflate state between pieces) with the largest
deflate window the board's memory allows (``2**wbits`` bytes).
"""

from __future__ import annotations

import base64
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

#: ``progress(done, total)`` in bytes.
Progress = Callable[[int, int], None]

#: Compress only when it saves at least this share of the bytes.
WORTH = 0.9
_LEVEL = 6  # as good as 9 on source here, and never slower
_HEAD = 8
#: The most raw bytes one compressed piece stands for (its 7-digit length is encoded).
_MAX_RAW = 4 * 1024 * 1024


def inflate_bits(free_memory: int) -> int:
    """The deflate window (bits) a board with ``free_memory`` can inflate with."""
    if free_memory >= 256 * 1024:
        return 14
    if free_memory >= 64 * 1024:
        return 12
    return 10


def piece_size(free_memory: int) -> int:
    """The longest piece (encoded bytes) for a board with ``free_memory``: it holds
    the piece, its decoded bytes (3/4 of it) and the inflate window at once."""
    return max(2048, min(48 * 1024, free_memory // 8)) // 4 * 4


def _deflate(data: bytes, wbits: int) -> bytes:
    squeezer = zlib.compressobj(_LEVEL, zlib.DEFLATED, -wbits)
    return squeezer.compress(data) + squeezer.flush()


def _piece(flag: bytes, body: bytes) -> bytes:
    text = base64.b64encode(body)
    return flag + b"%07d" % len(text) + text


@dataclass
class Pieces:
    """The pieces of one upload, handed out one per grant (a :class:`~belayfw.protocol.Feeder`)."""

    pieces: list[bytes]
    raw_sizes: list[int]
    progress: Progress | None = None
    total: int = 0
    key: bytes = field(default_factory=lambda: secrets.token_hex(6).encode())
    _next: int = 0
    _done: int = 0

    def next_piece(self) -> bytes:
        if self._next >= len(self.pieces):
            return b""  # the board asks for no more than it was told; never reached
        piece = self.pieces[self._next]
        if self._next and self.progress is not None:
            self.progress(self._done, self.total)
        self._done += self.raw_sizes[self._next]
        self._next += 1
        return piece

    @property
    def encoded_size(self) -> int:
        return sum(len(piece) for piece in self.pieces)


def split(
    data: bytes,
    *,
    limit: int,
    wbits: int | None,
    compress: bool | None,
    progress: Progress | None = None,
) -> Pieces:
    """``data`` as pieces of at most ``limit`` encoded bytes (``wbits`` None: the
    board cannot inflate). ``compress``: None when it pays, True always, False never.

    A compressed piece's raw size follows the ratio seen so far (source text
    deflates about 3x), so each piece fills the limit without compressing twice.
    """
    plain_step = (limit - _HEAD) // 4 * 3
    squeeze = wbits is not None and compress is not False
    step = plain_step * 3 if squeeze else plain_step
    pieces: list[bytes] = []
    sizes: list[int] = []
    start = 0
    while start < len(data):
        raw = data[start : start + step]
        if squeeze and wbits is not None:
            packed = _deflate(raw, wbits)
            encoded = _HEAD + (len(packed) + 2) // 3 * 4
            if compress is None and len(packed) > WORTH * len(raw):
                squeeze = False  # it does not pay here: plain from now on
                step = plain_step
                continue
            if encoded > limit and len(raw) > plain_step:
                step = max(plain_step, int(len(raw) * limit / encoded * 0.9))
                continue
            if encoded <= limit:
                pieces.append(_piece(b"z", packed))
                sizes.append(len(raw))
                start += len(raw)
                step = min(_MAX_RAW, max(plain_step, int(len(raw) * limit / encoded * 0.9)))
                continue
            raw = raw[:plain_step]  # incompressible and over the limit: sent plain
        pieces.append(_piece(b"p", raw))
        sizes.append(len(raw))
        start += len(raw)
    return Pieces(pieces, sizes, progress, len(data))
