"""Sending board code: only what the board lacks, in one batch, and recorded per session.

A class's code goes with the runtime parts it needs (see :data:`belayfw.board.PARTS`),
sent first, so the board holds thread, stream and setup support only when some
class on it uses them.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from belayfw.connection import Connection, DeployItem, part_item
from belayfw.decorators import BoardMethod, Kind
from belayfw.session.session import DeviceSession
from belayfw.source import BoardSource


def parts_needed(methods: Mapping[str, BoardMethod]) -> list[str]:
    """The runtime parts the board needs to run ``methods``, in sending order."""
    needed = []
    kinds = {method.kind for method in methods.values()}
    if Kind.SETUP in kinds or Kind.TEARDOWN in kinds:
        needed.append("setups")
    if Kind.THREAD in kinds:
        needed.append("threads")
    if Kind.THREAD in kinds or any(
        method.kind is Kind.TASK and inspect.isgeneratorfunction(method.function)
        for method in methods.values()
    ):
        needed.append("streams")  # generator windows, thread events and results
    return needed


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
    parts = [part_item(name) for name in parts_needed(methods)]
    missing = [source for source in sources.values() if held.get(source.name) != source.code_hash]
    sent = connection.install(
        [part for part in parts if held.get(part.name) != part.code_hash]
        + [DeployItem(item.name, item.code_hash, item.kind, item.text) for item in missing]
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
