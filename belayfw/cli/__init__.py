"""The ``belayfw`` command line: run code, open a REPL, check and reset a board.

One module per command (``run.py`` has run, exec and eval), registered on the
cyclopts app in ``app.py``. :func:`main` is the only error handler: a user
mistake or a board problem ends in one line ``belayfw: <ErrorType>: <message>``
on stderr and exit status 1 (a board traceback is printed above it); Ctrl-C
exits 130. Only a bug in belayfw itself shows a Python traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from cyclopts import CycloptsError

from belayfw.errors import BelayError, DeviceError

#: Exit status after Ctrl-C, as shells report a SIGINT death.
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from belayfw.cli.app import app

    tokens = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(tokens, exit_on_error=False, print_error=False, result_action="return_value")
    except CycloptsError as error:
        return _fail(type(error).__name__, str(error).strip())
    except DeviceError as error:
        if 'File "' in error.board_traceback:  # frames worth showing, not just the summary
            sys.stdout.flush()
            sys.stderr.write(error.board_traceback.rstrip() + "\n")
        summary = f"{error.type_name}: {error.message}" if error.message else error.type_name
        return _fail(type(error).__name__, summary)
    except (BelayError, OSError, ValueError) as error:
        return _fail(type(error).__name__, str(error))
    except KeyboardInterrupt:
        sys.stdout.flush()
        sys.stderr.write("belayfw: interrupted\n")
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _fail(type_name: str, message: str) -> int:
    sys.stdout.flush()
    line = " ".join(message.split())  # one line, whatever the message held
    sys.stderr.write(f"belayfw: {type_name}: {line}\n")
    sys.stderr.flush()
    return 1


__all__ = ["EXIT_INTERRUPTED", "main"]
