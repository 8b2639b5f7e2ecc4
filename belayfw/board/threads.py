# belayfw board runtime part: @thread support (MicroPython). Sent with the code of
# a class that has a @thread method, before any of it (see runtime.py); it uses
# the core's frame writer state (_bfw_out, _bfw_T).
#
# Thread frames: T + tag + payload + b'\x03' with tags o=printed text (the
# thread's name, \x1f, the text; \x01-\x04 and \x10 escaped as \x10 + byte + 64)
# and x=unhandled exception; never chunked: one write, so no continuation can mix.
import io as _bfw_io  # here, not in a failing thread: an import looks at the flash, and
import time as _bfw_time  # a file system is not safe from two threads at once without a GIL

# On a re-install `time` may already be the stoppable stand-in (see below).
_bfw_time = getattr(_bfw_time, '_bfw_real', _bfw_time)

try:
    import _thread as _bfw_thr
except ImportError:
    _bfw_thr = None

try:
    _bfw_TH
except NameError:
    _bfw_TH = {}  # belayfw thread id -> [name, state]
    _bfw_ID = {}  # _thread ident -> belayfw thread id
    _bfw_SR = set()  # thread ids asked to stop
    _bfw_N = 0  # last thread id

# The unix port runs threads truly in parallel, with no GIL: two threads that
# insert into one dict or set at the same moment can lose an entry (measured:
# a thread's id entry lost, so it could never be stopped). Every change to the
# thread tables goes through this lock; lock-free reads at worst miss an entry
# for one loop iteration.
try:
    _bfw_L
except NameError:
    _bfw_L = _bfw_thr.allocate_lock() if _bfw_thr else None


def _bfw_tw(tag, data):
    _bfw_out.write(_bfw_T + tag + data + b'\x03')


class _bfw_Stop(BaseException):
    pass


def _bfw_go():
    # Called by instrumented thread code at every loop iteration, and by sleeps.
    if _bfw_SR and _bfw_ID.get(_bfw_thr.get_ident()) in _bfw_SR:
        raise _bfw_Stop()
    return True


def _bfw_it(items):
    for v in items:
        _bfw_go()
        yield v


# -- sleeps a stop request can end ---------------------------------------------------
# A @thread must stop at its next sleep wherever it sleeps: in its own body, in a
# function it calls, through `from time import sleep`. Builtin modules are
# read-only, so `time` and `utime` are replaced in sys.modules (which `import`
# reads first) by a stand-in holding all of time's names, whose sleeps check for
# a stop request every 20 ms inside a belayfw thread and sleep plainly anywhere
# else (a task pays one dict lookup per sleep). Code that imported time before
# this part was sent keeps the builtin module (this part comes before any code
# of a class with threads).

