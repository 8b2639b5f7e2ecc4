# `neopixel` for the emulator board: write() shows the pixels to the host
# (belayfw.hardware: hardware.neopixel(pin).pixels), as a strip would light up.
import _belayfw_state as state
from binascii import hexlify


class NeoPixel:
    ORDER = (1, 0, 2, 3)

    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self.n = n
        self.bpp = bpp
        self.timing = timing
        self.buf = bytearray(n * bpp)

    def __len__(self):
        return self.n

    def __setitem__(self, i, v):
        if i < 0:
            i += self.n
        self.buf[i * self.bpp:(i + 1) * self.bpp] = bytes(v)

    def __getitem__(self, i):
        if i < 0:
            i += self.n
        return tuple(self.buf[i * self.bpp:(i + 1) * self.bpp])

    def fill(self, v):
        for i in range(self.n):
            self[i] = v

    def write(self):
        key = getattr(self.pin, 'id', self.pin)
        data = hexlify(self.buf).decode()
        with state.lock:  # the host's reader thread may be listing pixels meanwhile
            state.pixels[key] = [self.bpp, data]
        state.event(['np', key, self.bpp, data])
