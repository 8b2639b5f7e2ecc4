"""Sending board code: only what the board lacks, in one batch, and recorded per session."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping

from belayfw.board import board_source, source_hash
from belayfw.connection import Connection, DeployItem
from belayfw.decorators import BoardMethod, Kind
from belayfw.session.session import DeviceSession
from belayfw.source import BoardSource


def deploy_missing(
    connection: Connection,
    sources: Mapping[str, BoardSource],
    methods: Mapping[str, BoardMethod],
    session: DeviceSession,
) -> int:
    """Send every method whose hash the board does not hold (and the runtime if stale).

    Returns the bytes of code sent: 0 when the board already held everything.
    Each method is recorded in the session's tracker, sent or not.
    """
    held = connection.board_hashes
    missing = [source for source in sources.values() if held.get(source.name) != source.code_hash]
    items = [DeployItem(item.name, item.code_hash, item.kind, item.text) for item in missing]
    if _uses_streams(methods.values()) and held.get(STREAMS.name) != STREAMS.code_hash:
        items.insert(0, STREAMS)
    sent = connection.install(items)
    sent_names = {source.name for source in missing}
    for name, source in sources.items():
        session.resources.register_method(
            f"{name}{methods[name].host_signature}",
            source.code_hash,
            size=len(source.text),
            sent=name in sent_names,
        )
    return sent


#: The board part for generator streams and thread events (board/streams.py), sent
#: only to classes that use them: a board without them keeps that heap.
_STREAMS_SOURCE = board_source("streams")
STREAMS = DeployItem("_bfw_streams", source_hash(_STREAMS_SOURCE), "f", _STREAMS_SOURCE)


def _uses_streams(methods: Iterable[BoardMethod]) -> bool:
    """Does the class have a @thread or a generator @task (the users of board/streams.py)?"""
    return any(
        method.kind is Kind.THREAD
        or (method.kind is Kind.TASK and inspect.isgeneratorfunction(method.function))
        for method in methods
    )
