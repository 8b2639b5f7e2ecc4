"""Shared fixtures: real emulator boards, and a collector for board output."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import platformdirs
import pytest

# No test writes into the user's real cache folder: platformdirs' cache (so
# belayfw's capability cache) is a temporary folder for the whole run. The
# variable reaches subprocesses too; the patch below covers macOS and Windows,
# where platformdirs does not read XDG_CACHE_HOME.
TEST_CACHE_HOME = tempfile.mkdtemp(prefix="belayfw-test-cache-")
os.environ["XDG_CACHE_HOME"] = TEST_CACHE_HOME
# Port lock files too (one per port string; tests open many socket:// ports).
os.environ["BELAYFW_LOCK_DIR"] = os.path.join(TEST_CACHE_HOME, "port-locks")

from belayfw import Device  # noqa: E402 - after the cache folder is set


@pytest.fixture(autouse=True, scope="session")
def user_cache_in_a_temporary_folder() -> Iterator[str]:
    def user_cache_dir(appname: str | None = None, *args: object, **kwargs: object) -> str:
        return os.path.join(TEST_CACHE_HOME, appname or "")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(platformdirs, "user_cache_dir", user_cache_dir)
        yield TEST_CACHE_HOME
    shutil.rmtree(TEST_CACHE_HOME, ignore_errors=True)


class OutputCollector:
    """Thread-safe sink for board output, with a deadline-based wait."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, text: str) -> None:
        with self._changed:
            self._parts.append(text)
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self._parts)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Wait until ``predicate(text)`` holds; fail the test at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate("".join(self._parts)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"board output never matched; got {''.join(self._parts)[-500:]!r}")
                self._changed.wait(remaining)
            return "".join(self._parts)


@pytest.fixture
def output() -> OutputCollector:
    return OutputCollector()


@pytest.fixture
def board(output: OutputCollector) -> Iterator[Device]:
    """A plain emulator board whose output goes to ``output``."""
    with Device("emulator", output=output) as device:
        yield device


def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Wait for a condition re-checked on a short cadence, failing at the deadline."""
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out waiting for {what}")
        event.wait(0.01)


class CallInThread:
    """Runs ``call`` in another host thread at once and keeps how it ended."""

    def __init__(self, call: Callable[[], object]) -> None:
        self._outcome: list[object] = []
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], object]) -> None:
        try:
            self._outcome.append(call())
        except BaseException as error:
            self._outcome.append(error)

    def outcome(self, timeout: float = 30.0) -> object:
        """What the call returned or raised; fails the test if it is still running."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            pytest.fail(f"the call in another thread still runs after {timeout:g} s")
        return self._outcome[0]


# pytester runs pytest inside a test: the pytest plugin's tests drive it that way.
pytest_plugins = ("pytester",)
