# belayfw board runtime (MicroPython): the resident core, installed once per
# board. Every name starts with _bfw_ so it cannot clash with user code. The host
# sets _bfw_T (the frame token, bytes) before this file runs, and appends
# `_bfw_V = '<hash>'` after it.
#
# Kept small on purpose (at most 8 KB of heap after gc on a pico-sized board):
# what only some classes use lives in parts (board/threads.py,
# board/streams.py, board/setups.py), sent with a class's code when it needs
# them (see belayfw/board/__init__.py: PARTS) and recorded in _bfw_H under
# 'part:<name>'. A part runs at global scope and may use every name here.
#
# Frames: T + tag + b'<id>:' + payload + b'\x03', each written by ONE write call,
# so a thread's print (which MicroPython writes piece by piece) can land between
# frames but never inside one. Payloads are repr() or base64 text, which never
# contain raw control bytes. <id> is the host's per-call number (first argument
# of _bfw_c), so a late or foreign frame cannot be taken for another call's.
# Tags: r=repr result, b=base64 bytes result, e=error, i=interrupted,
# +=continuation of the next frame's payload (a result written in pieces),
# s=started (the call's code is running: only now may the host interrupt it,
# since the unix port exits on an interrupt that arrives while it is compiling
# or idle; the host asks for it with a negative id on calls it may interrupt);
# from board threads (board/threads.py): o=printed text, x=unhandled exception.
#
# State lives in _bfw_* globals that survive a re-install, so a host that
# reconnects without a board reset finds its code and threads where it left them.
import sys as _bfw_sys

try:
    _bfw_H
except NameError:
    _bfw_H = {}  # deployed name (or 'part:<name>') -> code hash

try:
    _bfw_out = _bfw_sys.stdout.buffer
except AttributeError:
    _bfw_out = _bfw_sys.stdout

_bfw_t = _bfw_T.decode()

# Payload bytes per frame. Big frames mean fewer writes and fewer frames to
# parse (about 1.5x faster for 100 KB), but each one is a transient allocation,
# so boards with a small heap use small ones.
import gc as _bfw_gc
_bfw_C = 8192 if _bfw_gc.mem_free() + _bfw_gc.mem_alloc() > 524288 else 2048


# -- results: written in frames as they are encoded ------------------------------------
# A list, tuple, dict, long str or bytes result is encoded piece by piece into
# frames of about _bfw_C bytes: the board never holds a second copy of it whole.
# o is the frame being filled: [bytes so far, head, pieces...].

def _bfw_o(o, s):
    if len(s) > _bfw_C:
        # A big piece goes out in slices: joining it into a frame would copy it.
        for j in range(0, len(s), _bfw_C):
            _bfw_o(o, s[j:j + _bfw_C])
        return
    o.append(s)
    o[0] += len(s)
    if o[0] >= _bfw_C:
        o.append('\x03')
        _bfw_out.write(''.join(o[1:]))
        del o[2:]
        o[0] = 0


def _bfw_s(v):
    # Only scalars and short text: a container small enough to repr at once.
    for x in v:
        t = type(x)
        if t is list or t is tuple or t is dict or ((t is str or t is bytes) and len(x) > 64):
            return 0
    return 1


