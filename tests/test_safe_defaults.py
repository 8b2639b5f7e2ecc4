"""Visible, safe defaults: what belayfw does on its own is said, and leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

from belayfw import Device, EmulatorBoard, SessionManager, default_manager
from belayfw.session.capabilities import CapabilityCache
from tests.conftest import TEST_CACHE_HOME


def test_tests_never_write_into_the_real_user_cache() -> None:
    for folder in (CapabilityCache().folder, default_manager().capabilities.folder):
        assert Path(folder).is_relative_to(TEST_CACHE_HOME)
    assert os.environ["XDG_CACHE_HOME"] == TEST_CACHE_HOME


def test_a_reflashed_board_is_detected_again() -> None:
    manager = SessionManager()
    with EmulatorBoard() as board:
        with Device(board.port, manager=manager) as device:
            real = device.capabilities
        # The same board id seen before with other firmware (as after a re-flash).
        older = real.model_copy(
            update={"firmware": "3.4.0; MicroPython v1.19.1", "version": "1.19.1"}
        )
        manager.capabilities.put(older, persistent=False)
        with Device(board.port, manager=manager) as device:
            redetected = device.capabilities
            assert redetected.firmware == real.firmware
            assert redetected.version == real.version
            assert redetected is not real
        with Device(board.port, manager=manager) as device:  # and then it is known again
            assert device.capabilities is redetected
