# belayfw board runtime (MicroPython). Deployed once per board; every name starts
# with _bfw_ so it cannot clash with user code. The host sets _bfw_T (the frame
# token, bytes) before this file runs, and appends `_bfw_V = '<hash>'` after it.
#
# Frames: T + tag + payload + b'\x03', each written by ONE write call, so a
# thread's print (which MicroPython writes piece by piece) can land between
# frames but never inside one. Payloads are repr() or base64 text, which never
# contain raw control bytes. Tags: r=repr result, b=base64 bytes result,
# e=error, i=interrupted, +=continuation of the next frame's payload.
import sys as _bfw_sys
import io as _bfw_io

try:
    import binascii as _bfw_ba
except ImportError:
    import ubinascii as _bfw_ba

try:
    _bfw_out = _bfw_sys.stdout.buffer
except AttributeError:
    _bfw_out = _bfw_sys.stdout

_bfw_C = 2048


def _bfw_w(tag, data):
    t = _bfw_T
    i = 0
    n = len(data)
    while n - i > _bfw_C:
        _bfw_out.write(t + b'+' + data[i:i + _bfw_C] + b'\x03')
        i += _bfw_C
    _bfw_out.write(t + tag + data[i:] + b'\x03')


def _bfw_r(v):
    if type(v) is bytes:
        _bfw_w(b'b', _bfw_ba.b2a_base64(v, newline=False))
    else:
        _bfw_w(b'r', repr(v).encode())


def _bfw_x(e):
    if isinstance(e, KeyboardInterrupt):
        _bfw_w(b'i', b'')
        return
    s = _bfw_io.StringIO()
    _bfw_sys.print_exception(e, s)
    try:
        m = str(e)
    except Exception:
        m = ''
    _bfw_w(b'e', repr((type(e).__name__, m, s.getvalue())).encode())


def _bfw_v(f):
    try:
        r = f()
    except BaseException as e:
        _bfw_x(e)
        return
    _bfw_r(r)
