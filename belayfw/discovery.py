"""Which board ``Device()`` means when no port is given.

Order: the ``BELAYFW_PORT`` environment variable; else the single attached USB
serial port whose vendor id belongs to a MicroPython board maker; else the
embedded emulator, with a warning on stderr saying so.
"""

from __future__ import annotations

import logging
import os

from serial.tools import list_ports

from belayfw.errors import BelayError
from belayfw.transports import check_port

log = logging.getLogger("belayfw")

#: USB vendor ids of boards that usually run MicroPython (or its USB bridges).
MICROPYTHON_USB_VENDORS: dict[int, str] = {
    0xF055: "MicroPython (pyboard and native-USB ports)",
    0x2E8A: "Raspberry Pi (RP2040 / RP2350)",
    0x303A: "Espressif (native USB)",
    0x239A: "Adafruit",
    0x1A86: "WCH CH340 USB-UART (ESP32 boards)",
    0x10C4: "Silicon Labs CP210x USB-UART (ESP32 boards)",
}


class PortSelectionError(BelayError):
    """No single board can be chosen without a port."""

    suggestion = "pass the port explicitly, e.g. Device('/dev/ttyACM0'), or set BELAYFW_PORT"


def micropython_ports() -> list[str]:
    """Attached serial ports whose USB vendor id is a known MicroPython board maker."""
    return sorted(
        port.device for port in list_ports.comports() if port.vid in MICROPYTHON_USB_VENDORS
    )


def resolve_port(port: str | None) -> str:
    """The port string to open for ``port`` (None means: choose one); typos are refused."""
    if port is not None:
        return check_port(port)
    from_env = os.environ.get("BELAYFW_PORT")
    if from_env:
        return from_env
    found = micropython_ports()
    if len(found) == 1:
        log.info("belayfw: no port given; using the MicroPython board on %s", found[0])
        return found[0]
    if len(found) > 1:
        raise PortSelectionError(
            f"no port given and several boards are attached: {', '.join(found)}"
        )
    # A warning, so it shows even where logging was never set up: code that
    # meant a real board must not run on the emulator without a word.
    log.warning(
        "belayfw: no port given and no MicroPython USB board attached; using the emulator "
        "(pass a port, or set BELAYFW_PORT, to choose)"
    )
    return "emulator"
