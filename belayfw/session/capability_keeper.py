"""A device's current capabilities: from the cache when the board is known, else detected.

The device asks for them once per open; listeners hear about a change (a new
board on the same port, a firmware update) and not about a re-read that found
the same board.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from belayfw.connection import Connection
from belayfw.errors import DeviceNotOpen
from belayfw.session.capabilities import CapabilityCache, DeviceCapabilities, detect

#: Runs one prepared board command and returns its value.
BoardCall = Callable[[str], Any]


class CapabilityKeeper:
    """Holds one device's capabilities; ``on_change`` hears when they differ."""

    def __init__(
        self,
        cache: CapabilityCache,
        *,
        use_cache: bool,
        on_change: Callable[[DeviceCapabilities], None],
    ) -> None:
        self.cache = cache
        self.use_cache = use_cache
        self._on_change = on_change
        self._current: DeviceCapabilities | None = None

    @property
    def current(self) -> DeviceCapabilities | None:
        return self._current

    def require(self, port: str) -> DeviceCapabilities:
        """The current capabilities; raises ``DeviceNotOpen`` before the first open."""
        if self._current is None:
            raise DeviceNotOpen(f"{port} is not open; capabilities are read when it opens")
        return self._current

    def load(
        self,
        call: BoardCall,
        board_id: str | None,
        *,
        lasting: bool,
        firmware: str | None = None,
    ) -> DeviceCapabilities:
        """The cached capabilities of a known board on this firmware, else detect them."""
        found = self.cache.get(board_id, firmware) if board_id and self.use_cache else None
        if found is None:
            found = detect(call, board_id)
            self.cache.put(found, persistent=lasting)
        self.set(found)
        return found

    def load_from(self, link: Connection, call: BoardCall) -> DeviceCapabilities:
        """:meth:`load` for the board behind ``link``, known by its id and firmware."""
        lasting = link.transport.lasting_identity
        return self.load(call, link.board_id, lasting=lasting, firmware=link.firmware)

    def adopt(self, detected: DeviceCapabilities, *, lasting: bool) -> None:
        """Take freshly detected capabilities: cache them and make them current."""
        self.cache.put(detected, persistent=lasting)
        self.set(detected)

    def set(self, capabilities: DeviceCapabilities) -> None:
        """Make ``capabilities`` current; tell ``on_change`` when they differ from before."""
        previous, self._current = self._current, capabilities
        if previous is None or _comparable(previous) != _comparable(capabilities):
            self._on_change(capabilities)


def _comparable(capabilities: DeviceCapabilities) -> dict[str, Any]:
    return capabilities.model_dump(exclude={"detected_at", "performance", "mem_free", "mem_alloc"})
