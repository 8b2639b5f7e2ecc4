"""The pytest header's board lines: each configured board's port, firmware and platform.

Each board is opened briefly (its claim taken without waiting, so a board
another worker or program holds is reported as busy rather than waited for).
A board that cannot be opened gets a line saying why; it never stops the run.
"""

from __future__ import annotations

from belayfw.device import Device
from belayfw.errors import BelayError
from belayfw.testing.boards import Settings, with_profile
from belayfw.testing.claims import PortClaims


def describe_boards(settings: Settings) -> list[str]:
    """Header lines: the reset mode, then one line per configured port."""
    lines = [f"belayfw: {len(settings.ports)} board port(s), reset between tests: {settings.reset}"]
    for port in settings.ports:
        lines.append(f"  {describe_board(with_profile(port, settings.profile))}")
    return lines


def describe_board(port: str) -> str:
    """``port: firmware on platform`` or ``port: unavailable (why)``."""
    claims = PortClaims([port], wait=0)
    try:
        with claims.claim(port), Device(port, output=_discard) as device:
            caps = device.capabilities
            return f"{port}: {caps.firmware}, platform {caps.platform}"
    except BelayError as error:
        return f"{port}: unavailable ({type(error).__name__}: {error})"


def _discard(text: str) -> None:
    del text
