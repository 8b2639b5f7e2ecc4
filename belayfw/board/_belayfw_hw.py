# The board end of the emulator's virtual-hardware side channel.
# The host creates a socket pair with each board process and passes one end as
# an inherited file descriptor (its number in BELAYFW_HW_FD): hardware traffic
# never touches the REPL stream, so it can neither disturb nor slow a call.
# _belayfw_state opens the channel; when board code first touches hardware it
# loads this module, says ["up"] and starts the thread that serves the channel here.
#
# Frames: a 4-byte big-endian length, then a JSON array [op, seq, ...].
# Host -> board: commands (pin input, ADC value, attach a bus device, UART bytes);
#   each is answered ["ack", seq, error_text_or_None, value].
# Board -> host: ["up"] once (sent by _belayfw_state: commands will be
#   answered); events (output pin edges, PWM, pixels, UART TX), only after the host sent "watch" (a host that never looks never reads
#   them, so they must not fill the socket); requests for bus transfers
#   ["req", seq, ...] answered by ["re", seq, ok, value].
import json
import select
import sys
import io
import _thread
import _belayfw_state as state
import _belayfw_buses as buses
from binascii import unhexlify

_chan = state.chan
_send_lock = _thread.allocate_lock()
_seq_lock = _thread.allocate_lock()
_seq = 0
_waiting = {}
_reader = None
_ready = select.poll()  # the reader's own: a poll object is not shared between threads
if _chan is not None:
    _ready.register(_chan.fileno(), select.POLLIN)
watched = False


def send(msg):
    if _chan is None:
        return
    data = json.dumps(msg).encode()
    n = len(data)
    head = bytes((n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255))
    with _send_lock:
        _chan.write(head + data)


def event(msg):
    # Only while the host watches: nobody else would read it.
    if watched:
        send(msg)


def request(args):
    # A bus transfer answered by a device model in host Python.
    global _seq
    if _chan is None:
        raise OSError(5, 'no host side channel')
    slot = [None, None, None, _thread.get_ident()]  # ok, value, lock to wait on, asker
    if slot[3] != _reader:
        slot[2] = _thread.allocate_lock()
        slot[2].acquire()
    with _seq_lock:  # also guards _waiting: no GIL, and a dict growing while read can crash
        _seq += 1
        seq = _seq
        _waiting[seq] = slot
    send(['req', seq] + args)
    if slot[2] is not None:
        slot[2].acquire()
    else:
        # This thread is the reader (an IRQ handler doing a transfer): serve
        # the channel itself until the answer comes.
        while slot[0] is None:
            if not _serve_one():
                raise OSError(5, 'the host side channel closed')
    if slot[0] is not True:
        raise OSError(slot[1][0], slot[1][1])
    return slot[1]


def _read_exactly(n):
    data = _chan.read(n)
    if data is None or len(data) < n:
        return None
    return data


def _serve_one():
    head = _read_exactly(4)
    if head is None:
        return False
    body = _read_exactly(head[0] << 24 | head[1] << 16 | head[2] << 8 | head[3])
    if body is None:
        return False
    msg = json.loads(body)
    op = msg[0]
    if op == 're':
        with _seq_lock:
            slot = _waiting.pop(msg[1], None)
        if slot is not None:
            slot[1] = msg[3]
            slot[0] = msg[2]
            if slot[2] is not None:
                slot[2].release()
        return True
    err = None
    value = None
    try:
        value = _COMMANDS[op](*msg[2:])
    except Exception as e:
        err = describe(e)
    send(['ack', msg[1], err, value])
    return True


def describe(e):
    text = io.StringIO()
    sys.print_exception(e, text)
    return text.getvalue()


def serve():
    # The reader thread's life: answer the host until the board ends.
    global _reader
    _reader = _thread.get_ident()
    while True:
        try:
            if not _serve_one():
                return
        except Exception as e:
            sys.print_exception(e)


def asking(thread):
    # Does `thread` wait for a bus answer? The host's model may be the one driving a pin.
    with _seq_lock:
        for slot in _waiting.values():
            if slot[3] == thread:
                return True
    return False


def serve_a_while():
    # The reader waits for something else: it answers the host meanwhile. False: the host is gone.
    return not _ready.poll(1) or _serve_one()


def drain():
    # Apply everything the host has sent so far, in the calling thread.
    global _reader
    poller = select.poll()
    poller.register(_chan.fileno(), select.POLLIN)
    outer, _reader = _reader, _thread.get_ident()
    try:
        while poller.poll(0):
            if not _serve_one():
                return
    finally:
        _reader = outer


# Commands from the host: they change what board code sees.
def _drive(pid, level):
    with state.lock:
        before = state.level(pid)
        if level is None:
            state.inputs.pop(pid, None)
        else:
            state.inputs[pid] = level
    state.changed(pid, before, False)
    return [before, state.level_now(pid)]


def _watch():
    global watched
    watched = True
    with state.lock:
        return {
            'out': [[k, state.level(k)] for k in state.modes if state.modes[k] != 0],
            'pwm': [[k, v[0], v[1]] for k, v in state.pwm.items()],
            'np': [[k, v[0], v[1]] for k, v in state.pixels.items()],
        }


def _set_adc(key, value):
    with state.lock:
        if value == -1:
            state.adc.pop(key, None)  # unset: back to a floating input
        else:
            state.adc[key] = value


def _attach_i2c(bus, addr, on):
    with state.lock:
        addrs = buses.i2c_devices.setdefault(bus, set())
        if on:
            addrs.add(addr)
        else:
            addrs.discard(addr)


def _attach_spi(bus, on):
    with state.lock:
        buses.spi_devices[bus] = on


def _uart_write(uid, data):
    with state.lock:
        buses.uart_rx.setdefault(uid, bytearray()).extend(unhexlify(data))


_COMMANDS = {
    'pin': _drive,
    'level': state.level_now,
    'watch': _watch,
    'adc': _set_adc,
    'i2c': _attach_i2c,
    'spi': _attach_spi,
    'uart': _uart_write,
}
