# The `rp2` module of the emulator's pico profile. Programs import it for PIO
# state machines; the emulator runs no PIO, so the names a program uses at
# import time exist (PIO constants, the asm_pio decorator) and anything that
# would drive PIO hardware raises NotImplementedError saying so.


def _absent(what):
    raise NotImplementedError('rp2.%s: the emulator does not run PIO or DMA hardware' % what)


class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100
    IRQ_SM1 = 0x200
    IRQ_SM2 = 0x400
    IRQ_SM3 = 0x800

    def __init__(self, id):
        _absent('PIO')


class StateMachine:
    def __init__(self, id, *args, **kwargs):
        _absent('StateMachine')


class DMA:
    def __init__(self, *args, **kwargs):
        _absent('DMA')


def asm_pio(**kwargs):
    # The program is kept, not assembled: it can be defined, not run.
    def keep(program):
        return program
    return keep


def bootsel_button():
    return 0


def country(code=None):
    return 'XX' if code is None else None
