"""Serving a belayfw emulator board to other programs as if it were a hardware board.

``board.py`` gives the board a real board's manners toward any serial client
(a soft reset reboots it instead of ending it); ``pty.py`` serves it on a
pseudo-terminal path that belayfw, mpremote or an IDE opens like a USB port.
``network.py`` serves it over TCP, as RFC 2217 or raw bytes, the way ser2net does.
"""

from belayfw.export.board import ExportedBoard
from belayfw.export.network import NetworkExport
from belayfw.export.pty import PtyExport

__all__ = ["ExportedBoard", "NetworkExport", "PtyExport"]
