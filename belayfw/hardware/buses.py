"""An emulator board's I2C and SPI buses, to attach device models (:mod:`.models`) to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from belayfw.errors import ConfigurationError
from belayfw.hardware.models import I2CDevice, SPIDevice
from belayfw.hardware.wiring import BusId, PinId

if TYPE_CHECKING:
    from belayfw.hardware.wiring import Wiring


class VirtualI2C:
    """One I2C bus of the board (``I2C(0)``: 0, ``SoftI2C(...)``: ``"soft"``)."""

    def __init__(self, hardware: Wiring, bus: BusId) -> None:
        self._hardware = hardware
        self.bus = bus

    def attach(self, address: int, model: I2CDevice) -> I2CDevice:
        """Put ``model`` on the bus at ``address``: ``scan()`` finds it, transfers reach it."""
        if not isinstance(address, int) or not 0x08 <= address <= 0x77:
            raise ConfigurationError(f"an I2C address is 0x08-0x77, not {address!r}")
        if not isinstance(model, I2CDevice):
            raise ConfigurationError(f"an I2C model is an I2CDevice, not {model!r}")
        self._hardware.attach_i2c(self.bus, address, model)
        return model

    def detach(self, address: int) -> None:
        """Take the device at ``address`` off the bus (the board then gets ENODEV)."""
        self._hardware.attach_i2c(self.bus, address, None)


class VirtualSPI:
    """One SPI bus of the board (``SPI(0)``: 0, ``SoftSPI(...)``: ``"soft"``)."""

    def __init__(self, hardware: Wiring, bus: BusId) -> None:
        self._hardware = hardware
        self.bus = bus

    def attach(self, model: SPIDevice, cs: PinId | None = None) -> SPIDevice:
        """Put ``model`` on the bus; with ``cs`` it only answers while that pin is low."""
        if not isinstance(model, SPIDevice):
            raise ConfigurationError(f"an SPI model is an SPIDevice, not {model!r}")
        self._hardware.attach_spi(self.bus, model, cs)
        return model
