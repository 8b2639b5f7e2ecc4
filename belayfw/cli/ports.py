"""``belayfw ports``: the MicroPython USB boards attached to this computer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from cyclopts import Parameter
from rich.table import Table
from serial.tools import list_ports

from belayfw.cli.common import note, out
from belayfw.discovery import MICROPYTHON_USB_VENDORS


def ports(*, json_: Annotated[bool, Parameter(name="--json")] = False) -> None:
    """List attached USB serial ports whose vendor makes MicroPython boards.

    Shows vendor, product, serial number and USB location. With none attached it
    says so on stderr and exits 0 (the emulator needs no port: -p emulator).

    Parameters
    ----------
    json_
        Print a JSON list instead of a table.
    """
    found = attached_boards()
    if json_:
        out.print_json(json.dumps(found))
        return
    if not found:
        note("no MicroPython USB board attached (the emulator needs none: -p emulator)")
        return
    table = Table()
    for column in ("port", "vendor", "product", "serial number", "location"):
        table.add_column(column)
    for board in found:
        table.add_row(
            board["port"],
            board["vendor"],
            board["product"] or "-",
            board["serial_number"] or "-",
            board["location"] or "-",
        )
    out.print(table)


def attached_boards() -> list[dict[str, Any]]:
    """Every attached port with a MicroPython vendor id, as plain data."""
    boards = []
    for port in sorted(list_ports.comports(), key=lambda info: info.device):
        if port.vid not in MICROPYTHON_USB_VENDORS:
            continue
        boards.append(
            {
                "port": port.device,
                "vid": port.vid,
                "pid": port.pid,
                "vendor": port.manufacturer or MICROPYTHON_USB_VENDORS[port.vid],
                "product": port.product,
                "serial_number": port.serial_number,
                "location": port.location,
            }
        )
    return boards
