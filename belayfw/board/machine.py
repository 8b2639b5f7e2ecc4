# A small `machine` module for the belayfw emulator board (MicroPython unix port).
# It mimics the hardware API of real ports closely enough that hardware examples
# run unchanged: pins keep their state, ADC readings drift around mid-scale, and
# Timer callbacks run on a real thread. Nothing here touches real hardware.
import os
import time

try:
    import _thread
except ImportError:
    _thread = None

_pins = {}


def unique_id():
    return (os.getenv('BELAYFW_BOARD_ID') or 'emulator').encode()


def __getattr__(name):  # resets, clock, sleep, irq, WDT, RTC: machine_system.py, loaded on first use
    return getattr(__import__('machine_system'), name)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self.mode = mode
        elif not hasattr(self, 'mode'):
            self.mode = Pin.IN
        self.pull = pull
        if value is not None:
            _pins[self.id] = 1 if value else 0
        elif self.id not in _pins:
            _pins[self.id] = 1 if pull == Pin.PULL_UP else 0

    def value(self, v=None):
        if v is None:
            return _pins.get(self.id, 0)
        _pins[self.id] = 1 if v else 0

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        _pins[self.id] = 1

    def off(self):
        _pins[self.id] = 0

    def high(self):
        self.on()

    def low(self):
        self.off()

    def toggle(self):
        _pins[self.id] = 1 - _pins.get(self.id, 0)

    def irq(self, handler=None, trigger=3):
        self._irq = handler

    def __repr__(self):
        return 'Pin(%r)' % (self.id,)


class ADC:
    def __init__(self, pin):
        self.pin = pin
        self._n = 0

    def read_u16(self):
        # Deterministic drift around mid-scale, so readings vary like a real sensor.
        self._n = (self._n * 1103515245 + 12345 + time.ticks_ms()) & 0x7FFFFFFF
        return 32768 + (self._n % 2048) - 1024

    def read_uv(self):
        return self.read_u16() * 3300000 // 65535


class PWM:
    def __init__(self, pin, freq=1000, duty_u16=0):
        self.pin = pin
        self._freq = freq
        self._duty = duty_u16

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return self._duty
        self._duty = d

    def duty_ns(self, d=None):
        period = 1000000000 // max(1, self._freq)
        if d is None:
            return self._duty * period // 65535
        self._duty = d * 65535 // period

    def deinit(self):
        self._duty = 0


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=PERIODIC, period=-1, freq=-1, callback=None):
        self.id = id
        self._gen = 0
        if callback is not None:
            self.init(mode=mode, period=period, freq=freq, callback=callback)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None):
        if _thread is None:
            raise OSError('Timer needs _thread on the emulator')
        if freq > 0:
            period = 1000 // freq
        self._gen += 1
        _thread.start_new_thread(self._run, (self._gen, mode, max(1, period), callback))

    def _run(self, gen, mode, period, callback):
        while self._gen == gen:
            time.sleep_ms(period)
            if self._gen != gen:
                break
            if callback is not None:
                callback(self)
            if mode == Timer.ONE_SHOT:
                break

    def deinit(self):
        self._gen += 1
