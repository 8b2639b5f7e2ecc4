"""The virtual hardware of an emulator board: what tests drive and what they observe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from belayfw.errors import ConfigurationError
from belayfw.hardware.buses import VirtualI2C, VirtualSPI
from belayfw.hardware.pins import (
    NeoPixelStrip,
    PWMOutput,
    VirtualADC,
    VirtualPin,
    celsius_to_u16,
    u16_to_celsius,
)
from belayfw.hardware.uart import VirtualUART
from belayfw.hardware.wired import TEMPERATURE_CHANNEL, WiredBoard, check_id
from belayfw.hardware.wiring import BusId, PinId

if TYPE_CHECKING:
    from belayfw.transports.emulator import EmulatorTransport


class VirtualHardware:
    """Pins, ADC, PWM, buses, UARTs and pixels of one emulator board, seen from the host.

    Get it from a device (``dev.hardware``); it belongs to the board, so every
    device attached to the same :class:`~belayfw.EmulatorBoard` sees the same
    wiring. The wiring (driven inputs, ADC sources, bus models) survives a
    board reset, as a real board's circuit does; what the board did (outputs,
    PWM, pixels) is lost with its RAM.
    """

    def __init__(self, transport: EmulatorTransport) -> None:
        self._wired = WiredBoard(transport)
        self.description = self._wired.description

    def pin(self, pin: PinId) -> VirtualPin:
        """Pin ``pin`` as board code names it (``Pin(25)``: 25, ``Pin("LED")``: "LED")."""
        return VirtualPin(self._wired, check_id("pin", pin))

    def adc(self, channel: PinId) -> VirtualADC:
        """ADC channel ``channel`` as board code names it (``ADC(26)``/``ADC(Pin(26))``: 26)."""
        return VirtualADC(self._wired, check_id("ADC channel", channel))

    def pwm(self, pin: PinId) -> PWMOutput | None:
        """What the board last set PWM on ``pin`` to, or ``None`` if it has not used it."""
        return self._wired.pwm(pin)

    @property
    def temperature(self) -> float:
        """Degrees C the board's ``ADC(4)`` reads (the pico's on-chip sensor; 25 unless set)."""
        reading = self._wired.adc_value(TEMPERATURE_CHANNEL)
        if reading is None:
            reading = celsius_to_u16(25.0)
        return round(u16_to_celsius(reading), 1)

    @temperature.setter
    def temperature(self, celsius: float) -> None:
        self.adc(TEMPERATURE_CHANNEL).set(celsius_to_u16(celsius))

    def i2c(self, bus: BusId = 0) -> VirtualI2C:
        """I2C bus ``bus`` (``I2C(0)``: 0; ``SoftI2C``: ``"soft"``), to attach device models to."""
        return VirtualI2C(self._wired, check_id("I2C bus", bus))

    def spi(self, bus: BusId = 0) -> VirtualSPI:
        """SPI bus ``bus`` (``SPI(0)``: 0; ``SoftSPI``: ``"soft"``), to attach device models to."""
        return VirtualSPI(self._wired, check_id("SPI bus", bus))

    def uart(self, uart: int) -> VirtualUART:
        """UART ``uart`` of the board as a byte stream: read its TX, write to its RX."""
        if not isinstance(uart, int) or isinstance(uart, bool):
            raise ConfigurationError(f"a UART is named by its number, not {uart!r}")
        return VirtualUART(self._wired, uart, self._wired.uart_buffer(uart))

    def neopixel(self, pin: PinId) -> NeoPixelStrip:
        """The strip of ``neopixel.NeoPixel`` objects on ``pin``."""
        return NeoPixelStrip(self._wired, check_id("pin", pin))

    def unwire(self) -> None:
        """Take this test's circuit away (a board shared between tests starts the next bare).

        Driven pins float again, ADC channels are unset, bus models detached,
        pin history and unread UART output dropped. What the board itself set
        (outputs, PWM, pixels) stays: it is the board's state, not the circuit's.
        """
        self._wired.unwire()

    def __repr__(self) -> str:
        return f"<VirtualHardware of {self.description}>"
