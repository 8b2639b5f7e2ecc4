"""The plugin's state for one pytest process: settings, port claims, boards it opened.

One :class:`BoardPlugin` lives in ``config.stash`` from ``pytest_configure`` to
``pytest_unconfigure`` (as pytest-embedded keeps its plugin object). Fixtures
ask it for devices: a per-test device is opened on a claimed port and closed
(claim released) after the test; a shared device is opened once per process
and kept, with its claim, until the run ends. Each test records which boards
it used, so its report can show what they printed.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from belayfw.device import Device
from belayfw.errors import BelayError, did_you_mean
from belayfw.session.capabilities import DeviceFeatures
from belayfw.testing.claims import PortClaims
from belayfw.testing.recorder import BoardOutput

log = logging.getLogger(__name__)

D = TypeVar("D", bound=Device)

#: Feature names ``@pytest.mark.requires`` accepts (those capabilities detect).
FEATURES = tuple(DeviceFeatures.model_fields)


class ResetMode(enum.StrEnum):
    """What happens to a board between tests (``--belayfw-reset``)."""

    #: Nothing: tests on a shared board share its state.
    NONE = "none"
    #: Each test on a shared board runs in its own session, ended (and cleaned) after it.
    SESSION = "session"
    #: As SESSION, and the board is soft-reset (RAM cleared) before each test.
    SOFT = "soft"


@dataclass(frozen=True)
class Settings:
    """The plugin's options after parsing (see ``plugin.pytest_addoption``)."""

    ports: tuple[str, ...]
    profile: str | None
    reset: ResetMode
    lock_timeout: float


def with_profile(port: str, profile: str | None) -> str:
    """``port`` with an emulator profile applied; other ports are what they are."""
    if profile is None or "#" in port:
        return port
    if port == "emulator" or port.startswith("emulator:"):
        return f"emulator:{profile}"
    return port


@dataclass
class UsedBoard:
    """A board one test used: its output recorder and where the test's output starts."""

    device: Device
    output: BoardOutput
    mark: int


@dataclass
class TestBoards:
    """The boards one test used, kept in the test item's stash for its report."""

    __test__ = False  # not a test class, whatever its name

    used: list[UsedBoard] = field(default_factory=list)

    def add(self, device: Device, output: BoardOutput) -> bool:
        """Record that the test uses ``device``; False when it was already recorded."""
        if any(entry.device is device for entry in self.used):
            return False
        self.used.append(UsedBoard(device, output, output.mark()))
        return True


class BoardPlugin:
    """Opens, shares, resets and closes the boards of one pytest process."""

    def __init__(self, settings: Settings, *, worker_index: int = 0) -> None:
        self.settings = settings
        self.claims = PortClaims(
            settings.ports, worker_index=worker_index, wait=settings.lock_timeout
        )
        #: Shared devices by (class, port, options): the device, its output, the claimed port.
        self._shared: dict[tuple[type[Device], str, str], tuple[Device, BoardOutput, str]] = {}

    # -- per-test devices --------------------------------------------------------------

    def open(
        self,
        cls: type[D],
        port: str | None,
        profile: str | None,
        reset: ResetMode,
        kwargs: dict[str, Any],
        on_close: Callable[[Callable[[], None]], object],
    ) -> tuple[D, BoardOutput]:
        """Open ``cls`` on ``port`` (or a claimed configured port) for one test.

        ``on_close`` receives the closer to call after the test: it closes the
        device and releases the claim. With ``reset`` SOFT the board is
        soft-reset once open: a real board keeps its RAM between connections.
        """
        claimed = self.claims.acquire(port)
        try:
            device, output = _open(cls, with_profile(claimed, profile), kwargs)
        except BaseException:
            self.claims.release(claimed)
            raise

        def close() -> None:
            try:
                device.close()
            finally:
                self.claims.release(claimed)

        on_close(close)
        if reset is ResetMode.SOFT:
            device.soft_reset()
        return device, output

    # -- shared devices ----------------------------------------------------------------

    def shared(
        self, cls: type[D], port: str | None, profile: str | None, kwargs: dict[str, Any]
    ) -> tuple[D, BoardOutput]:
        """``cls`` opened once for the whole run (per class, port and options)."""
        claimed = self.claims.acquire(port)  # re-entrant: free when it is already ours
        key = (cls, with_profile(claimed, profile), repr(sorted(kwargs.items())))
        found = self._shared.pop(key, None)
        if found is not None:
            device, output, held = found
            self.claims.release(held)  # the claim just taken stands in for it
            if device.is_open:
                assert isinstance(device, cls)
                self._shared[key] = (device, output, claimed)
                return device, output
            # a test closed it: open it again below
        try:
            opened, out = _open(cls, with_profile(claimed, profile), kwargs)
        except BaseException:
            self.claims.release(claimed)
            raise
        self._shared[key] = (opened, out, claimed)
        return opened, out

    def start_test_session(self, device: Device, reset: ResetMode, stack: ExitStack) -> None:
        """Make the rest of this test run in its own session on a shared ``device``.

        ``stack`` ends the session (threads stopped, resources cleaned) after the
        test. NONE leaves the test in the device's primary session; SOFT first
        clears the board's RAM.
        """
        if reset is ResetMode.NONE:
            return
        if reset is ResetMode.SOFT:
            device.soft_reset()
        stack.enter_context(device.manager.new_session(device))

    def close_shared(self) -> None:
        """Close every shared device and release its claim (at the end of the run)."""
        shared, self._shared = self._shared, {}
        for device, _output, claimed in reversed(shared.values()):
            try:
                device.close()
            except BelayError as error:
                log.error("belayfw: closing %s at the end of the run: %s", device.port, error)
            finally:
                self.claims.release(claimed)


def _open(cls: type[D], port: str, kwargs: dict[str, Any]) -> tuple[D, BoardOutput]:
    forward = kwargs.pop("output", None)
    output = BoardOutput(port, forward)
    return cls(port, output=output, **kwargs), output


def check_features(device: Device, features: Iterable[str]) -> None:
    """Skip the test when the board lacks one of ``features`` (``@pytest.mark.requires``)."""
    wanted = list(features)
    for name in wanted:
        if name not in FEATURES:
            pytest.fail(
                f"@pytest.mark.requires: unknown feature {name!r}{did_you_mean(name, FEATURES)}; "
                f"known features: {', '.join(FEATURES)}",
                pytrace=False,
            )
    capabilities = device.capabilities
    missing = [name for name in wanted if not capabilities.supports(name)]
    if missing:
        pytest.skip(
            f"{device.port} lacks {', '.join(missing)} "
            f"({capabilities.firmware} on {capabilities.platform})"
        )
