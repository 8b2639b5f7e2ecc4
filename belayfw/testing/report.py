"""Report sections for a failing board test: the board traceback, and what boards printed.

pytest shows each section under its title after the failure, as it shows
captured stdout. The board traceback's frames are already mapped to the host
file and line of the decorated method (see :class:`belayfw.errors.DeviceError`).
"""

from __future__ import annotations

from collections.abc import Iterator

from belayfw.errors import DeviceError
from belayfw.testing.boards import TestBoards


def board_sections(error: BaseException, used: TestBoards | None) -> Iterator[tuple[str, str]]:
    """(title, text) sections for a test that failed with ``error``."""
    for found in _device_errors(error):
        head = f"{found.type_name}: {found.message}" if found.message else found.type_name
        text = found.board_traceback.rstrip() or "(the board printed no traceback)"
        yield "belayfw: board traceback", f"{text}\n{head}" if head not in text else text
    for entry in used.used if used is not None else ():
        lines = entry.output.lines_since(entry.mark)
        if lines:
            yield f"belayfw: last lines printed by {entry.device.port}", "\n".join(lines)


def _device_errors(error: BaseException) -> Iterator[DeviceError]:
    """Every DeviceError in ``error``, its causes and contexts, and exception groups."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DeviceError):
            yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            pending.append(current.__context__)
