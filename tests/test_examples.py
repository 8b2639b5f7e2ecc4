"""Every example runs on the emulator board and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "session_manager.py": [
        "capabilities: micropython",
        "second thread refused: cannot start logger",
        "health: degraded",
        "resources: {'DeviceTimer': (1, 50)} threads: 1",
        "session ended: TERMINATED",
        "events: created, started, resource_limit_exceeded, health_changed, terminated",
        "timer stopped: True",
        "device session still active: ACTIVE",
        "stats after: active=0 total=2",
    ],
    "thread_monitor.py": [
        "[temperature] sample 0 at",
        "[memory] free",
        "host saw the thread fail: RuntimeError: sensor bus stuck",
        "('faulty', 'failed')",
        "stopping memory thread: True",
        "after close: [('temperature', 'stopped'), ('memory', 'stopped')]",
    ],
    "inheritance_mixins.py": [
        "board methods: init_pins, describe, lights_off, memory, blink, led_state",
        "describe: station with blinker, diagnostics",
        "blinking: True",
        "blink stopped at close: stopped",
    ],
    "sensor_station.py": [
        "blinking: blink alive",
        "status again (cached, no round trip): True",
        "collected 10 samples",
        "blink stopped: stopped",
    ],
    "thermostat.py": [
        "cold room: (18.0, True) relay 1",
        "warm room: (22.5, False) relay 0",
        "set point after two presses: 21.0",
        "log: ['18.00 C heat', '22.50 C idle', 'setpoint 20.5', 'setpoint 21.0']",
    ],
    "level_meter.py": [
        "flash id: ef4018 selected 1 time(s)",
        "knob at 0.00 V: 0 lit [........]",
        "knob at 1.65 V: 4 lit [####....]",
        "knob at 3.30 V: 8 lit [########]",
    ],
    "hello_board.py": [
        "board says: micropython linux",
        "sum of squares on the board: 285",
        "ZeroDivisionError",
        "board still answers: yes",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for expected in EXPECTED[name]:
        assert expected in result.stdout


def test_every_example_is_tested() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == set(EXPECTED)
