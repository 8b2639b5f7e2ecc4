"""The plugin's fixtures: boards for tests, opened on the configured ports.

Each option has a fixture (``belayfw_port``, ``belayfw_profile``,
``belayfw_reset``) that resolves it as pytest-embedded does: a test's
``parametrize(..., indirect=True)`` first, then the ``board`` marker (profile),
then the command line, then ``BELAYFW_PORT``, then the default. A fixture of
the same name in a project's ``conftest.py`` overrides any of these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, Protocol, TypeVar, overload

import pytest

from belayfw.device import Device
from belayfw.testing.boards import ResetMode, check_features
from belayfw.testing.state import get_plugin, test_boards

D = TypeVar("D", bound=Device)

_BOARD_MARKER_OPTIONS = frozenset({"profile"})


class BoardFactory(Protocol):
    """``board_factory(Station)`` opens a ``Station``; ``shared=True`` keeps it for the run."""

    @overload
    def __call__(self, cls: None = None, *, shared: bool = False, **kwargs: Any) -> Device: ...
    @overload
    def __call__(self, cls: type[D], *, shared: bool = False, **kwargs: Any) -> D: ...


@pytest.fixture
def belayfw_port(request: pytest.FixtureRequest) -> str | None:
    """The port this test's boards open; None means any configured port this worker claims."""
    port: str | None = getattr(request, "param", None)
    return port


@pytest.fixture
def belayfw_profile(request: pytest.FixtureRequest) -> str | None:
    """The emulator profile for this test: parametrize, ``board`` marker, then --belayfw-profile."""
    if hasattr(request, "param"):
        param: str | None = request.param
        return param
    marker = request.node.get_closest_marker("board")
    if marker is not None:
        if marker.args:
            pytest.fail("@pytest.mark.board takes keyword options only, e.g. board(profile='pico')")
        unknown = set(marker.kwargs) - _BOARD_MARKER_OPTIONS
        if unknown:
            pytest.fail(
                f"@pytest.mark.board: unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_BOARD_MARKER_OPTIONS))}",
                pytrace=False,
            )
        if "profile" in marker.kwargs:
            profile: str | None = marker.kwargs["profile"]
            return profile
    return get_plugin(request.config).settings.profile


@pytest.fixture
def belayfw_reset(request: pytest.FixtureRequest) -> ResetMode:
    """What happens between tests (``--belayfw-reset``, or parametrize)."""
    if hasattr(request, "param"):
        return ResetMode(request.param)
    return get_plugin(request.config).settings.reset


@pytest.fixture
def board_factory(
    request: pytest.FixtureRequest,
    belayfw_port: str | None,
    belayfw_profile: str | None,
    belayfw_reset: ResetMode,
) -> Iterator[BoardFactory]:
    """Opens a ``Device`` (or subclass) on the test's board; closed after the test.

    ``board_factory(Station, **options)`` returns an open ``Station``; keyword
    options go to its constructor. ``shared=True`` opens it once for the whole
    run instead, and this test runs in its own session on it (see
    ``--belayfw-reset``). ``@pytest.mark.requires(...)`` is checked on each
    board it opens.
    """
    plugin = get_plugin(request.config)
    marker = request.node.get_closest_marker("requires")
    features: tuple[str, ...] = marker.args if marker is not None else ()
    record = test_boards(request.node)

    def factory(cls: type[Device] | None = None, *, shared: bool = False, **kwargs: Any) -> Any:
        kind = cls or Device
        if shared:
            device, output = plugin.shared(kind, belayfw_port, belayfw_profile, kwargs)
            first_use = record.add(device, output)
            check_features(device, features)
            if first_use:  # one session per test, however often the test asks
                plugin.start_test_session(device, belayfw_reset, stack)
        else:
            device, output = plugin.open(
                kind, belayfw_port, belayfw_profile, belayfw_reset, kwargs, stack.callback
            )
            record.add(device, output)
            check_features(device, features)
        return device

    with ExitStack() as stack:
        yield factory


@pytest.fixture
def board(board_factory: BoardFactory) -> Device:
    """An open plain ``Device`` on the test's board, closed after the test."""
    return board_factory()


@pytest.fixture
def board_session(board_factory: BoardFactory) -> Device:
    """The run's shared plain ``Device``, with this test in its own session on it.

    Threads and resources the test starts are stopped and cleaned when it ends,
    even when it fails, so the next test starts clean; the board is opened once.
    """
    return board_factory(shared=True)


@pytest.fixture(scope="session")
def shared_board_factory(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Opens a ``Device`` (or subclass) once for the whole run: for session-scoped fixtures.

    Tests using what it returns share the board's state; closed when the run ends.
    """
    plugin = get_plugin(request.config)
    profile = plugin.settings.profile

    def factory(cls: type[Device] | None = None, **kwargs: Any) -> Any:
        device, _output = plugin.shared(cls or Device, None, profile, kwargs)
        return device

    return factory


@pytest.fixture(scope="session")
def shared_board(shared_board_factory: Callable[..., Device]) -> Device:
    """A plain ``Device`` opened once for the whole run (state shared between tests)."""
    return shared_board_factory()
