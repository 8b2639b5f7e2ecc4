"""``belayfw info``: what the board is, as a table (or JSON)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from cyclopts import Parameter
from rich.table import Table

from belayfw.cli.common import Port, open_board, out
from belayfw.device import Device
from belayfw.errors import BelayError

#: Total and free bytes of the board's root file system, in one expression.
_FLASH = "(lambda s: (s[0] * s[2], s[0] * s[3]))(__import__('os').statvfs('/'))"


def info(*, json_: Annotated[bool, Parameter(name="--json")] = False, port: Port = None) -> None:
    """Show the board: firmware, platform, features, memory, flash, unique id, round trip.

    Parameters
    ----------
    json_
        Print one JSON object instead of a table.
    """
    with open_board(port) as device:
        facts = board_facts(device)
    if json_:
        out.print_json(json.dumps(facts))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in _rows(facts):
        table.add_row(label, value)
    out.print(table)


def board_facts(device: Device) -> dict[str, Any]:
    """Everything ``info`` reports, detected afresh (not from the capability cache)."""
    capabilities = device.refresh_capabilities()
    facts = capabilities.model_dump(mode="json", exclude={"detected_at"})
    facts["port"] = device.port
    try:
        total, free = device.eval(_FLASH)
        facts["flash"] = {"total": total, "free": free}
    except BelayError as error:  # a board without a file system
        facts["flash"] = {"error": str(error)}
    return facts


def _rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    features = facts["features"]
    present = sorted(name for name, value in features.items() if value)
    absent = sorted(name for name, value in features.items() if value is False)
    performance = facts.get("performance") or {}
    flash = facts["flash"]
    rows = [
        ("port", facts["port"]),
        ("firmware", f"{facts['implementation']} {facts['version']} ({facts['firmware']})"),
        ("machine", facts["machine"] or "-"),
        ("platform", facts["platform"]),
        ("features", ", ".join(present) or "-"),
        ("missing", ", ".join(absent) or "-"),
        ("memory", _memory(facts.get("mem_free"), facts.get("mem_alloc"))),
        ("flash", _flash(flash)),
        ("unique id", facts["board_id"] or "-"),
    ]
    if performance:
        rows.append(("round trip", f"{performance['round_trip_ms']:.3f} ms"))
        rows.append(("throughput", f"{performance['throughput_bytes_per_s'] / 1024:,.0f} KB/s"))
    if not facts["detected"]:
        rows.append(("detection", f"failed: {facts['error']}"))
    return rows


def _memory(free: int | None, allocated: int | None) -> str:
    if free is None or allocated is None:
        return "-"
    return f"{free / 1024:,.1f} KB free of {(free + allocated) / 1024:,.1f} KB"


def _flash(flash: dict[str, Any]) -> str:
    if "error" in flash:
        return f"- ({flash['error']})"
    return f"{flash['free'] / 1024:,.0f} KB free of {flash['total'] / 1024:,.0f} KB"
