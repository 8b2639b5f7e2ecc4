"""The host's half of an emulator board's virtual hardware: its circuit, and what the board did."""

from __future__ import annotations

import binascii
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from belayfw.errors import ConfigurationError
from belayfw.hardware.channel import SideChannel
from belayfw.hardware.models import I2CDevice, SPIDevice
from belayfw.hardware.pins import PWMOutput
from belayfw.hardware.uart import UARTBuffer
from belayfw.hardware.wiring import BusId, Edge, PinId

if TYPE_CHECKING:
    from belayfw.transports.emulator import EmulatorTransport

log = logging.getLogger(__name__)

#: Edges kept per pin (the oldest go first), so a pin toggling for hours stays bounded.
HISTORY_EDGES = 10_000
#: The pico's on-chip temperature sensor: ADC channel 4.
TEMPERATURE_CHANNEL = 4
_ENODEV = 19


class WiredBoard:
    """The host's half of one emulator board's virtual hardware: the circuit and what the board did.

    The circuit (driven inputs, ADC sources, bus models) survives a board reset,
    as a real board's wiring does; what the board did (outputs, PWM, pixels) is
    lost with its RAM. :class:`~belayfw.hardware.virtual.VirtualHardware` and its
    views are the API; this class does the work.
    """

    def __init__(self, transport: EmulatorTransport) -> None:
        self.description = transport.description
        self._transport = weakref.ref(transport)
        self._lock = threading.RLock()
        # The circuit, set by tests (replayed after a board restart).
        self._inputs: dict[PinId, int] = {}
        self._adc_values: dict[PinId, int] = {}
        self._adc_sources: dict[PinId, Callable[[], float]] = {}
        self._i2c: dict[tuple[BusId, int], I2CDevice] = {}
        self._spi: dict[BusId, list[tuple[SPIDevice, PinId | None]]] = {}
        # What the board did, learnt from its events.
        self._outputs: dict[PinId, int] = {}
        self._edges: dict[PinId, deque[Edge]] = {}
        self._pwm: dict[PinId, PWMOutput] = {}
        self._np: dict[PinId, tuple[int, bytes]] = {}
        self._np_writes: dict[PinId, int] = {}
        self._uarts: dict[int, UARTBuffer] = {}
        self._channel = self._connect(transport)
        transport.restart_listeners.append(self._board_restarted)

    # -- for the views (pins.py, buses.py, uart.py): the Wiring protocol ---------------

    def settle(self) -> None:
        """Take in every event the board sent so far (all those of the calls that returned)."""
        self._channel.pump()

    def drive(self, pin: PinId, level: int | None) -> None:
        with self._lock:
            before = self._inputs.get(pin)
            if level is None:
                self._inputs.pop(pin, None)
            else:
                self._inputs[pin] = level
        levels = self._channel.command("pin", pin, level)
        if levels is not None:  # the board's level before and after
            changed, after = levels[0] != levels[1], levels[1]
        else:
            changed, after = level is not None and level != before, level or 0
        if changed:
            self._record(pin, after, "host", time.time())

    def level(self, pin: PinId) -> int:
        level = self._channel.command("level", pin)
        if level is None:  # the board has not loaded `machine` yet
            with self._lock:
                return self._inputs.get(pin, 0)
        return int(level)

    def history(self, pin: PinId) -> list[Edge]:
        self.settle()
        with self._lock:
            return sorted(self._edges.get(pin, ()))

    def set_adc(
        self, channel: PinId, value: int | None, source: Callable[[], float] | None
    ) -> None:
        with self._lock:
            self._adc_values.pop(channel, None)
            self._adc_sources.pop(channel, None)
            if source is not None:
                self._adc_sources[channel] = source
            elif value is not None:
                self._adc_values[channel] = value
        self._channel.command("adc", channel, value)

    def attach_i2c(self, bus: BusId, address: int, model: I2CDevice | None) -> None:
        with self._lock:
            if model is None:
                self._i2c.pop((bus, address), None)
            else:
                self._i2c[(bus, address)] = model
        self._channel.command("i2c", bus, address, model is not None)

    def attach_spi(self, bus: BusId, model: SPIDevice, cs: PinId | None) -> None:
        with self._lock:
            self._spi.setdefault(bus, []).append((model, cs))
        self._channel.command("spi", bus, True)

    def unwire(self) -> None:
        """Take the test's circuit away: inputs float, ADCs unset, no bus models, history gone."""
        self.settle()  # what the board sent before now belongs to the test that ends, not the next
        with self._lock:
            inputs, self._inputs = list(self._inputs), {}
            channels = [*self._adc_values, *self._adc_sources]
            self._adc_values.clear()
            self._adc_sources.clear()
            i2c, self._i2c = list(self._i2c), {}
            spi, self._spi = list(self._spi), {}
            self._edges.clear()
            for buffer in self._uarts.values():
                buffer.clear()
        for pin in inputs:
            self._channel.command("pin", pin, None)
        for channel in channels:
            self._channel.command("adc", channel, -1)
        for bus, address in i2c:
            self._channel.command("i2c", bus, address, False)
        for bus in spi:
            self._channel.command("spi", bus, False)

    def uart_send(self, uart: int, data: bytes) -> None:
        self._channel.command("uart", uart, binascii.hexlify(data).decode())

    def uart_buffer(self, uart: int) -> UARTBuffer:
        with self._lock:
            return self._uarts.setdefault(uart, UARTBuffer())

    def pwm(self, pin: PinId) -> PWMOutput | None:
        self.settle()
        with self._lock:
            return self._pwm.get(pin)

    def adc_value(self, channel: PinId) -> int | None:
        """The constant reading set on ``channel``, if any."""
        with self._lock:
            return self._adc_values.get(channel)

    def pixels(self, pin: PinId) -> tuple[int, bytes]:
        self.settle()
        with self._lock:
            return self._np.get(pin, (3, b""))

    def pixel_writes(self, pin: PinId) -> int:
        self.settle()
        with self._lock:
            return self._np_writes.get(pin, 0)

    # -- the board's messages -------------------------------------------------------------

    def _on_message(self, message: list[Any]) -> Any:
        op, args = message[0], message[1:]
        if op in ("adc", "i2c", "spi"):
            return self._request(op, args)  # model code runs without our lock held
        if op == "pin":
            pin, level, at_ns = args
            with self._lock:
                self._outputs[pin] = level
            self._record(pin, level, "board", at_ns / 1e9)
            return None
        with self._lock:
            if op == "mode":
                pin, mode, level = args
                if mode != 0:
                    self._outputs[pin] = level
            elif op == "pwm":
                pin, freq, duty = args
                self._pwm[pin] = PWMOutput(int(freq), int(duty))
            elif op == "np":
                pin, bpp, data = args
                self._np[pin] = (int(bpp), binascii.unhexlify(data))
                self._np_writes[pin] = self._np_writes.get(pin, 0) + 1
            elif op == "uart":
                uart, data = args
                self.uart_buffer(uart).extend(binascii.unhexlify(data))
            else:
                raise OSError(5, f"unknown side channel message {op!r}")
        return None

    def _request(self, op: str, args: list[Any]) -> Any:
        if op == "adc":
            source = self._adc_sources.get(args[0])
            value = source() if source is not None else self._adc_values.get(args[0], 32768)
            return max(0, min(65535, round(value)))
        if op == "i2c":
            bus, address, written, nread = args
            model = self._i2c.get((bus, address))
            if model is None:
                raise OSError(_ENODEV, f"no I2C device at {address:#04x}")
            if written:
                model.write(binascii.unhexlify(written))
            if not nread:
                return ""
            data = bytes(model.read(nread))
            if len(data) != nread:
                raise OSError(5, f"I2C model {model!r} returned {len(data)} bytes, not {nread}")
            return binascii.hexlify(data).decode()
        if op == "spi":
            bus, written = args
            data = binascii.unhexlify(written)
            reply = b"\xff" * len(data)
            with self._lock:
                devices = list(self._spi.get(bus, ()))
            for device, cs in devices:
                if cs is None or self._outputs.get(cs, 1) == 0:
                    reply = bytes(device.transfer(data))
            if len(reply) != len(data):
                raise OSError(5, f"SPI model returned {len(reply)} bytes, not {len(data)}")
            return binascii.hexlify(reply).decode()
        raise OSError(5, f"unknown side channel request {op!r}")

    def _record(self, pin: PinId, level: int, by: str, at: float) -> None:
        with self._lock:
            self._edges.setdefault(pin, deque(maxlen=HISTORY_EDGES)).append(Edge(at, level, by))
            selected = [m for models in self._spi.values() for m, cs in models if cs == pin]
        if by == "board":  # a chip-select line the board drives
            for model in selected:
                (model.select if level == 0 else model.deselect)()

    # -- the board process ----------------------------------------------------------------

    def _connect(self, transport: EmulatorTransport) -> SideChannel:
        channel = SideChannel(transport.hardware_socket, self._on_message, self.description)
        snapshot = channel.command("watch")
        if snapshot:
            with self._lock:
                for pin, level in snapshot["out"]:
                    self._outputs[pin] = level
                for pin, freq, duty in snapshot["pwm"]:
                    self._pwm[pin] = PWMOutput(int(freq), int(duty))
                for pin, bpp, data in snapshot["np"]:
                    self._np[pin] = (int(bpp), binascii.unhexlify(data))
        return channel

    def _board_restarted(self) -> None:
        """A new board process (a reset): same circuit, empty RAM."""
        transport = self._transport()
        if transport is None:
            return
        self._channel.close()
        with self._lock:
            self._outputs.clear()
            self._pwm.clear()
            self._np.clear()
        self._channel = self._connect(transport)
        with self._lock:
            inputs = dict(self._inputs)
            adc = {**self._adc_values, **dict.fromkeys(self._adc_sources)}
            i2c = list(self._i2c)
            spi = list(self._spi)
        for pin, level in inputs.items():
            self._channel.command("pin", pin, level)
        for channel, value in adc.items():
            self._channel.command("adc", channel, value)
        for bus, address in i2c:
            self._channel.command("i2c", bus, address, True)
        for bus in spi:
            self._channel.command("spi", bus, True)


def check_id(what: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigurationError(f"a {what} is named by a number or a name, not {value!r}")
    return value
