"""File transfer benchmark: dev.fs against mpremote's fs_writefile/fs_readfile, one board.

Both tools talk to the same emulator board (its own LittleFS2 flash) through a
relay pty, with no delay and with 1 ms each way (like USB, see _links.py), one
after the other in the same run. Prints throughput in KB/s and belayfw's ratio
over mpremote; then compressible source sent compressed against the same bytes
uncompressed, and a re-sync of 50 x 4 KB files with nothing changed (time and
round trips). Last, a 20 KB source file sent compressed and plain over a link
that also moves only 11520 bytes/s (a 115200-baud UART), where bytes, not round
trips, are what a transfer waits for (mpremote is not run there: too slow).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _links import DelayedLink
from mpremote.transport_serial import SerialTransport

from belayfw import Device

ROOT = Path(__file__).resolve().parent.parent


def python_sources(count: int, size: int) -> list[bytes]:
    """``count`` pieces of real Python source (belayfw's own), ``size`` bytes each."""
    text = b"".join(path.read_bytes() for path in sorted((ROOT / "belayfw").rglob("*.py")))
    return [text[i * size : (i + 1) * size] for i in range(count)]


CASES: dict[str, list[bytes]] = {
    "100 KB binary": [os.urandom(100 * 1024)],
    "4 x 50 KB source": python_sources(4, 50 * 1024),
}


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """Median seconds of ``repeats`` runs."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def kb_per_s(files: list[bytes], seconds: float) -> float:
    return sum(len(data) for data in files) / 1024 / seconds


def mpremote_rates(port: str, repeats: int) -> dict[tuple[str, str], float]:
    rates: dict[tuple[str, str], float] = {}
    transport = SerialTransport(port, baudrate=115200)
    try:
        transport.enter_raw_repl(soft_reset=False)
        for case, files in CASES.items():

            def write(files: list[bytes] = files) -> None:
                for n, data in enumerate(files):
                    transport.fs_writefile(f"/mp{n}.bin", data)

            def read(files: list[bytes] = files) -> None:
                for n, data in enumerate(files):
                    assert transport.fs_readfile(f"/mp{n}.bin") == data

            rates[case, "write"] = kb_per_s(files, best_of(repeats, write))
            rates[case, "read"] = kb_per_s(files, best_of(repeats, read))
        transport.exit_raw_repl()
    finally:
        transport.close()
    return rates


def belayfw_rates(device: Device, repeats: int) -> dict[tuple[str, str], float]:
    rates: dict[tuple[str, str], float] = {}
    for case, files in CASES.items():

        def write(files: list[bytes] = files) -> None:
            for n, data in enumerate(files):
                device.fs.write_bytes(f"/bf{n}.bin", data)

        def read(files: list[bytes] = files) -> None:
            for n, data in enumerate(files):
                assert device.fs.read_bytes(f"/bf{n}.bin") == data

        rates[case, "write"] = kb_per_s(files, best_of(repeats, write))
        rates[case, "read"] = kb_per_s(files, best_of(repeats, read))
    return rates


def compression(device: Device, repeats: int) -> tuple[float, float]:
    files = CASES["4 x 50 KB source"]

    def send(compress: bool) -> None:
        for n, data in enumerate(files):
            device.fs.write_bytes(f"/src{n}.py", data, compress=compress)

    return (
        kb_per_s(files, best_of(repeats, lambda: send(False))),
        kb_per_s(files, best_of(repeats, lambda: send(True))),
    )


def compression_on_a_uart(repeats: int) -> tuple[float, float]:
    """KB/s of 20 KB of source sent plain and compressed at 115200 baud, 1 ms each way."""
    data = CASES["4 x 50 KB source"][0][: 20 * 1024]
    with (
        DelayedLink(0.001, rate=UART_BYTES_PER_S) as link,
        Device(link.port, output=lambda text: None) as device,
    ):
        device.fs.write_bytes("/warm.py", b"x")  # helpers installed, memory measured

        def send(compress: bool) -> None:
            device.fs.write_bytes("/uart.py", data, compress=compress)

        return (
            kb_per_s([data], best_of(repeats, lambda: send(False))),
            kb_per_s([data], best_of(repeats, lambda: send(True))),
        )


#: A 115200-baud UART: 10 bits a byte on the line.
UART_BYTES_PER_S = 11520


def resync(device: Device, repeats: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        for n in range(50):
            (Path(folder) / f"m{n:02}.py").write_bytes(os.urandom(4096))
        device.sync(folder, "/project")
        trips = []

        def again() -> None:
            before = device.link_stats.round_trips
            report = device.sync(folder, "/project")
            trips.append(device.link_stats.round_trips - before)
            assert not report.changed

        seconds = best_of(repeats, again)
    return seconds * 1000, statistics.median(trips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--links", choices=("both", "pty"), default="both", help="pty: skip the 1 ms link"
    )
    args = parser.parse_args()
    links = [("pty relay", 0.0), ("1 ms each way", 0.001)]
    if args.links == "pty":
        links = links[:1]
    print(f"file transfers, emulator board (unix profile), median of {args.repeats}")
    print(f"{'':36} {'mpremote KB/s':>14} {'belayfw KB/s':>13} {'ratio':>8}")
    for label, delay in links:
        with DelayedLink(delay) as link:
            theirs = mpremote_rates(link.port, args.repeats)
            with Device(link.port, output=lambda text: None) as device:
                ours = belayfw_rates(device, args.repeats)
                plain, packed = compression(device, args.repeats)
                resync_ms, trips = resync(device, args.repeats)
        for (case, verb), rate in ours.items():
            name = f"{verb} {case}, {label}"
            mine = theirs[case, verb]
            print(f"{name:36} {mine:14.1f} {rate:13.1f} {rate / mine:7.2f}x")
        name = f"source sent compressed, {label}"
        print(
            f"{name:36} {'plain ' + format(plain, '.1f'):>14} {packed:13.1f} {packed / plain:7.2f}x"
        )
        print(
            f"  re-sync 50 x 4 KB, nothing changed, {label}: "
            f"{resync_ms:.1f} ms, {trips:g} round trips"
        )
    if args.links == "both":
        plain, packed = compression_on_a_uart(args.repeats)
        name = "source sent compressed, 115200 baud"
        print(
            f"{name:36} {'plain ' + format(plain, '.1f'):>14} {packed:13.1f} {packed / plain:7.2f}x"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
