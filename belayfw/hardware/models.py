"""Device models for an emulator board's I2C and SPI buses, written in host Python.

A model answers the transfers board code makes. I2C models implement
:meth:`I2CDevice.write` and :meth:`I2CDevice.read` (what a real device sees on
the wire: ``readfrom_mem(addr, reg, n)`` arrives as ``write(bytes([reg]))`` then
``read(n)``); most sensors are register maps, which :class:`RegisterDevice`
implements. SPI models implement :meth:`SPIDevice.transfer`. Raising
``OSError`` in a model makes the board's call raise it (a NACK, say).
"""

from __future__ import annotations

import threading


class I2CDevice:
    """A device on an I2C bus. Override :meth:`write` and :meth:`read`."""

    def write(self, data: bytes) -> None:
        """The board wrote ``data`` to this device (one transaction)."""

    def read(self, nbytes: int) -> bytes:
        """The board reads ``nbytes`` from this device; return exactly that many."""
        return bytes(nbytes)


class RegisterDevice(I2CDevice):
    """An I2C device that is a map of byte registers with an auto-incrementing pointer.

    A write sets the register pointer (its first byte) and stores the rest from
    there; a read returns bytes from the pointer on. Subclasses fill
    :attr:`registers` and may override :meth:`on_read` / :meth:`on_write`.
    """

    def __init__(self, size: int = 256, registers: dict[int, int] | None = None) -> None:
        self.registers = bytearray(size)
        self.pointer = 0
        self._lock = threading.Lock()
        for register, value in (registers or {}).items():
            self.registers[register] = value

    def set(self, register: int, data: bytes | int) -> None:
        """Set register(s) from the test: ``set(0x00, b"\\x19\\x40")`` or ``set(0x01, 0x60)``."""
        values = bytes([data]) if isinstance(data, int) else bytes(data)
        with self._lock:
            self.registers[register : register + len(values)] = values

    def get(self, register: int, nbytes: int = 1) -> bytes:
        """The bytes in register(s), as the board last wrote or the test last set them."""
        with self._lock:
            return bytes(self.registers[register : register + nbytes])

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self.pointer = data[0] % len(self.registers)
            payload = data[1:]
            for offset, value in enumerate(payload):
                self.registers[(self.pointer + offset) % len(self.registers)] = value
        if payload:
            self.on_write(data[0], payload)

    def read(self, nbytes: int) -> bytes:
        self.on_read(self.pointer, nbytes)
        with self._lock:
            size = len(self.registers)
            data = bytes(self.registers[(self.pointer + i) % size] for i in range(nbytes))
            self.pointer = (self.pointer + nbytes) % size
        return data

    def on_read(self, register: int, nbytes: int) -> None:
        """Called before the board reads ``nbytes`` from ``register`` (update values here)."""

    def on_write(self, register: int, data: bytes) -> None:
        """Called after the board wrote ``data`` to ``register`` on."""


class SPIDevice:
    """A device on an SPI bus. Override :meth:`transfer`."""

    def transfer(self, data: bytes) -> bytes:
        """The board clocked out ``data``; return what the device clocks back (same length)."""
        return b"\xff" * len(data)

    def select(self) -> None:
        """Its chip-select pin went low (only with ``attach(model, cs=...)``)."""

    def deselect(self) -> None:
        """Its chip-select pin went high."""
