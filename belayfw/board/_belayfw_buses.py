# I2C, SPI and UART for the emulator's `machine` module. The devices on the
# buses are models in host Python (belayfw.hardware): each transfer is one
# request over the side channel (_belayfw_hw). Which addresses answer is known
# on the board, so scan() and a missing device cost no round trip.
import time
import _belayfw_state as state
from binascii import hexlify, unhexlify

i2c_devices = {}  # bus -> set of addresses with a model on the host
spi_devices = {}  # bus -> True while the host has a model on it
uart_rx = {}  # UART id -> bytearray the host sent, not read yet

_EIO = 5
_ENODEV = 19


def _hex(data):
    return hexlify(bytes(data)).decode()


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self._bus = id

    def init(self, *args, **kwargs):
        pass

    def deinit(self):
        pass

    def scan(self):
        state.sync()
        with state.lock:  # the host's reader thread attaches and detaches devices
            return sorted(i2c_devices.get(self._bus, ()))

    def _transfer(self, addr, write, read):
        state.sync()
        with state.lock:
            present = addr in i2c_devices.get(self._bus, ())
        if not present:
            raise OSError(_ENODEV, 'no I2C device at 0x%02x' % addr)
        return unhexlify(state.wire().request(['i2c', self._bus, addr, _hex(write), read]))

    def writeto(self, addr, buf, stop=True):
        self._transfer(addr, buf, 0)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b''.join(bytes(b) for b in vector)
        self._transfer(addr, data, 0)
        return len(data)

    def readfrom(self, addr, nbytes, stop=True):
        return self._transfer(addr, b'', nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self._transfer(addr, b'', len(buf))

    def _mem(self, memaddr, addrsize):
        return memaddr.to_bytes(addrsize // 8, 'big')

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        return self._transfer(addr, self._mem(memaddr, addrsize), nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        buf[:] = self._transfer(addr, self._mem(memaddr, addrsize), len(buf))

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._transfer(addr, self._mem(memaddr, addrsize) + bytes(buf), 0)


class SoftI2C(I2C):
    def __init__(self, scl=None, sda=None, *, freq=400000, timeout=50000):
        self._bus = 'soft'


class SPI:
    MSB = 0
    LSB = 1
    CONTROLLER = 0

    def __init__(self, id=0, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self._bus = id
        self._baudrate = baudrate

    def init(self, baudrate=1000000, **kwargs):
        self._baudrate = baudrate

    def deinit(self):
        pass

    def _transfer(self, data):
        state.sync()
        with state.lock:
            present = spi_devices.get(self._bus)
        if not present:
            return b'\xff' * len(data)  # nothing drives MISO: it floats high
        return unhexlify(state.wire().request(['spi', self._bus, _hex(data)]))

    def write(self, buf):
        self._transfer(buf)

    def read(self, nbytes, write=0):
        return self._transfer(bytes((write,)) * nbytes)

    def readinto(self, buf, write=0):
        buf[:] = self._transfer(bytes((write,)) * len(buf))

    def write_readinto(self, write_buf, read_buf):
        read_buf[:] = self._transfer(write_buf)


class SoftSPI(SPI):
    def __init__(self, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self._bus = 'soft'
        self._baudrate = baudrate


class UART:
    INV_TX = 1
    INV_RX = 2
    RTS = 1
    CTS = 2

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, **kwargs):
        self._id = id
        self._timeout = 0
        self.init(baudrate, bits, parity, stop, **kwargs)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, *, timeout=0,
             timeout_char=0, **kwargs):
        self._baudrate = baudrate
        self._timeout = timeout

    def deinit(self):
        pass

    def any(self):
        state.sync()
        with state.lock:
            return len(uart_rx.get(self._id, b''))

    def _take(self, nbytes):
        state.sync()
        deadline = time.ticks_add(time.ticks_ms(), self._timeout)
        while True:
            with state.lock:
                buf = uart_rx.get(self._id)
                if buf:
                    n = len(buf) if nbytes is None else min(nbytes, len(buf))
                    uart_rx[self._id] = buf[n:]
                    return bytes(buf[:n])
            if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                return None
            time.sleep_ms(1)

    def read(self, nbytes=None):
        return self._take(nbytes)

    def readinto(self, buf, nbytes=None):
        data = self._take(len(buf) if nbytes is None else nbytes)
        if data is None:
            return None
        buf[:len(data)] = data
        return len(data)

    def readline(self):
        state.sync()
        with state.lock:
            buf = bytes(uart_rx.get(self._id, b''))
        if not buf:
            return self._take(None)
        end = buf.find(b'\n')
        return self._take(len(buf) if end < 0 else end + 1)

    def write(self, buf):
        state.event(['uart', self._id, _hex(buf)])
        return len(buf)

    def flush(self):
        pass

    def txdone(self):
        return True

    def sendbreak(self):
        pass
