"""Sessions by hand: a manager, a custom resource, limits, events and cleanup.

The seeds' DeviceTimerResource made real: a board ``machine.Timer`` that the
session deinitialises when it ends, even if the work inside failed.

    python examples/session_manager.py [PORT]
"""

import sys

from belayfw import (
    BaseSessionResource,
    Device,
    SessionLimitExceeded,
    SessionLimits,
    SessionManager,
    SessionOptions,
    setup,
    task,
    thread,
)


class DeviceTimerResource(BaseSessionResource):
    """A periodic board timer; cleanup() stops it on the board."""

    resource_type = "DeviceTimer"
    estimated_cost = 50  # bytes of board RAM, roughly

    def __init__(self, device: Device, name: str, period_ms: int) -> None:
        super().__init__(name)
        self.device = device
        device.exec(
            f"{name}_ticks = 0\n"
            f"def _{name}_tick(timer):\n"
            f"    global {name}_ticks\n"
            f"    {name}_ticks += 1\n"
            f"{name} = Timer(period={period_ms}, callback=_{name}_tick)"
        )

    def cleanup(self) -> None:
        self.device.exec(f"{self.resource_id}.deinit()")


class Lab(Device):
    @setup
    def init():
        import time

        from machine import Timer

    @task
    def ticks(name):
        return globals()[name + "_ticks"]

    @thread
    def logger(period_ms):
        while True:
            time.sleep_ms(period_ms)


port = sys.argv[1] if len(sys.argv) > 1 else "emulator"
manager = SessionManager(SessionOptions(limits=SessionLimits(max_threads=1)))

with Lab(port, manager=manager) as lab:
    print(
        "capabilities:",
        lab.capabilities.implementation,
        lab.capabilities.version,
        "threads" if lab.capabilities.supports("threads") else "no threads",
    )
    with manager.new_session(lab) as session:
        session.resources.register(DeviceTimerResource(lab, "sampler", 10))
        session.store.set("experiment", "warm-up")
        lab.logger(50)
        try:
            lab.logger(50)
        except SessionLimitExceeded as error:
            print("second thread refused:", error.args[0].split(";")[0])
        print("health:", session.health.name.lower())
        stats = session.resources.stats()
        print(
            "resources:",
            {kind: (s.count, s.total_cost) for kind, s in stats.by_type.items()},
            "threads:",
            stats.threads,
        )
        print("timer ticking:", lab.ticks("sampler") >= 0)
        print("stats inside:", manager.stats())
    print("session ended:", session.state.name)
    print("events:", ", ".join(event.type.value for event in session.events))
    before = lab.eval("sampler_ticks")
    lab.exec("time.sleep_ms(50)")  # five timer periods on the board
    print("timer stopped:", lab.eval("sampler_ticks") == before)
    print("device session still active:", lab.primary_session.state.name)
print("stats after:", manager.stats())
