# The emulator board's hardware state, shared by `machine`, `neopixel`, the
# buses (_belayfw_buses) and the side channel service (_belayfw_hw): pin levels,
# IRQ handlers, ADC readings, PWM settings, pixels. The unix port has no GIL,
# so changes happen under `lock`.
# Importing `machine` (every connection does) only opens the side channel. When
# board code first touches hardware (a Pin, ADC, PWM, bus, pixels), the service
# (_belayfw_hw) and the buses load in that code's thread, then one thread starts
# that waits, blocked in poll, for the host's messages and serves them. Board
# code that never touches hardware loads neither and runs no thread for it.
# Threads other than the board code's never import: an import looks at the
# flash, and the unix port's file system is not safe from two threads at once
# (a crash was seen: the reader thread's `import select` met a call's import).
import os
import select
import sys
import time
import _thread

lock = _thread.allocate_lock()
outputs = {}  # pin id -> the level the board drives (its output latch)
modes = {}  # pin id -> mode: 0 input, 1 output, 2 open drain
pulls = {}  # pin id -> pull: 1 up, 2 down
inputs = {}  # pin id -> the level driven from outside (the host); absent: floating
irqs = {}  # pin id -> (handler, on_rising, on_falling, Pin)
adc = {}  # ADC key -> reading (u16), or None: ask the host at each read
pwm = {}  # pin id -> [freq, duty_u16]
pixels = {}  # neopixel pin id -> [bytes per pixel, hex of the last write()]
hw = None  # the side channel service (_belayfw_hw), once loaded
ready = False  # the service has applied everything the host sent before it loaded
chan = None  # the side channel, a socket inherited as a file descriptor
_poller = None
_wire_lock = _thread.allocate_lock()
_wiring = None  # the thread loading the service right now
# IRQ and Timer callbacks run in other threads than board code, so, as on a board,
# never two at once nor inside disable_irq(): the thread doing either holds irq_gate.
irq_gate = _thread.allocate_lock()
irq_holder = None  # the thread holding irq_gate (set, like what follows, under `lock`)
irq_off = 0  # its disable_irq() depth, 1 more while it runs a callback
irq_running = False  # it runs a callback, not only code between disable and enable_irq
pending = []  # (callback, argument) that fired meanwhile: the holder runs them as it lets go
_serving = False  # the thread answering the host runs


def wire():
    # Load the service; it applies what the host sent so far before we return.
    global hw, ready, _wiring
    if ready or chan is None or _wiring == _thread.get_ident():
        return hw
    with _wire_lock:
        if not ready:
            _wiring = _thread.get_ident()
            try:
                import _belayfw_hw
                hw = _belayfw_hw
                hw.drain()
                ready = True
            finally:
                _wiring = None
    return hw


def sync():
    # Before board code reads or sets hardware: did the host send something?
    if not _serving and chan is not None:
        _serve()
    if not ready and _poller is not None and _poller.poll(0):
        wire()


def _serve():
    global _serving
    with _wire_lock:
        if _serving:
            return
        _serving = True
    # The service and the buses load here, in the board code's thread, before the
    # reader starts: the unix port has no GIL, and a module imported in one thread
    # while another looks a module up can crash it (seen: a segfault after a reset).
    try:
        wire()  # _belayfw_hw imports the buses
        import machine_system  # IRQ and Timer callbacks may use it: loaded here, not in their thread
    except BaseException:  # a timeout's interrupt, a full heap: the next touch tries again
        _serving = False
        raise
    with _wire_lock:
        chan.write(b'\x00\x00\x00\x06["up"]')  # the host may now wait for answers
    _thread.start_new_thread(_wait_for_host, ())


def _wait_for_host():
    waiter = select.poll()
    waiter.register(chan.fileno(), select.POLLIN)
    while not waiter.poll(-1):
        pass
    wire().serve()


def _open():
    global chan, _poller
    fd = os.getenv('BELAYFW_HW_FD')
    if not fd:
        return
    chan = open(int(fd), 'r+b')
    _poller = select.poll()
    _poller.register(chan.fileno(), select.POLLIN)


_open()


def event(msg):
    # Tell a watching host what the board did.
    sync()
    if hw is not None and hw.watched:
        hw.event(msg)


def level_now(pid):
    # The level, read from another thread than the one that may be changing the pins.
    with lock:
        return level(pid)


def level(pid):
    if modes.get(pid, 0) == 1:
        return outputs.get(pid, 0)
    if pid in inputs:
        return inputs[pid]
    if modes.get(pid) == 2 and outputs.get(pid, 0) == 0:
        return 0  # open drain, pulling low
    return 1 if pulls.get(pid) == 1 else 0


def changed(pid, before, by_board):
    # After a change that may have moved the pin's level: report it, fire its IRQ.
    with lock:
        after = level(pid)
        irq = irqs.get(pid) if after != before else None
        if irq is not None and not irq[1 if after else 2]:
            irq = None
    if after == before:
        return
    if by_board:
        event(['pin', pid, after, time.time_ns()])
    if irq is not None:
        fire(irq[0], irq[3], not by_board)


def fire(callback, arg, serving):
    # Run a Pin IRQ handler or Timer callback, or leave it in `pending` for the thread
    # holding IRQs back. `serving`: the host's drive() fired it, in the thread serving
    # the channel; drive() raises what the handler raised and returns once it ran, so
    # that thread waits for a callback running elsewhere, serving the host meanwhile,
    # unless that callback waits for a bus answer (the model answering it may be the
    # one driving: each would wait for the other).
    global irq_holder, irq_off, irq_running
    me = _thread.get_ident()
    host = True
    while True:
        with lock:
            if irq_gate.acquire(0):
                irq_holder, irq_off, irq_running = me, 1, True
                break
            if not (serving and host and irq_running) or irq_holder == me or hw.asking(irq_holder):
                if (callback, arg) not in pending:  # as a board's IRQ flag: once, however often
                    pending.append((callback, arg))
                return
        host = hw.serve_a_while()
    try:
        if serving:
            callback(arg)
        else:
            try:
                callback(arg)
            except Exception as e:  # as on a board: printed, never raised in the code that fired it
                report(e)
    finally:
        let_irqs_in()


def let_irqs_in():
    # The holder lets go: the callbacks that fired meanwhile run first, in its thread.
    global irq_holder, irq_off, irq_running
    me = _thread.get_ident()
    try:
        while True:
            with lock:
                if irq_holder != me:
                    return
                if not pending:
                    irq_holder, irq_off, irq_running = None, 0, False
                    irq_gate.release()
                    return
                callback, arg = pending.pop(0)
                irq_off, irq_running = 1, True
            try:
                callback(arg)
            except Exception as e:  # printed, as any IRQ handler's
                report(e)
    finally:
        with lock:
            if irq_holder == me:  # a KeyboardInterrupt in a callback: IRQs must not stay off
                irq_holder, irq_off, irq_running = None, 0, False
                irq_gate.release()


def interrupted():
    # A call ended on a KeyboardInterrupt. A board cannot be interrupted between
    # disable_irq() and enable_irq(), so IRQs this thread held back come back.
    with lock:
        if irq_holder != _thread.get_ident():
            return
    let_irqs_in()


def report(e):
    # An IRQ or Timer callback raised: a board prints it and carries on.
    print('Uncaught exception in IRQ callback handler')
    sys.print_exception(e)
