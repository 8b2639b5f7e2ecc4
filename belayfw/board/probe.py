# Sent first on every connection, before belayfw's runtime may exist: one round
# trip that reports what the board already holds and who it is: frame token,
# runtime version, deployed code hashes, unique id (hex), free heap and firmware. The host
# replaces __NONCE__ (this reply's frame start), __TOKEN__ (the token to adopt if
# the board has none) and __ID__ (this call's id) with numbers: a short string
# literal would be interned on the board for good, one more per connection. It
# leaves no global but the frame token and the modules the runtime uses.
import sys as _bfw_sys
import gc as _bfw_gc
try:
    _bfw_T
except NameError:
    _bfw_T = b'\x02%08x' % __TOKEN__
try:
    _bfw_V
except NameError:
    _bfw_V = ''
try:
    _bfw_h = _bfw_H
except NameError:
    _bfw_h = {}
try:
    _bfw_u = ''.join('%02x' % b for b in __import__('machine').unique_id())
except Exception:
    _bfw_u = None
_bfw_sys.stdout.write('\x02%08xr%d:' % (__NONCE__, __ID__) + repr((_bfw_T, _bfw_V, _bfw_h, _bfw_u, _bfw_gc.mem_free(), _bfw_sys.version)) + '\x03')
del _bfw_h, _bfw_u
