"""A level meter on SPI and neopixels, run on an emulator board with a virtual circuit.

The board identifies its SPI flash chip (JEDEC ID command 0x9F, chip select on
pin 17), reads a potentiometer on ADC 26 and shows the level as a bar on an
8-pixel neopixel strip on pin 16. On an emulator board, belayfw.hardware plays
the flash chip (a model in host Python), turns the potentiometer and looks at
the pixels.

    python examples/level_meter.py [emulator:esp32]
"""

from __future__ import annotations

import sys

from belayfw import Device, setup, task
from belayfw.hardware import SPIDevice


class LevelMeter(Device):
    @setup
    def init():
        import neopixel
        from machine import ADC, SPI, Pin

        spi = SPI(0, baudrate=10_000_000, sck=Pin(18), mosi=Pin(19), miso=Pin(20))
        cs = Pin(17, Pin.OUT, value=1)
        knob = ADC(26)
        strip = neopixel.NeoPixel(Pin(16), 8)

    @task
    def flash_id():
        cs(0)
        reply = bytearray(4)
        spi.write_readinto(b"\x9f\x00\x00\x00", reply)
        cs(1)
        return bytes(reply[1:])

    @task
    def show_level():
        lit = (knob.read_u16() * 8 + 32767) // 65535
        for i in range(8):
            strip[i] = (0, 40, 0) if i < lit else (0, 0, 0)
        strip.write()
        return lit


class JedecFlash(SPIDevice):
    """Answers the JEDEC ID command (0x9F) with a manufacturer and device id."""

    def __init__(self, jedec_id: bytes = b"\xef\x40\x18") -> None:
        self.jedec_id = jedec_id
        self.selects = 0

    def select(self) -> None:
        self.selects += 1

    def transfer(self, data: bytes) -> bytes:
        if data[:1] == b"\x9f":
            return (b"\xff" + self.jedec_id).ljust(len(data), b"\xff")[: len(data)]
        return b"\xff" * len(data)


def main(port: str) -> None:
    with LevelMeter(port) as dev:
        hw = dev.hardware
        flash = hw.spi(0).attach(JedecFlash(), cs=17)
        print("flash id:", dev.flash_id().hex(), "selected", flash.selects, "time(s)")
        for volts in (0.0, 1.65, 3.3):
            hw.adc(26).set_voltage(volts)
            lit = dev.show_level()
            bar = "".join("#" if pixel[1] else "." for pixel in hw.neopixel(16).pixels)
            print(f"knob at {volts:.2f} V: {lit} lit [{bar}]")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "emulator:esp32")
