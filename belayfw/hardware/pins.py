"""Pins, ADC channels, PWM outputs and neopixel strips of an emulator board, seen from the host."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from belayfw.errors import ConfigurationError
from belayfw.hardware.wiring import Edge, PinId

if TYPE_CHECKING:
    from belayfw.hardware.wiring import Wiring


class VirtualPin:
    """One board pin: the host drives it as an input and watches it as an output."""

    def __init__(self, hardware: Wiring, pin: PinId) -> None:
        self._hardware = hardware
        self.id = pin

    def drive(self, level: int | bool | None) -> None:
        """Drive the pin from outside (1, 0), or let it float (``None``: its pull decides).

        The board sees the new level at once; a ``Pin.irq`` handler whose trigger
        matches the edge has run when this returns.
        """
        if level is not None and not isinstance(level, int | bool):
            raise ConfigurationError(f"drive() takes 1, 0, True, False or None, not {level!r}")
        value = None if level is None else int(bool(level))
        self._hardware.drive(self.id, value)

    def high(self) -> None:
        self.drive(1)

    def low(self) -> None:
        self.drive(0)

    def release(self) -> None:
        """Stop driving the pin (as :meth:`drive` with ``None``)."""
        self.drive(None)

    def pulse(self, level: int = 1) -> None:
        """Drive ``level`` then back: a button press and release."""
        self.drive(level)
        self.drive(1 - level)

    @property
    def level(self) -> int:
        """The level the board reads on this pin now (its output, the host's drive or its pull)."""
        return self._hardware.level(self.id)

    @property
    def history(self) -> list[Edge]:
        """Every change of level since the host started watching, oldest first."""
        return self._hardware.history(self.id)

    def __repr__(self) -> str:
        return f"<VirtualPin {self.id!r}>"


#: An ADC source: a constant reading, or a function of seconds since it was set.
ADCSource = int | float | Callable[[float], float]

_U16 = 65535
#: RP2040 temperature sensor: 0.706 V at 27 C, falling 1.721 mV per degree, 3.3 V reference.
_TEMP_V27 = 0.706
_TEMP_SLOPE = 0.001721
_VREF = 3.3


def celsius_to_u16(celsius: float) -> int:
    """The ADC(4) reading of an RP2040 at ``celsius`` (the pico's documented formula, inverted)."""
    volts = _TEMP_V27 - (celsius - 27.0) * _TEMP_SLOPE
    return max(0, min(_U16, round(volts / _VREF * _U16)))


def u16_to_celsius(reading: int) -> float:
    """The temperature a pico program computes from an ADC(4) reading."""
    return 27.0 - (reading * _VREF / _U16 - _TEMP_V27) / _TEMP_SLOPE


class VirtualADC:
    """One ADC channel, keyed as board code names it (``ADC(26)``, ``ADC(Pin(26))``: 26)."""

    def __init__(self, hardware: Wiring, channel: PinId) -> None:
        self._hardware = hardware
        self.channel = channel

    def set(self, source: ADCSource) -> None:
        """Make ``read_u16()`` return ``source`` (0-65535), or ``source(t)`` at each read.

        ``t`` is seconds since this call; a function is asked by the board at each
        read (one side-channel round trip), a constant costs the board nothing.
        """
        if callable(source):
            start = time.monotonic()
            self._hardware.set_adc(self.channel, None, lambda: source(time.monotonic() - start))
            return
        if not isinstance(source, int | float) or isinstance(source, bool):
            raise ConfigurationError(f"an ADC reading is a number 0-65535, not {source!r}")
        self._hardware.set_adc(self.channel, _reading(source), None)

    def set_voltage(self, volts: float, vref: float = _VREF) -> None:
        """Make the channel read ``volts`` against a ``vref`` reference."""
        self.set(volts / vref * _U16)


def _reading(value: float) -> int:
    if math.isnan(value) or not 0 <= value <= _U16:
        raise ConfigurationError(f"an ADC reading is 0-65535, not {value!r}")
    return round(value)


class PWMOutput(NamedTuple):
    """What a PWM pin is set to, as the board last set it."""

    freq: int
    duty_u16: int

    @property
    def duty(self) -> float:
        """The duty cycle as a fraction, 0.0-1.0."""
        return self.duty_u16 / _U16


class NeoPixelStrip:
    """The pixels a board's ``neopixel.NeoPixel`` on one pin showed at its last ``write()``."""

    def __init__(self, hardware: Wiring, pin: PinId) -> None:
        self._hardware = hardware
        self.pin = pin

    @property
    def pixels(self) -> list[tuple[int, ...]]:
        """One tuple per pixel ((r, g, b) or (r, g, b, w)); empty before the first write()."""
        bpp, data = self._hardware.pixels(self.pin)
        return [tuple(data[i : i + bpp]) for i in range(0, len(data), bpp)]

    @property
    def writes(self) -> int:
        """How many times the board called ``write()`` since the host started watching."""
        return self._hardware.pixel_writes(self.pin)