def _bfw_nap(us):
    # A belayfw thread's sleep: slices of at most 20 ms, a stop check around each.
    _bfw_go()
    if us > 20000:
        end = _bfw_time.ticks_add(_bfw_time.ticks_ms(), us // 1000)
        us %= 1000
        while True:
            left = _bfw_time.ticks_diff(end, _bfw_time.ticks_ms())
            if left <= 0:
                break
            _bfw_time.sleep_ms(left if left < 20 else 20)
            _bfw_go()
    if us > 0:
        _bfw_time.sleep_us(us)
        _bfw_go()


def _bfw_sleep(s):
    if _bfw_ID and _bfw_thr.get_ident() in _bfw_ID and type(s) in (int, float):
        _bfw_nap(int(s * 1000000))
    else:
        _bfw_time.sleep(s)


def _bfw_sleep_ms(ms):
    if _bfw_ID and _bfw_thr.get_ident() in _bfw_ID and type(ms) is int:
        _bfw_nap(ms * 1000)
    else:
        _bfw_time.sleep_ms(ms)


def _bfw_sleep_us(us):
    if _bfw_ID and _bfw_thr.get_ident() in _bfw_ID and type(us) is int:
        _bfw_nap(us)
    else:
        _bfw_time.sleep_us(us)


class _bfw_Time:
    def __repr__(self):
        return "<module 'time'>"


if _bfw_thr is not None:
    _bfw_tmod = _bfw_Time()
    for _bfw_n in dir(_bfw_time):
        setattr(_bfw_tmod, _bfw_n, getattr(_bfw_time, _bfw_n))
    _bfw_tmod._bfw_real = _bfw_time
    _bfw_tmod.sleep = _bfw_sleep
    _bfw_tmod.sleep_ms = _bfw_sleep_ms
    _bfw_tmod.sleep_us = _bfw_sleep_us
    _bfw_sys.modules['time'] = _bfw_tmod
    _bfw_sys.modules['utime'] = _bfw_tmod
    del _bfw_tmod, _bfw_n


def _bfw_p(*a, sep=' ', end='\n', file=None):
    if file is not None:
        print(*a, sep=sep, end=end, file=file)
        return
    t = _bfw_ID.get(_bfw_thr.get_ident())
    name = _bfw_TH[t][0] if t in _bfw_TH else '?'
    s = name + '\x1f' + sep.join([str(v) for v in a]) + end
    # Bytes that delimit frames (and the escape itself) go as \x10 + byte + 64:
    # raw, a printed \x03 would end the frame and a \x02 or \x04 cut it short; and
    # while the host sends code in raw-paste mode, it counts each \x01 as a grant.
    for c in '\x10\x01\x02\x03\x04':
        if c in s:
            s = s.replace(c, '\x10' + chr(ord(c) + 64))
    _bfw_tw(b'o', s.encode())


def _bfw_ts(_bfw_n, _bfw_f, *a, **k):
    # Start a belayfw thread; the board picks its id, unique across host connections.
    global _bfw_N
    if _bfw_thr is None:
        raise OSError('no _thread')
    _bfw_N += 1
    t = _bfw_N
    _bfw_TH[t] = [_bfw_n, 'running']
    _bfw_thr.start_new_thread(_bfw_tm, (t, _bfw_f, a, k))
    return t


def _bfw_tm(t, f, a, k):
    me = _bfw_thr.get_ident()
    with _bfw_L:
        _bfw_ID[me] = t
    st = _bfw_TH[t]
    err = None
    try:
        if t in _bfw_SR:
            # Asked to stop before it ever ran: that is a stop, not a finish.
            raise _bfw_Stop()
        f(*a, **k)
        end = 'finished'
    except _bfw_Stop:
        end = 'stopped'
    except BaseException as e:
        end = 'failed'
        err = e
    try:
        if err is not None:
            # The report goes out before the state changes (as _bfw_tr's return
            # frame does): a host that reads 'failed' has read the error first.
            try:
                m = str(err)
                s = _bfw_io.StringIO()
                _bfw_sys.print_exception(err, s)
                s = s.getvalue()
            except BaseException as e:
                # Its __str__ raised (or no memory was left to format it): a report
                # still goes out, or the host would wait for one that never comes.
                m = '(its message could not be formatted: ' + type(e).__name__ + ')'
                s = ''
            _bfw_tw(b'x', repr((t, type(err).__name__, m, s)).encode())
    finally:
        st[1] = end
        with _bfw_L:
            _bfw_SR.discard(t)
            _bfw_ID.pop(me, None)


def _bfw_tstate(ts):
    return {t: _bfw_TH[t][1] for t in ts if t in _bfw_TH}


def _bfw_tstop(ts, ms):
    # Ask threads to stop, then wait on the board (not the host) until they have.
    with _bfw_L:
        for t in ts:
            if t in _bfw_TH and _bfw_TH[t][1] == 'running':
                _bfw_SR.add(t)
    end = _bfw_time.ticks_add(_bfw_time.ticks_ms(), ms)
    while _bfw_time.ticks_diff(end, _bfw_time.ticks_ms()) > 0:
        if not [t for t in ts if t in _bfw_TH and _bfw_TH[t][1] == 'running']:
            break
        _bfw_time.sleep_ms(1)
    return _bfw_tstate(ts)


def _bfw_tforget(ts):
    for t in ts:
        if t in _bfw_TH and _bfw_TH[t][1] != 'running':
            del _bfw_TH[t]
