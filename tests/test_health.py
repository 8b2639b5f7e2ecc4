"""Limits and health: crossing a limit is recorded, moves health, and refuses extra threads."""

from __future__ import annotations

import pytest

from belayfw import (
    Device,
    EventType,
    SessionHealth,
    SessionLimitExceeded,
    SessionLimits,
    SessionManager,
    SessionOptions,
    task,
    thread,
)


class Busy(Device):
    @thread
    def spin():
        import time

        while True:
            time.sleep_ms(5)

    @task
    def hello():
        return "hello"


def manager_with(**limits: int) -> SessionManager:
    return SessionManager(SessionOptions(limits=SessionLimits(**limits)))


def test_thread_limit_refuses_the_next_thread(output) -> None:
    with Busy("emulator", output=output, manager=manager_with(max_threads=2)) as device:
        session = device.primary_session
        assert session is not None
        device.spin()
        device.spin()
        assert session.health is SessionHealth.HEALTHY
        with pytest.raises(SessionLimitExceeded, match="max_threads is 2") as caught:
            device.spin()
        assert caught.value.recoverable
        assert session.health is SessionHealth.DEGRADED
        exceeded = session.events.of_type(EventType.RESOURCE_LIMIT_EXCEEDED)
        assert exceeded and exceeded[-1].data["limit"] == "max_threads"
        changed = session.events.of_type(EventType.HEALTH_CHANGED)
        assert changed and changed[-1].data == {"old": "HEALTHY", "new": "DEGRADED"}
        device.threads[0].stop()
        device.spin()  # room again
        assert len(device.threads) == 3


def test_deployed_bytes_limit_moves_health_at_open(output) -> None:
    with Busy("emulator", output=output, manager=manager_with(max_deployed_bytes=10)) as device:
        session = device.primary_session
        assert session is not None
        assert session.resources.deployed_bytes > 20
        assert session.health is SessionHealth.CRITICAL
        assert session.events.of_type(EventType.RESOURCE_LIMIT_EXCEEDED)
        assert device.hello() == "hello"  # a limit changes health; it does not stop calls


def test_free_memory_limit_reads_the_board(output) -> None:
    # The esp32 profile has a 110 KB heap: well under half of 250 KB free is critical.
    with Busy(
        "emulator:esp32", output=output, manager=manager_with(min_free_memory=250_000)
    ) as device:
        session = device.primary_session
        assert session is not None
        assert session.health is SessionHealth.CRITICAL  # judged at open, from the probe
        assert session.check_health() is SessionHealth.CRITICAL
    with Busy("emulator", output=output, manager=manager_with(min_free_memory=1_000_000)) as device:
        session = device.primary_session
        assert session is not None
        assert session.health is SessionHealth.HEALTHY
        device.exec("ballast = bytearray(1_400_000)")
        assert session.check_health() is SessionHealth.DEGRADED
        device.exec("ballast = None\nimport gc\ngc.collect()\nballast = bytearray(1_700_000)")
        assert session.check_health() is SessionHealth.CRITICAL
        device.exec("del ballast\nimport gc\ngc.collect()")
        assert session.check_health() is SessionHealth.HEALTHY
        new = [event.data["new"] for event in session.events.of_type(EventType.HEALTH_CHANGED)]
        assert new == ["DEGRADED", "CRITICAL", "HEALTHY"]
