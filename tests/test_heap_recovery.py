"""The unix port's locked heap: detected, the emulator board restarted, the device usable."""

from __future__ import annotations

import pytest

from belayfw import Device, HeapLocked, TaskTimeout, setup, task
from belayfw.session.lifecycle import SessionState


class Churner(Device):
    @setup
    def init(base=10):
        offset = base

    @task(timeout=0.05)
    def churn():
        while True:
            x = [0] * 16

    @task
    def add(a):
        return a + offset


def test_timed_out_allocating_tasks_never_leave_a_failing_device(output) -> None:
    """An interrupt inside a collection locked the heap for good (1 to 9 times in 50).

    Every call after a timeout must work; the timed-out call itself raises
    TaskTimeout, or HeapLocked saying the board was recovered.
    """
    with Churner("emulator", output=output) as device:
        for n in range(50):
            try:
                device.churn()
            except TaskTimeout:
                pass
            except HeapLocked as error:
                assert error.recovered and error.recoverable, error
                assert error.type_name == "MemoryError"
            assert device.add(n) == n + 10  # the setup's global is there after a restart


def test_a_heap_that_stays_locked_restarts_the_emulator_with_code_and_setups(output) -> None:
    with Churner("emulator", output=output) as device:
        device.exec("import micropython")
        with pytest.raises(HeapLocked) as caught:
            device.exec("micropython.heap_lock()")
        error = caught.value
        assert error.restarted and error.recovered
        assert "restarted the emulator board" in str(error)
        assert device.add(1) == 11
        assert device.eval("'micropython' in globals()") is False  # a fresh board
        assert device.primary_session is not None
        assert device.primary_session.state is SessionState.ACTIVE
