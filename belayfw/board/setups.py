# belayfw board runtime part: @setup and @teardown support (MicroPython). Sent
# with the code of a class that has either, before any of it (see runtime.py):
# the core's _bfw_d keeps setup bodies in _bfw_S.
try:
    _bfw_S
except NameError:
    _bfw_S = {}  # setup name -> compiled body


def _bfw_su(runs):
    # Run setup bodies at global scope; their arguments become globals first.
    g = globals()
    for n, args in runs:
        g.update(args)
        exec(_bfw_S[n], g)


def _bfw_run_all(names):
    # Run each function in turn; report every failure instead of stopping at one.
    import io
    g = globals()
    failed = []
    for n in names:
        try:
            g[n]()
        except Exception as e:
            s = io.StringIO()
            _bfw_sys.print_exception(e, s)
            failed.append((n, type(e).__name__, str(e), s.getvalue()))
    return failed
