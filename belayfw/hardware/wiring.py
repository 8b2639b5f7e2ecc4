"""What the views (pins, buses, UARTs) need from the board's virtual hardware.

:class:`~belayfw.hardware.virtual.VirtualHardware` implements it; the views
depend on this protocol only, so the modules do not import each other in a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from belayfw.hardware.models import I2CDevice, SPIDevice

#: A pin or ADC channel as board code names it: ``Pin(25)``, ``Pin("LED")``.
PinId = int | str
#: A bus as board code names it: ``I2C(0)``; ``"soft"`` for SoftI2C / SoftSPI.
BusId = int | str


class Edge(NamedTuple):
    """A change of a pin's level: when (``time.time()`` seconds), to what, and who drove it."""

    at: float
    level: int
    by: str  # "board" (its output) or "host" (a test's drive)


class Wiring(Protocol):
    description: str

    def settle(self) -> None: ...
    def drive(self, pin: PinId, level: int | None) -> None: ...
    def level(self, pin: PinId) -> int: ...
    def history(self, pin: PinId) -> list[Edge]: ...
    def set_adc(
        self, channel: PinId, value: int | None, source: Callable[[], float] | None
    ) -> None: ...
    def attach_i2c(self, bus: BusId, address: int, model: I2CDevice | None) -> None: ...
    def attach_spi(self, bus: BusId, model: SPIDevice, cs: PinId | None) -> None: ...
    def uart_send(self, uart: int, data: bytes) -> None: ...
    def pixels(self, pin: PinId) -> tuple[int, bytes]: ...
    def pixel_writes(self, pin: PinId) -> int: ...
