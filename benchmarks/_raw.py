"""A hand-written raw-REPL round trip: the reference every benchmark compares to.

It is the least a host can do: write the code and ``\\x04``, then read in bulk
until the second ``\\x04`` and the ``>`` prompt. No framing, no decoding.
"""

from __future__ import annotations

import time

from belayfw.transports.base import Transport


def raw_round_trip(transport: Transport, code: bytes) -> bytes:
    """Run ``code`` in raw REPL and return everything the board sent back."""
    transport.write(code + b"\x04")
    reply = bytearray()
    ends = 0
    deadline = time.monotonic() + 30.0
    while not (ends >= 2 and reply.endswith(b">")):
        chunk = transport.read(deadline)
        if not chunk and time.monotonic() >= deadline:
            raise TimeoutError(f"raw round trip got no answer; so far {bytes(reply[-80:])!r}")
        ends += chunk.count(b"\x04")
        reply += chunk
    return bytes(reply)
