# belayfw board streams (MicroPython): generator windows and board-thread events.
# A runtime part (see runtime.py): sent with the code of a class that has a
# generator task or a @thread, into the same globals. Its event functions use the
# threads part (_bfw_tw, _bfw_ID, _bfw_thr), loaded for any class with a @thread.
#
# Generators: the host grants a window of n values (its credit); _bfw_gw runs the
# generator for up to n values and sends them as ONE result, so a stream costs one
# turnaround per window, not per value. A window also ends once ms milliseconds
# have passed and it holds a value, so a slow generator's values are not held back.
# A window is [more, values]: a list, whose repr the host reads as JSON when it can.
#
# Events: emit(value) in a @thread body (rewritten to _bfw_e) writes frame
# v = repr((thread id, value)); a thread started through _bfw_tr writes frame
# f = repr((thread id, return value)) when its function returns.

try:
    _bfw_time
except NameError:  # no threads part: the builtin module (or its stoppable stand-in)
    import time as _bfw_time
    _bfw_time = getattr(_bfw_time, '_bfw_real', _bfw_time)

try:
    _bfw_G
except NameError:
    _bfw_G = {}  # stream id -> running generator, or the exception it still owes the host


def _bfw_gs(_bfw_i, _bfw_f, *a, **k):
    _bfw_G[_bfw_i] = _bfw_f(*a, **k)


def _bfw_gw(i, n, ms):
    g = _bfw_G[i]
    if isinstance(g, BaseException):
        # The generator failed after the values of the last window: raise it now.
        del _bfw_G[i]
        raise g
    out = []
    t = _bfw_time.ticks_ms()
    try:
        while n:
            out.append(next(g))
            n -= 1
            if _bfw_time.ticks_diff(_bfw_time.ticks_ms(), t) >= ms:
                break
    except StopIteration:
        del _bfw_G[i]
        return [0, out]
    except BaseException as e:
        del _bfw_G[i]
        if not out or isinstance(e, KeyboardInterrupt):
            raise
        _bfw_G[i] = e  # the values first, then the error
    return [1, out]


def _bfw_gx(i):
    g = _bfw_G.pop(i, None)
    if g is not None and not isinstance(g, BaseException):
        g.close()


def _bfw_e(v):
    _bfw_tw(b'v', repr((_bfw_ID.get(_bfw_thr.get_ident()), v)).encode())


def _bfw_tr(_bfw_f, *a, **k):
    r = _bfw_f(*a, **k)
    _bfw_tw(b'f', repr((_bfw_ID.get(_bfw_thr.get_ident()), r)).encode())
