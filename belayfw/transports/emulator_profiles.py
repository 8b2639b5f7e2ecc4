"""The kinds of board the emulator imitates, and the options its port strings take."""

from __future__ import annotations

import urllib.parse

from pydantic import BaseModel, ConfigDict

from belayfw.errors import ConfigurationError, did_you_mean


class EmulatorProfile(BaseModel):
    """A kind of board the emulator imitates: heap and flash sizes, platform, port modules.

    ``platform`` is what ``sys.platform`` says on the board; ``board_modules``
    are belayfw's stand-ins for the port's own modules (``rp2``, ``esp32``),
    shipped in the board's ROM file system only on this profile, so importing
    another port's module fails as it would on the real board.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    heap_bytes: int
    flash_bytes: int
    description: str
    platform: str = "linux"
    board_modules: tuple[str, ...] = ()


PROFILES: dict[str, EmulatorProfile] = {
    profile.name: profile
    for profile in (
        EmulatorProfile(
            name="unix", heap_bytes=2048 * 1024, flash_bytes=2048 * 1024, description="2 MB heap"
        ),
        EmulatorProfile(
            name="pico",
            heap_bytes=192 * 1024,
            flash_bytes=1408 * 1024,
            description="RP2040-like, 192 KB heap, 1.4 MB flash",
            platform="rp2",
            board_modules=("rp2",),
        ),
        EmulatorProfile(
            name="esp32",
            heap_bytes=110 * 1024,
            flash_bytes=1536 * 1024,
            description="ESP32-like, 110 KB heap, 1.5 MB flash",
            platform="esp32",
            board_modules=("esp32",),
        ),
    )
}


_PORT_OPTIONS = ("flash", "flash_size")


def port_options(port: str, query: str) -> dict[str, str]:
    """``flash=...&flash_size=...`` from a port string; unknown options are refused."""
    options: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key not in _PORT_OPTIONS:
            raise ConfigurationError(
                f"unknown option {key!r}{did_you_mean(key, _PORT_OPTIONS)} in port {port!r}; "
                "emulator ports take "
                f"{' and '.join(_PORT_OPTIONS)} (emulator:pico?flash=board.bin&flash_size=2M)"
            )
        if not value:
            raise ConfigurationError(f"option {key!r} in port {port!r} needs a value")
        options[key] = value
    return options
