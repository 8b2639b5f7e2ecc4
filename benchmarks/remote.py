"""Remote-link benchmark: a task call over RFC 2217 and raw TCP, beside the local pty.

Each link leads to its own emulator board served by belayfw's export
(:class:`~belayfw.export.ExportedBoard`); the reference is the same kind of
board on a local pseudo-terminal (:class:`~belayfw.export.PtyExport`), the way
a USB board looks. With ser2net installed, its RFC 2217 and raw accepters in
front of a pty board are measured too. Calls alternate between the reference
and the link, so machine noise hits both alike; the ratios are what to read.
Everything stays on 127.0.0.1, so the ratio is the cost of the protocol and
the relay, not of a network.

    python benchmarks/remote.py [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import paired_medians, print_header, print_row

from belayfw import Device, task
from belayfw.export import ExportedBoard, NetworkExport, PtyExport
from belayfw.export.ser2net import Ser2net, find_ser2net


class Calculator(Device):
    @task
    def add(a, b):
        return a + b


@contextlib.contextmanager
def pty_board() -> Iterator[str]:
    """An emulator board served on a pty; yields its path."""
    export = PtyExport(ExportedBoard())
    relay = threading.Thread(target=export.serve_forever, daemon=True)
    relay.start()
    try:
        yield export.path
    finally:
        export.stop()
        relay.join(timeout=5)
        export.close()


@contextlib.contextmanager
def exported(telnet: bool) -> Iterator[str]:
    with NetworkExport(ExportedBoard(), telnet=telnet) as export:
        yield export.url


@contextlib.contextmanager
def behind_ser2net(scheme: str) -> Iterator[str]:
    with pty_board() as path, Ser2net(path) as server:
        yield server.rfc2217_url if scheme == "rfc2217" else server.socket_url


def compare(reference: Calculator, port: str, label: str, rounds: int) -> None:
    with Calculator(port) as device:
        for _ in range(20):
            reference.add(1, 2)
            device.add(1, 2)
        pty_s, link_s = paired_medians(
            lambda: reference.add(1, 2), lambda: device.add(1, 2), rounds
        )
    print_row(label, pty_s, link_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    links = [
        ("task, rfc2217 (belayfw export)", lambda: exported(telnet=True)),
        ("task, socket (belayfw export)", lambda: exported(telnet=False)),
    ]
    if find_ser2net() is not None:
        links += [
            ("task, rfc2217 (ser2net)", lambda: behind_ser2net("rfc2217")),
            ("task, socket (ser2net)", lambda: behind_ser2net("socket")),
        ]
    print_header("local pty ms", "link ms")
    with pty_board() as path, Calculator(path) as reference:
        for label, serve in links:
            with serve() as port:
                compare(reference, port, label, args.rounds)
    if find_ser2net() is None:
        print("(ser2net not installed: its rows are left out)")


if __name__ == "__main__":
    main()
