# The system part of the emulator board's `machine` module: resets, reset cause,
# clock, sleep, interrupts, watchdog and RTC, as the rp2 and esp32 ports have them.
# `machine` loads it on first use of one of its names (module __getattr__), so a
# board that never resets or sleeps does not pay its RAM.
#
# The unix port cannot reboot, so a reset ends the board process with a signal
# naming the kind of reset; the host restarts it on the same flash (files kept,
# RAM lost) and passes the cause of the new start in BELAYFW_RESET_CAUSE.
# Signals: USR2 hard reset, USR1 soft reset, ALRM watchdog, VTALRM deep sleep
# (belayfw/transports/emulator_resets.py reads them on the host).
import os as _os
import sys as _sys
import time as _time
import _thread
import _belayfw_state as _hw

_platform = _os.getenv('BELAYFW_PLATFORM') or 'linux'

PWRON_RESET = 1
WDT_RESET = 3
if _platform == 'esp32':
    HARD_RESET = 2
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5
    _causes = {'PWRON': 1, 'HARD': 2, 'WDT': 3, 'DEEPSLEEP': 4, 'SOFT': 5}
else:
    # rp2 tells only power-on and watchdog apart; machine.reset() reboots
    # through the watchdog there.
    _causes = {'PWRON': 1, 'HARD': 3, 'WDT': 3, 'DEEPSLEEP': 1, 'SOFT': 1}

_freq = 160000000 if _platform == 'esp32' else 125000000
_rtc_offset = 0


def _end(signal):
    # The board process ends here; the host sees the signal and restarts it.
    try:
        _sys.stdout.flush()
    except Exception:
        pass
    _os.system('kill -%s $PPID' % signal)
    while True:
        _time.sleep_ms(1000)


def reset():
    _end('USR2')


def soft_reset():
    _end('USR1')


def reset_cause():
    return _causes.get(_os.getenv('BELAYFW_RESET_CAUSE') or 'PWRON', PWRON_RESET)


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    if hz <= 0:
        raise ValueError('freq must be positive')
    _freq = hz


def idle():
    _time.sleep_ms(1)


def lightsleep(time_ms=None):
    # RAM is kept, as on a board; with no time there is no wake-up source to wait for.
    if time_ms is None:
        raise ValueError('the emulator has no wake-up source: give lightsleep a time in ms')
    _time.sleep_ms(time_ms)


def deepsleep(time_ms=None):
    # A board wakes from deep sleep through a reset: RAM lost, flash kept.
    if time_ms is None:
        raise ValueError('the emulator has no wake-up source: give deepsleep a time in ms')
    _time.sleep_ms(time_ms)
    _end('VTALRM')


def disable_irq():
    # Pin IRQs and Timer callbacks that fire meanwhile wait, and run when enable_irq lets
    # them, as on a board; one running in another thread now ends first.
    me = _thread.get_ident()
    with _hw.lock:
        if _hw.irq_holder == me:
            _hw.irq_off += 1
            return _hw.irq_off - 1
    _hw.irq_gate.acquire()
    with _hw.lock:
        _hw.irq_holder, _hw.irq_off, _hw.irq_running = me, 1, False
    return 0


def enable_irq(state=0):
    with _hw.lock:
        if _hw.irq_holder != _thread.get_ident():
            return  # not disabled by this thread
        if state:
            _hw.irq_off = state
            return
    _hw.let_irqs_in()


class Signal:
    # A pin seen through its active level: Signal(pin, invert=True) is on when the pin is low.
    def __init__(self, pin, *args, invert=False, **kwargs):
        if not hasattr(pin, 'value'):
            import machine
            pin = machine.Pin(pin, *args, **kwargs)
        self._pin = pin
        self._invert = 1 if invert else 0

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if v else 0) ^ self._invert)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    # Waits for the pin to reach pulse_level, then times it there: -2 if it never
    # came, -1 if it did not end within timeout_us.
    start = _time.ticks_us()
    while pin.value() != pulse_level:
        if _time.ticks_diff(_time.ticks_us(), start) >= timeout_us:
            return -2
    start = _time.ticks_us()
    while pin.value() == pulse_level:
        if _time.ticks_diff(_time.ticks_us(), start) >= timeout_us:
            return -1
    return _time.ticks_diff(_time.ticks_us(), start)


class WDT:
    # Once started it cannot be stopped; not fed within the timeout, the board resets.
    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError('WDT timeout must be positive')
        self._timeout = timeout
        self.feed()
        _thread.start_new_thread(self._watch, ())

    def feed(self):
        self._deadline = _time.ticks_add(_time.ticks_ms(), self._timeout)

    def _watch(self):
        while _time.ticks_diff(self._deadline, _time.ticks_ms()) > 0:
            _time.sleep_ms(max(1, min(50, _time.ticks_diff(self._deadline, _time.ticks_ms()))))
        _end('ALRM')


class RTC:
    # Keeps its own offset from the host clock; time.localtime() is not moved by it.
    def __init__(self, id=0):
        pass

    def datetime(self, when=None):
        global _rtc_offset
        if when is None:
            now = _time.time() + _rtc_offset
            y, mo, d, h, mi, s, wd = _time.localtime(now)[:7]
            return (y, mo, d, wd, h, mi, s, 0)
        y, mo, d, wd, h, mi, s = when[:7]
        _rtc_offset = _time.mktime((y, mo, d, h, mi, s, wd, 0)) - _time.time()

    def init(self, when):
        self.datetime(when)


if _platform == 'esp32':
    SLEEP = 2
    DEEPSLEEP = 4
    PIN_WAKE = EXT0_WAKE = 2
    EXT1_WAKE = 3
    TIMER_WAKE = 4
    TOUCHPAD_WAKE = 5
    ULP_WAKE = 6

    def wake_reason():
        return TIMER_WAKE if reset_cause() == DEEPSLEEP_RESET else 0
