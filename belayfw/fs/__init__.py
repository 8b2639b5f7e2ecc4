"""The board's files: ``dev.fs`` (list, read, write, transfer, hash) and ``dev.sync``."""

from belayfw.fs.files import BoardFS, DiskUsage, FileEntry, FileStat
from belayfw.fs.paths import board_path
from belayfw.fs.sync import SyncProgress, SyncReport
from belayfw.fs.transfer import Progress

__all__ = [
    "BoardFS",
    "DiskUsage",
    "FileEntry",
    "FileStat",
    "Progress",
    "SyncProgress",
    "SyncReport",
    "board_path",
]
