"""belayfw's pytest plugin: boards as fixtures, one board per xdist worker, board reports.

Registered through the ``pytest11`` entry point, so installing belayfw is
enough; ``-p no:belayfw`` turns it off. Options are grouped under "belayfw"
as pytest-embedded groups its own; the fixtures are in
:mod:`belayfw.testing.fixtures`, the plugin's state in :mod:`belayfw.testing.boards`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterable

import pytest

from belayfw.errors import BelayError
from belayfw.testing.boards import BoardPlugin, ResetMode, Settings, TestBoards
from belayfw.testing.fixtures import (
    belayfw_port,
    belayfw_profile,
    belayfw_reset,
    board,
    board_factory,
    board_session,
    shared_board,
    shared_board_factory,
)
from belayfw.testing.header import describe_boards
from belayfw.testing.report import board_sections
from belayfw.testing.state import PLUGIN_KEY, TEST_BOARDS_KEY, get_plugin
from belayfw.transports import check_port
from belayfw.transports.emulator import PROFILES

__all__ = [
    "belayfw_port",
    "belayfw_profile",
    "belayfw_reset",
    "board",
    "board_factory",
    "board_session",
    "shared_board",
    "shared_board_factory",
]

RESET_MODES = ("none", "session", "soft")
_MARKERS = (
    "board(profile=None): options for the boards this test opens, e.g. "
    'board(profile="pico") for a pico-sized emulator board',
    "requires(*features): skip unless the board has every feature "
    '(capabilities), e.g. requires("threads", "filesystem")',
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("belayfw", "belayfw boards")
    group.addoption(
        "--belayfw-port",
        action="append",
        default=[],
        metavar="PORT",
        help="board port(s) to test on, repeatable or comma-separated; with pytest-xdist "
        "each worker takes its own (default: $BELAYFW_PORT, else emulator)",
    )
    group.addoption(
        "--belayfw-profile",
        default=None,
        metavar="NAME",
        help="emulator profile (unix, pico, esp32) for emulator ports",
    )
    group.addoption(
        "--belayfw-reset",
        default="session",
        choices=RESET_MODES,
        help="between tests on a shared board: none, session (each test its own "
        "session, cleaned after it; default) or soft (also soft-reset the board)",
    )
    group.addoption(
        "--belayfw-lock-timeout",
        default=300.0,
        type=float,
        metavar="SECONDS",
        help="how long a worker waits for a board another worker holds (0: fail at once)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)
    config.stash[PLUGIN_KEY] = BoardPlugin(_settings(config), worker_index=_worker_index())


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is not None:
        del config.stash[PLUGIN_KEY]
        plugin.close_shared()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One line per board: port, firmware and platform (read by opening it briefly)."""
    settings = get_plugin(config).settings
    return describe_boards(settings)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[TEST_BOARDS_KEY] = TestBoards()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report gets the board traceback and what its boards printed."""
    report = yield
    if report.failed and call.excinfo is not None:
        used = item.stash.get(TEST_BOARDS_KEY, None)
        for title, text in board_sections(call.excinfo.value, used):
            report.sections.append((title, text))
    return report


def _settings(config: pytest.Config) -> Settings:
    ports = _split(config.getoption("belayfw_port"))
    if not ports:
        ports = _split([os.environ.get("BELAYFW_PORT", "")]) or ["emulator"]
    profile: str | None = config.getoption("belayfw_profile")
    if profile is not None and profile not in PROFILES:
        raise pytest.UsageError(
            f"--belayfw-profile {profile}: unknown profile; choose one of {', '.join(PROFILES)}"
        )
    for port in ports:
        try:
            check_port(port)
        except BelayError as error:
            raise pytest.UsageError(f"--belayfw-port {port}: {error}") from None
    timeout = float(config.getoption("belayfw_lock_timeout"))
    if timeout < 0:
        raise pytest.UsageError("--belayfw-lock-timeout must be 0 or more seconds")
    return Settings(
        ports=tuple(ports),
        profile=profile,
        reset=ResetMode(config.getoption("belayfw_reset")),
        lock_timeout=timeout,
    )


def _split(values: Iterable[str]) -> list[str]:
    ports: list[str] = []
    for value in values:
        for port in value.split(","):
            port = port.strip()
            if port and port not in ports:
                ports.append(port)
    return ports


def _worker_index() -> int:
    """The pytest-xdist worker number (``gw3`` -> 3); 0 without xdist."""
    match = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(match.group(1)) if match else 0
