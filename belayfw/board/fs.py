# belayfw board file helpers (MicroPython). The host runs this text once per
# board into a namespace dict kept in the single global _bfw_F (so it leaves no
# other global), keyed by its hash in _bfw_F['_v']. The host calls
# _bfw_F['c'](name, args...): every call answers (0, result) or, when the file
# system refuses, (errno, argument index) so the host can name the board path.
#
# Binary data crosses as base64 text (never repr). Uploads stream through stdin
# (recv), or, where stdin cannot be read, arrive as windows of chunks in commands
# (w); either way each piece is raw or raw-deflate compressed by the host. Reads
# leave as bytes, which the runtime frames as base64.
import os
import gc
import sys

try:
    import binascii as ba
except ImportError:
    import ubinascii as ba
try:
    import hashlib
except ImportError:
    hashlib = None
try:
    import deflate
    import io
except ImportError:
    deflate = None

DIR = 0x4000
BUF = 2048


def c(name, *args):
    try:
        return (0, globals()[name](*args))
    except OSError as e:
        a = e.args
        return (a[0] if a else 5, a[1] if len(a) > 1 and type(a[1]) is int else 0)


def _arg(e, i):
    # Name the argument (path) the error is about: OSError(errno, index).
    raise OSError(e.args[0] if e.args else 5, i)


def _stdin():
    s = getattr(sys.stdin, 'buffer', sys.stdin)
    return s if hasattr(s, 'readinto') else None


def info():
    gc.collect()
    return (gc.mem_free(), deflate is not None, hashlib is not None, _stdin() is not None)


def _mounts():
    try:
        import vfs
        return [m[1] for m in vfs.mount() if m[1] != '/']
    except Exception:
        return []


def _join(d, n):
    return d + n if d.endswith('/') else d + '/' + n


def stat(p):
    s = os.stat(p)
    return (s[0] & DIR != 0, s[6], s[8])


def ls(p):
    mounts = _mounts()
    out = []
    for e in os.ilistdir(p):
        name = e[0]
        if '/' in name:
            continue
        full = _join(p, name)
        if e[1] & DIR:
            out.append((name, 'm' if full in mounts else 'd', 0))
        else:
            out.append((name, 'f', e[3] if len(e) > 3 else os.stat(full)[6]))
    return out


def mkdir(p, parents, exist_ok):
    if parents:
        part = ''
        for name in p.split('/')[1:-1]:
            part += '/' + name
            try:
                os.mkdir(part)
            except OSError as e:
                if e.args[0] != 17 or os.stat(part)[0] & DIR == 0:
                    raise
    try:
        os.mkdir(p)
    except OSError as e:
        if not (exist_ok and e.args[0] == 17 and os.stat(p)[0] & DIR):
            raise


def _tree(p, mounts):
    for name, kind, size in ls(p):
        full = _join(p, name)
        if kind == 'm':
            continue
        if kind == 'd':
            _tree(full, mounts)
            os.rmdir(full)
        else:
            os.remove(full)


def rmdir(p, recursive):
    if recursive:
        _tree(p, _mounts())
    os.rmdir(p)


def remove(p):
    if os.stat(p)[0] & DIR:
        raise OSError(21)
    os.remove(p)


def rename(a, b):
    try:
        os.stat(a)
    except OSError as e:
        _arg(e, 0)
    try:
        os.rename(a, b)
    except OSError as e:
        _arg(e, 1)


def walk(p):
    # [(path relative to p, kind, size)], depth first; other mounts are not entered.
    out = []
    todo = ['']
    while todo:
        rel = todo.pop()
        for name, kind, size in ls(_join(p, rel) if rel else p):
            r = rel + '/' + name if rel else name
            out.append((r, kind, size))
            if kind == 'd':
                todo.append(r)
    return out


def _hash(p, buf):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(buf[:n] if n < len(buf) else buf)
    return ba.hexlify(h.digest()).decode()


def hash(p):
    return _hash(p, bytearray(BUF))


def hashes(p, d=0):
    # {path relative to p: (size, sha256 hex)} for every file under p, in one call;
    # with d, folders too (value None), so a sync sees a folder where it sends a file.
    buf = bytearray(BUF)
    out = {}
    try:
        if not os.stat(p)[0] & DIR:
            return None
    except OSError as e:
        if e.args[0] == 2:
            return out
        raise
    for rel, kind, size in walk(p):
        if kind == 'f':
            out[rel] = (size, _hash(_join(p, rel), buf))
        elif d:
            out[rel] = None
    return out


def df(p):
    s = os.statvfs(p)
    return (s[0] * s[2], s[0] * s[3])


def w(p, mode, chunks, wbits):
    # Append a window of chunks: (1, base64 of raw deflate) or (0, base64).
    n = 0
    with open(p, mode) as f:
        for z, data in chunks:
            data = ba.a2b_base64(data)
            if z:
                data = deflate.DeflateIO(io.BytesIO(data), deflate.RAW, wbits).read()
            f.write(data)
            n += len(data)
    return n


def _fill(s, b):
    mv = memoryview(b)
    i = 0
    while i < len(mv):
        k = s.readinto(mv[i:])
        if not k:
            raise OSError(5)
        i += k


def recv(T, key, t, p, n, size, wbits, digest):
    # Stream n pieces from stdin into t; if all size bytes arrived intact (digest:
    # the first 32 hex digits of their sha256), t replaces p. Before each piece
    # the board writes a grant frame (token T, tag g, payload key) and then reads
    # the whole piece at once, so the host never has more
    # in flight than it was asked for: a UART's small input buffer cannot
    # overflow. A piece: b'z' (raw deflate) or b'p' (plain), its length in 7
    # digits, then that much base64.
    s = _stdin()
    out = getattr(sys.stdout, 'buffer', sys.stdout)
    ask = T + b'g' + key + b'\x03'
    h = hashlib.sha256() if hashlib else None
    head = bytearray(8)
    buf = None
    chunk = None
    done = 0
    try:
        with open(t, 'wb') as f:
            for _ in range(n):
                out.write(ask)
                _fill(s, head)
                m = int(str(head[1:], 'ascii'))
                if buf is None or len(buf) < m:
                    buf = None
                    buf = bytearray(m)
                mv = memoryview(buf)[:m]
                _fill(s, mv)
                data = ba.a2b_base64(mv)
                if head[0] == 122:
                    if chunk is None:
                        chunk = bytearray(BUF)
                    z = deflate.DeflateIO(io.BytesIO(data), deflate.RAW, wbits)
                    data = None
                    while True:
                        k = z.readinto(chunk)
                        if not k:
                            break
                        part = memoryview(chunk)[:k]
                        f.write(part)
                        if h is not None:
                            h.update(part)
                        done += k
                    z = None
                else:
                    f.write(data)
                    if h is not None:
                        h.update(data)
                    done += len(data)
                data = None
        got = ba.hexlify(h.digest()).decode()[:32] if h else digest
    except BaseException:
        drop(t)
        raise
    if done != size or got != digest:
        drop(t)
        return (done, got, False)
    swap(t, p)
    return (done, got, True)


def r(p, offset, size):
    with open(p, 'rb') as f:
        f.seek(offset)
        return f.read(size)


def swap(tmp, p):
    # An upload lands under a temporary name, then replaces p in one rename.
    try:
        if os.stat(p)[0] & DIR:
            _arg(OSError(21), 1)
    except OSError as e:
        if e.args[0] != 2:
            raise
    os.rename(tmp, p)


def drop(p):
    try:
        os.remove(p)
    except OSError:
        pass
