"""Names that say what they are: the primary session vs a new one, thread states as an
enum that still compares with strings, health that prints its name, old names that warn,
and a device opened on a transport handed to it."""

from __future__ import annotations

import pytest

from belayfw import (
    Device,
    DeviceDisconnected,
    SessionHealth,
    SessionManager,
    SessionState,
    ThreadState,
    thread,
)
from belayfw.transports.scripted import ScriptedTransport, Vanish

from .conftest import OutputCollector


class Ticker(Device):
    @thread
    def tick():
        import time

        while True:
            time.sleep_ms(5)


def test_primary_session_and_new_session_are_different_sessions(output: OutputCollector) -> None:
    manager = SessionManager()
    with Ticker("emulator", output=output, manager=manager) as device:
        primary = device.primary_session
        assert primary is not None and primary.primary
        with manager.new_session(device) as extra:
            assert extra is not primary and not extra.primary
        assert extra.state is SessionState.TERMINATED
        assert primary.state is SessionState.ACTIVE


def test_old_names_warn_and_still_work(output: OutputCollector) -> None:
    manager = SessionManager()
    with Ticker("emulator", output=output, manager=manager) as device:
        with pytest.warns(DeprecationWarning, match="Device.session is now Device.primary_session"):
            assert device.session is device.primary_session
        with (
            pytest.warns(DeprecationWarning, match="is now SessionManager.new_session"),
            manager.session(device) as extra,
        ):
            assert extra.state is SessionState.ACTIVE
        assert extra.state is SessionState.TERMINATED


def test_thread_state_is_an_enum_that_compares_with_strings(output: OutputCollector) -> None:
    with Ticker("emulator", output=output) as device:
        handle = device.tick()
        assert handle.state is ThreadState.RUNNING
        assert handle.stop()
        assert handle.state is ThreadState.STOPPED
        assert handle.state == "stopped"
        assert f"{handle.state}" == "stopped"


def test_health_prints_its_name() -> None:
    assert str(SessionHealth.DEGRADED) == "degraded"
    assert f"{SessionHealth.CRITICAL}" == "critical"
    assert SessionHealth.CRITICAL > SessionHealth.HEALTHY  # still ordered


def test_a_device_opens_on_the_transport_it_is_given() -> None:
    transport = ScriptedTransport([Vanish("unplugged")], description="bench-rig")
    with pytest.raises(DeviceDisconnected, match="unplugged"):
        Device(transport=transport)
    assert transport.writes, "the device talked to the transport it was given"
    assert transport.closed
