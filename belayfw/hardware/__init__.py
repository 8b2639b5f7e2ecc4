"""Virtual hardware: drive and observe an emulator board's pins, buses and peripherals.

An emulator board (``emulator``, ``emulator:pico``, ``emulator:esp32``) runs
board code against belayfw's ``machine`` module; ``dev.hardware`` wires that
module to the test::

    hw = dev.hardware
    hw.pin(14).drive(0)                       # a button press; Pin.irq handlers run
    hw.i2c(0).attach(0x48, MySensor())        # a device model in host Python
    assert hw.pin(15).level == 1              # the relay the board switched on
    assert hw.uart(0).readline() == b"on\\n"  # what the board logged

The traffic runs on a side channel created with the board, never on the REPL
stream (see :mod:`belayfw.hardware.channel`). See docs/virtual-hardware.md.
"""

from __future__ import annotations

import threading
import weakref

from belayfw.errors import NotAnEmulator
from belayfw.hardware.buses import VirtualI2C, VirtualSPI
from belayfw.hardware.models import I2CDevice, RegisterDevice, SPIDevice
from belayfw.hardware.pins import (
    NeoPixelStrip,
    PWMOutput,
    VirtualADC,
    VirtualPin,
    celsius_to_u16,
    u16_to_celsius,
)
from belayfw.hardware.uart import VirtualUART
from belayfw.hardware.virtual import VirtualHardware
from belayfw.hardware.wiring import Edge
from belayfw.transports.emulator import AttachedEmulator, EmulatorTransport

__all__ = [
    "Edge",
    "I2CDevice",
    "NeoPixelStrip",
    "PWMOutput",
    "RegisterDevice",
    "SPIDevice",
    "VirtualADC",
    "VirtualHardware",
    "VirtualI2C",
    "VirtualPin",
    "VirtualSPI",
    "VirtualUART",
    "celsius_to_u16",
    "hardware_of",
    "u16_to_celsius",
]

_boards: weakref.WeakKeyDictionary[EmulatorTransport, VirtualHardware] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def hardware_of(transport: object) -> VirtualHardware:
    """The virtual hardware of the board behind ``transport`` (one per board, made on first use).

    Raises :class:`~belayfw.errors.NotAnEmulator` for any board that is not an emulator.
    """
    board = transport.board.transport if isinstance(transport, AttachedEmulator) else transport
    if not isinstance(board, EmulatorTransport):
        description = getattr(transport, "description", type(transport).__name__)
        raise NotAnEmulator(
            f"{description} is not an emulator board: virtual hardware (dev.hardware) "
            "drives the emulator's pins and buses; a real board has real ones"
        )
    with _lock:
        hardware = _boards.get(board)
        if hardware is None:
            hardware = _boards[board] = VirtualHardware(board)
        return hardware
