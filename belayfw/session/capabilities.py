"""What a board is and can do, detected in one round trip and cached per board id.

The board's unique id and firmware arrive with the connection probe, so a
host that has seen this board with this firmware before skips detection
entirely (a warm session); a re-flashed board is detected again. The cache is
a JSON file per board in the user cache folder (``platformdirs``). Boards
whose identity does not survive a restart (each emulator process) are cached
in memory only, and memory keeps the most recent boards only. A failed
detection falls back to minimal capabilities that say so (``detected`` is
False, ``error`` says why) and is logged: never a silent "unknown".
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from belayfw.board import board_source
from belayfw.errors import BelayError

log = logging.getLogger(__name__)

#: Boards whose capabilities are kept in memory (least recently used go first).
MEMORY_CACHE_BOARDS = 32
#: Bytes of the bulk transfer that measures throughput.
THROUGHPUT_PROBE_BYTES = 8192
_PINGS = 3


class DeviceFeatures(BaseModel):
    model_config = ConfigDict(frozen=True)

    threads: bool | None = None
    native: bool | None = None
    viper: bool | None = None
    filesystem: bool | None = None
    float: bool | None = None
    bigint: bool | None = None


class PerformanceProfile(BaseModel):
    """Measured on the link when the capabilities were detected."""

    model_config = ConfigDict(frozen=True)

    round_trip_ms: float
    throughput_bytes_per_s: float


class DeviceCapabilities(BaseModel):
    """A board's firmware, features, memory, id and measured performance."""

    model_config = ConfigDict(frozen=True)

    board_id: str | None
    implementation: str
    version: str
    firmware: str
    machine: str = ""
    platform: str
    features: DeviceFeatures
    mem_free: int | None = None
    mem_alloc: int | None = None
    performance: PerformanceProfile | None = None
    detected_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    detected: bool = True
    error: str | None = None

    def supports(self, feature: str) -> bool:
        """True only when the feature was detected as present."""
        return bool(getattr(self.features, feature, False))

    @classmethod
    def minimal(cls, board_id: str | None, reason: str) -> DeviceCapabilities:
        """What is known when detection failed: that it failed, and why."""
        return cls(
            board_id=board_id,
            implementation="micropython",
            version="not detected",
            firmware="not detected",
            platform="not detected",
            features=DeviceFeatures(),
            detected=False,
            error=reason,
        )


class CapabilityCache:
    """Capabilities by board id: in memory, and on disk for boards with a lasting id."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(platformdirs.user_cache_dir("belayfw")) / "capabilities"
        self._memory: OrderedDict[str, DeviceCapabilities] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, board_id: str, firmware: str | None = None) -> DeviceCapabilities | None:
        """What is known of ``board_id``; None when unknown or detected on other firmware."""
        with self._lock:
            found = self._memory.get(board_id)
            if found is not None:
                self._memory.move_to_end(board_id)
        if found is None:
            found = self._read(board_id)
            if found is not None:
                self._remember(board_id, found)
        if found is not None and firmware is not None and found.firmware != firmware:
            log.info("board %s runs new firmware (%s); detecting it again", board_id, firmware)
            return None
        return found

    def __len__(self) -> int:
        """Boards kept in memory (at most :data:`MEMORY_CACHE_BOARDS`)."""
        with self._lock:
            return len(self._memory)

    def _read(self, board_id: str) -> DeviceCapabilities | None:
        path = self._path(board_id)
        try:
            return DeviceCapabilities.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            log.warning("ignoring unreadable capability cache %s: %s", path, exc)
            return None

    def _remember(self, board_id: str, capabilities: DeviceCapabilities) -> None:
        with self._lock:
            self._memory[board_id] = capabilities
            self._memory.move_to_end(board_id)
            while len(self._memory) > MEMORY_CACHE_BOARDS:
                self._memory.popitem(last=False)

    def put(self, capabilities: DeviceCapabilities, *, persistent: bool) -> None:
        board_id = capabilities.board_id
        if board_id is None or not capabilities.detected:
            return
        self._remember(board_id, capabilities)
        if not persistent:
            return
        path = self._path(board_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(capabilities.model_dump_json(indent=1), encoding="utf-8")
            temporary.replace(path)
        except OSError as exc:
            log.warning("could not cache capabilities in %s: %s", path, exc)

    def forget(self, board_id: str) -> None:
        with self._lock:
            self._memory.pop(board_id, None)
        self._path(board_id).unlink(missing_ok=True)

    def _path(self, board_id: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in board_id)
        return self.folder / f"{safe}.json"


def detect(call: Any, board_id: str | None) -> DeviceCapabilities:
    """Detect capabilities with ``call(command) -> value``; never raises for a board error.

    One round trip reads firmware, features and memory; a few more measure the
    link (round-trip time and throughput) for the performance profile.
    """
    try:
        # The function is taken out of the board's globals as it is called: it leaves nothing.
        facts = call(f"{board_source('capabilities')}\n_bfw_c(globals().pop('_bfw_caps'))")
        performance = _measure(call)
        return DeviceCapabilities(
            board_id=board_id,
            implementation=facts["implementation"],
            version=facts["version"],
            firmware=facts["firmware"],
            machine=facts.get("machine", ""),
            platform=facts["platform"],
            features=DeviceFeatures(**facts["features"]),
            mem_free=facts.get("mem_free"),
            mem_alloc=facts.get("mem_alloc"),
            performance=performance,
        )
    except (BelayError, KeyError, TypeError, ValidationError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("capability detection failed (%s); using minimal capabilities", reason)
        return DeviceCapabilities.minimal(board_id, reason)


def _measure(call: Any) -> PerformanceProfile:
    pings = []
    for _ in range(_PINGS):
        started = time.perf_counter()
        call("_bfw_c(int,0)")
        pings.append(time.perf_counter() - started)
    started = time.perf_counter()
    payload = call(f"_bfw_c(bytes,{THROUGHPUT_PROBE_BYTES})")
    bulk = time.perf_counter() - started
    round_trip = statistics.median(pings)
    moved = len(payload) * 4 / 3  # base64 on the wire
    throughput = moved / max(bulk - round_trip, 1e-6)
    return PerformanceProfile(round_trip_ms=round_trip * 1e3, throughput_bytes_per_s=throughput)
