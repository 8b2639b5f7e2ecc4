"""One executor per kind of board method: task, thread, setup, teardown."""

from belayfw.executors.setup import SetupExecutor
from belayfw.executors.task import TaskExecutor
from belayfw.executors.teardown import TeardownExecutor
from belayfw.executors.thread import ThreadExecutor, ThreadHandle, ThreadState

__all__ = [
    "SetupExecutor",
    "TaskExecutor",
    "TeardownExecutor",
    "ThreadExecutor",
    "ThreadHandle",
    "ThreadState",
]
