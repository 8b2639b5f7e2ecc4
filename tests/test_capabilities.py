"""Capabilities: detected in one round trip, cached per board id, refreshed, never silent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from belayfw import Device, DeviceCapabilities, EmulatorBoard, SessionManager, SessionOptions
from belayfw.session import capabilities as capability_module
from belayfw.transports.emulator import AttachedEmulator


def test_emulator_capabilities_are_detected(output) -> None:
    with Device("emulator:pico", output=output, manager=SessionManager()) as device:
        caps = device.capabilities
    assert caps.detected and caps.error is None
    assert caps.implementation == "micropython"
    assert caps.platform == "rp2"
    assert caps.version.count(".") == 2
    assert caps.features.threads and caps.features.float and caps.features.filesystem
    assert caps.supports("threads") and not caps.supports("no_such_feature")
    assert 0 < caps.mem_free < 192 * 1024  # the pico profile's heap
    assert caps.board_id is not None
    assert caps.performance is not None
    assert caps.performance.round_trip_ms > 0 and caps.performance.throughput_bytes_per_s > 0


def test_warm_session_skips_detection(output) -> None:
    manager = SessionManager()
    with EmulatorBoard() as board:
        with Device(board.port, output=output, manager=manager) as cold:
            first = cold.capabilities
            cold_trips = cold.link_stats.round_trips
        with Device(board.port, output=output, manager=manager) as warm:
            assert warm.capabilities == first
            assert warm.link_stats.round_trips == 1  # the probe alone
    assert cold_trips > 3


def test_boards_with_a_lasting_id_are_cached_on_disk(tmp_path: Path, output, monkeypatch) -> None:
    monkeypatch.setattr(AttachedEmulator, "lasting_identity", True)  # pretend: real hardware
    options = SessionOptions(capability_cache=tmp_path)
    with EmulatorBoard() as board:
        with Device(board.port, output=output, manager=SessionManager(options)) as device:
            detected = device.capabilities
        files = list(tmp_path.glob("*.json"))
        assert len(files) == 1
        # A new host process (a fresh manager) finds it on disk: no detection.
        with Device(board.port, output=output, manager=SessionManager(options)) as device:
            assert device.capabilities.model_dump(exclude={"detected_at"}) == detected.model_dump(
                exclude={"detected_at"}
            )
            assert device.link_stats.round_trips == 1


def test_emulator_boards_are_not_written_to_disk(tmp_path: Path, output) -> None:
    options = SessionOptions(capability_cache=tmp_path)
    with Device("emulator", output=output, manager=SessionManager(options)):
        pass
    assert list(tmp_path.iterdir()) == []


def test_refresh_detects_again_and_tells_listeners(output) -> None:
    with Device("emulator", output=output, manager=SessionManager()) as device:
        seen: list[DeviceCapabilities] = []

        class Listener:
            def capabilities_changed(self, capabilities: DeviceCapabilities) -> None:
                seen.append(capabilities)

        device.primary_session.add_listener(Listener())  # type: ignore[union-attr]
        before = device.link_stats.round_trips
        refreshed = device.refresh_capabilities()
        assert device.link_stats.round_trips > before
        assert refreshed.detected_at >= device.capabilities.detected_at
        assert seen == []  # nothing changed but the time of detection
        device.manager.capabilities.forget(refreshed.board_id or "")
        device._capabilities.set(refreshed.model_copy(update={"version": "0.0.0"}))
        assert seen and seen[-1].version == "0.0.0"


def test_failed_detection_falls_back_and_says_why(output, caplog, monkeypatch) -> None:
    def broken(name: str) -> str:
        if name == "capabilities":
            return "def _bfw_caps():\n    raise MemoryError('tiny board')\n"
        return original(name)

    original = capability_module.board_source
    monkeypatch.setattr(capability_module, "board_source", broken)
    with (
        caplog.at_level(logging.WARNING),
        Device("emulator", output=output, manager=SessionManager()) as device,
    ):
        caps = device.capabilities
        assert device.eval("1") == 1  # the session still works
    assert not caps.detected
    assert caps.error is not None and "MemoryError" in caps.error and "tiny board" in caps.error
    assert caps.version == "not detected"
    assert caps.features.threads is None
    assert "capability detection failed" in caplog.text


def test_capabilities_of_a_closed_device_are_an_error(output) -> None:
    device = Device("emulator", output=output, open=False)
    with pytest.raises(Exception, match="not open"):
        device.capabilities
