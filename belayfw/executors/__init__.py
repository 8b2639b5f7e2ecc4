"""One executor per kind of board method: task, thread, setup, teardown.

They reach the board only through :class:`BoardCaller`, the public protocol
``Device`` implements (and that new board-side features such as the file
system or streams use too); :class:`BoardProgram` holds one device's four.
"""

from belayfw.executors.base import BoardCaller
from belayfw.executors.program import BoardProgram
from belayfw.executors.setup import SetupExecutor
from belayfw.executors.task import TaskExecutor
from belayfw.executors.teardown import TeardownExecutor
from belayfw.executors.thread import ThreadExecutor, ThreadHandle, ThreadState

__all__ = [
    "BoardCaller",
    "BoardProgram",
    "SetupExecutor",
    "TaskExecutor",
    "TeardownExecutor",
    "ThreadExecutor",
    "ThreadHandle",
    "ThreadState",
]