def _bfw_en(v, o):
    t = type(v)
    if t is list or t is tuple:
        n = len(v)
        if n <= 8 and _bfw_s(v):
            _bfw_o(o, repr(v))
            return
        _bfw_o(o, '[' if t is list else '(')
        j = 0
        k = 8
        while j < n:
            # Slices of k items, k adapted so that each repr is about a frame.
            try:
                s = repr(v[j:j + k])
            except MemoryError:
                if k > 1:
                    k = 1
                    continue
                s = None
            if j:
                _bfw_o(o, ', ')
            if s is None:
                _bfw_en(v[j], o)
                j += 1
                continue
            _bfw_o(o, s[1:-2] if s[-2] == ',' else s[1:-1])
            j += k
            k = max(1, min(k * 4, k * _bfw_C // len(s)))
        _bfw_o(o, ']' if t is list else (',)' if n == 1 else ')'))
    elif t is dict:
        if len(v) <= 8 and _bfw_s(v.values()):
            _bfw_o(o, repr(v))
            return
        _bfw_o(o, '{')
        f = 0
        for k in v:
            if f:
                _bfw_o(o, ', ')
            f = 1
            _bfw_o(o, repr(k))
            _bfw_o(o, ': ')
            _bfw_en(v[k], o)
        _bfw_o(o, '}')
    elif (t is str or t is bytes) and len(v) > _bfw_C:
        # Adjacent literals: 'ab' 'cd' reads back as 'abcd'.
        for j in range(0, len(v), _bfw_C):
            if j:
                _bfw_o(o, ' ')
            _bfw_o(o, repr(v[j:j + _bfw_C]))
    else:
        _bfw_o(o, repr(v))


def _bfw_r(i, v):
    t = type(v)
    if t is bytes:
        try:
            import binascii as b
        except ImportError:
            import ubinascii as b
        n = len(v)
        m = memoryview(v)
        s = _bfw_C // 4 * 3
        j = 0
        h = _bfw_T + b'+%d:' % i
        while n - j > s:
            _bfw_out.write(b''.join((h, b.b2a_base64(m[j:j + s], newline=False), b'\x03')))
            j += s
        h = _bfw_T + b'b%d:' % i
        _bfw_out.write(b''.join((h, b.b2a_base64(m[j:], newline=False), b'\x03')))
    elif t is list or t is tuple or t is dict or (t is str and len(v) > _bfw_C):
        o = [0, _bfw_t + '+%d:' % i]
        _bfw_en(v, o)
        o[1] = _bfw_t + 'r%d:' % i
        o.append('\x03')
        _bfw_out.write(''.join(o[1:]))
    else:
        _bfw_out.write('%sr%d:%r\x03' % (_bfw_t, i, v))


def _bfw_x(i, e):
    if isinstance(e, KeyboardInterrupt):
        hw = _bfw_sys.modules.get('_belayfw_state')  # an emulator with virtual hardware
        if hw is not None:
            hw.interrupted()
        _bfw_out.write('%si%d:\x03' % (_bfw_t, i))
        return
    import io
    s = io.StringIO()
    _bfw_sys.print_exception(e, s)
    try:
        m = str(e)
    except Exception:
        m = ''
    _bfw_out.write('%se%d:%r\x03' % (_bfw_t, i, (type(e).__name__, m, s.getvalue())))


def _bfw_c(_bfw_i, _bfw_f, *a, **k):
    # Run a call and frame its value or exception; a negative id first reports
    # that the code runs (for calls the host may interrupt).
    if _bfw_i < 0:
        _bfw_i = -_bfw_i
        _bfw_out.write('%ss%d:\x03' % (_bfw_t, _bfw_i))
    try:
        v = _bfw_f(*a, **k)
    except BaseException as e:
        _bfw_x(_bfw_i, e)
        return
    try:
        _bfw_r(_bfw_i, v)
    except MemoryError:
        v = None  # frees the result, so the error can be written
        _bfw_x(_bfw_i, MemoryError(
            "the result does not fit in the board's free memory, even written in pieces: "
            "return less per call, or make the task a generator (yield the values) to stream them"))
    except BaseException as e:
        _bfw_x(_bfw_i, e)


# -- deploy ------------------------------------------------------------------------

def _bfw_d(items):
    # items: (name, hash, kind, source); kind 's' keeps a setup body for later
    # (board/setups.py, sent before any).
    g = globals()
    for n, h, k, s in items:
        try:
            c = compile(s, '<bfw:' + n + '>', 'exec')
        except SyntaxError as e:
            raise SyntaxError('in ' + n + ': ' + str(e))
        if k == 's':
            _bfw_S[n] = c
        else:
            exec(c, g)
        _bfw_H[n] = h


def _bfw_purge(names):
    g = globals()
    s = g.get('_bfw_S') or {}
    for n in names:
        _bfw_H.pop(n, None)
        s.pop(n, None)
        g.pop(n, None)
