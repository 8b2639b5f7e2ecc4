"""Sending board code: only what the board lacks, in one batch, and recorded per session."""

from __future__ import annotations

from collections.abc import Mapping

from belayfw.connection import Connection, DeployItem
from belayfw.decorators import BoardMethod
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
    sent = connection.install(
        [DeployItem(item.name, item.code_hash, item.kind, item.text) for item in missing]
    )
    sent_names = {source.name for source in missing}
    for name, source in sources.items():
        session.resources.register_method(
            f"{name}{methods[name].host_signature}",
            source.code_hash,
            size=len(source.text),
            sent=name in sent_names,
        )
    return sent
