"""belay 0.30.1's generator task on a given port: prints {"rate": values per second}.

Run by ``streaming.py`` with the Python of a venv holding belay 0.30.1 (belay's
own dependencies stay out of belayfw's). The board is an emulator (the unix
port), which exits on a Ctrl-C while idle and on a soft reset, so belay's
connect is told to skip both; nothing else of belay's is changed.
"""

from __future__ import annotations

import json
import sys
import time

import belay
import belay.pyboard as pyboard

_enter_raw_repl = pyboard.Pyboard.enter_raw_repl
pyboard.Pyboard.cancel_running_program = lambda self: None
pyboard.Pyboard.enter_raw_repl = lambda self, soft_reset=True: _enter_raw_repl(self, False)
_exec_snippet = belay.Device._exec_snippet


def _exec_snippet_but_imports(self, *names, **kwargs):
    names = tuple(name for name in names if not name.startswith("convenience_imports"))
    return _exec_snippet(self, *names, **kwargs) if names else None


belay.Device._exec_snippet = _exec_snippet_but_imports

port, values, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
device = belay.Device(port, auto_sync_time=False)


@device.task
def count(n):
    for i in range(n):  # noqa: UP028 - the same board code as streaming.py
        yield i


assert list(count(10)) == list(range(10))
best = float("inf")
for _ in range(repeats):
    started = time.perf_counter()
    got = sum(1 for _ in count(values))
    best = min(best, time.perf_counter() - started)
    assert got == values
device.close()
print(json.dumps({"rate": values / best}))
