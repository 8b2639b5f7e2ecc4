"""``belayfw`` command line: quick checks of a board from the shell.

belayfw ports                 list attached MicroPython USB boards
belayfw eval EXPR [-p PORT]   print the value of a board expression
belayfw exec CODE [-p PORT]   run statements, print what they printed
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from belayfw.device import Device
from belayfw.discovery import micropython_ports
from belayfw.errors import BelayError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="belayfw", description="Drive a MicroPython board.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ports", help="list attached MicroPython USB boards")
    for name, help_text in (
        ("eval", "print the value of an expression"),
        ("exec", "run statements"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("code")
        command.add_argument("-p", "--port", default=None, help="port string (default: auto)")
        command.add_argument("-t", "--timeout", type=float, default=None)
    args = parser.parse_args(argv)

    if args.command == "ports":
        for port in micropython_ports():
            print(port)
        return 0
    try:
        with Device(args.port) as device:
            if args.command == "eval":
                print(repr(device.eval(args.code, timeout=args.timeout)))
            else:
                sys.stdout.write(device.exec(args.code, timeout=args.timeout))
    except BelayError as error:
        print(f"belayfw: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
