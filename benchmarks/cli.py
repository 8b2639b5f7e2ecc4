"""Command-line benchmark: belayfw against mpremote, one command each, on one served board.

    python benchmarks/cli.py [--rounds N]

`belayfw emulator` serves one board on a pseudo-terminal; both tools open its
path like a USB port, so each command pays what it pays at the bench: start
Python, open the port, enter raw REPL, run, exit. mpremote runs with `resume`
(no soft reset first, as belayfw does none). The two commands alternate, and
the medians of the same run are compared. "import only" is Python starting and
importing each tool's command line, nothing else.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import paired_medians, print_header, print_row

SCRIPT = "total = 0\nfor n in range(1000):\n    total += n\nprint(total)\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    belayfw = [sys.executable, "-m", "belayfw.cli"]
    server = subprocess.Popen(
        [*belayfw, "emulator"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        mpremote = [sys.executable, "-m", "mpremote", "connect", port, "resume"]
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "count.py"
            script.write_text(SCRIPT, encoding="utf-8")
            cases = [
                (
                    "import only",
                    [sys.executable, "-c", "import mpremote.main"],
                    [sys.executable, "-c", "import belayfw.cli.app"],
                ),
                ("eval 1+1", [*mpremote, "eval", "1+1"], [*belayfw, "eval", "1+1", "-p", port]),
                (
                    "run a script",
                    [*mpremote, "run", str(script)],
                    [*belayfw, "run", str(script), "-p", port],
                ),
            ]
            print(f"belayfw CLI vs mpremote on {port}, {args.rounds} rounds, medians per command")
            print_header("mpremote ms", "belayfw ms")
            for name, theirs, ours in cases:
                _check(theirs), _check(ours)
                first, second = paired_medians(
                    lambda command=theirs: _check(command),
                    lambda command=ours: _check(command),
                    args.rounds,
                )
                print_row(name, first, second)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _check(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip()}")


if __name__ == "__main__":
    main()
