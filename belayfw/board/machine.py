# A `machine` module for the belayfw emulator board (MicroPython unix port).
# It mimics the hardware API of real ports so hardware code runs unchanged, and
# it is wired to the host: a test drives input pins and ADC readings, watches
# outputs, and answers I2C/SPI transfers with device models written in host
# Python (belayfw.hardware). The wiring is a side channel (_belayfw_hw), never
# the REPL stream; the state it changes is in _belayfw_state. Nothing here
# touches real hardware.
import os
import time
import _thread

import _belayfw_state as _state


def unique_id():
    return (os.getenv('BELAYFW_BOARD_ID') or 'emulator').encode()


def __getattr__(name):  # resets, clock, sleep, irq, WDT, RTC: machine_system.py, loaded on first use
    if name in ('I2C', 'SoftI2C', 'SPI', 'SoftSPI', 'UART'):  # buses: _belayfw_buses.py, likewise
        return getattr(__import__('_belayfw_buses'), name)
    try:
        return getattr(__import__('machine_system'), name)
    except AttributeError:  # as a board says it: the user's module is `machine`
        raise AttributeError("module 'machine' has no attribute '%s'" % name) from None


class _IRQ:
    def __init__(self, trigger):
        self._trigger = trigger

    def trigger(self, t=None):
        return self._trigger

    def flags(self):
        return self._trigger


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2
    if os.getenv('BELAYFW_PLATFORM') == 'rp2':  # the values the rp2 port uses
        IRQ_FALLING = 4
        IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None, **kwargs):
        self.id = id
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None, **kwargs):
        pid = self.id
        _state.sync()
        with _state.lock:
            before = _state.level(pid)
            if value is not None:
                _state.outputs[pid] = 1 if value else 0
            if mode != -1:
                _state.modes[pid] = mode
            elif pid not in _state.modes:
                _state.modes[pid] = Pin.IN
            if pull != -1:
                _state.pulls[pid] = pull
        if mode != -1:
            _state.event(['mode', pid, mode, _state.level_now(pid)])
        _state.changed(pid, before, True)

    def value(self, v=None):
        pid = self.id
        _state.sync()
        if v is None:
            with _state.lock:  # the host's reader thread may be adding a pin meanwhile
                return _state.level(pid)
        with _state.lock:
            before = _state.level(pid)
            _state.outputs[pid] = 1 if v else 0
        _state.changed(pid, before, True)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        with _state.lock:  # the host's reader thread may be adding a pin meanwhile
            level = _state.outputs.get(self.id, 0)
        self.value(1 - level)

    def mode(self, mode=None):
        if mode is None:
            with _state.lock:
                return _state.modes.get(self.id, Pin.IN)
        self.init(mode)

    def pull(self, pull=None):
        if pull is None:
            with _state.lock:
                return _state.pulls.get(self.id)
        self.init(pull=pull)

    def irq(self, handler=None, trigger=None, **kwargs):
        if trigger is None:
            trigger = Pin.IRQ_RISING | Pin.IRQ_FALLING
        _state.sync()
        with _state.lock:
            if handler is None:
                _state.irqs.pop(self.id, None)
            else:
                _state.irqs[self.id] = (
                    handler, trigger & Pin.IRQ_RISING, trigger & Pin.IRQ_FALLING, self
                )
        return _IRQ(trigger)

    def __eq__(self, other):
        return isinstance(other, Pin) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return 'Pin(%r)' % (self.id,)


def _pin_id(pin):
    return pin.id if isinstance(pin, Pin) else pin


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3
    CORE_TEMP = 4

    def __init__(self, pin, atten=None):
        self._key = _pin_id(pin)
        self._n = 0

    def read_u16(self):
        key = self._key
        _state.sync()
        with _state.lock:  # the host's reader thread may be setting a reading meanwhile
            known, value = key in _state.adc, _state.adc.get(key)
        if known:
            if value is None:
                return _state.hw.request(['adc', key])
            return value
        if key == 4:
            return 14089  # 25 degrees C on the RP2040 sensor (pico ADC(4) convention)
        # Unset: a deterministic drift around mid-scale, as a floating input reads.
        self._n = (self._n * 1103515245 + 12345 + time.ticks_ms()) & 0x7FFFFFFF
        return 32768 + (self._n % 2048) - 1024

    def read(self):
        return self.read_u16() >> 4

    def read_uv(self):
        return self.read_u16() * 3300000 // 65535

    def atten(self, atten):
        pass

    def width(self, width):
        pass


class PWM:
    def __init__(self, pin, freq=-1, duty_u16=-1, duty_ns=-1, **kwargs):
        self._key = _pin_id(pin)
        with _state.lock:  # the host's reader thread may be listing PWM outputs meanwhile
            state = _state.pwm.get(self._key)
            if state is None:
                state = _state.pwm[self._key] = [1000, 0]
        self._state = state
        if freq != -1:
            state[0] = freq
        if duty_u16 != -1:
            state[1] = max(0, min(65535, duty_u16))
        if duty_ns != -1:
            self.duty_ns(duty_ns)
        self._report()

    def _report(self):
        _state.event(['pwm', self._key, self._state[0], self._state[1]])

    def init(self, freq=-1, duty_u16=-1, duty_ns=-1):
        if freq != -1:
            self._state[0] = freq
        if duty_u16 != -1:
            self._state[1] = max(0, min(65535, duty_u16))
        if duty_ns != -1:
            self.duty_ns(duty_ns)
        self._report()

    def freq(self, f=None):
        if f is None:
            return self._state[0]
        self._state[0] = f
        self._report()

    def duty_u16(self, d=None):
        if d is None:
            return self._state[1]
        self._state[1] = max(0, min(65535, d))
        self._report()

    def duty(self, d=None):
        # esp32: 10 bits
        if d is None:
            return self._state[1] >> 6
        self.duty_u16(d * 65535 // 1023)

    def duty_ns(self, d=None):
        period = 1000000000 // max(1, self._state[0])
        if d is None:
            return self._state[1] * period // 65535
        self.duty_u16(d * 65535 // period)

    def deinit(self):
        self._state[1] = 0
        self._report()


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, mode=PERIODIC, period=-1, freq=-1, callback=None):
        self.id = id
        self._gen = 0
        if callback is not None:
            self.init(mode=mode, period=period, freq=freq, callback=callback)

    def init(self, mode=PERIODIC, period=-1, freq=-1, callback=None):
        _state.sync()  # the service loads in this thread, not in the timer's
        if freq > 0:
            period = 1000 // freq
        self._gen += 1
        _thread.start_new_thread(self._run, (self._gen, mode, max(1, period), callback))

    def _run(self, gen, mode, period, callback):
        while self._gen == gen:
            time.sleep_ms(period)
            if self._gen != gen:
                break
            if callback is not None:  # never beside an IRQ handler nor in disable_irq(); raising, printed
                _state.fire(callback, self, False)
            if mode == Timer.ONE_SHOT:
                break

    def deinit(self):
        self._gen += 1
