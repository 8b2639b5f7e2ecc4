"""close() is final, even when a call in another host thread never lets go of the board.

Found open: on close()'s give-up path the sessions stayed non-final, the task
result cache survived, and a task with retries reconnected the device being
closed. Each test drives the real emulator into that situation.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

from belayfw import (
    Device,
    DeviceClosed,
    DeviceDisconnected,
    ResourceCleanupError,
    SessionState,
    task,
)
from belayfw import link as link_module

from .conftest import CallInThread, OutputCollector, wait_until


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """close() gives a stuck call 1 s (not 5 s) before cutting the link: the path, sooner."""
    monkeypatch.setattr(link_module, "CLOSE_GRACE_SECONDS", 1.0)
    monkeypatch.setattr(link_module, "_INTERRUPT_AGAIN_SECONDS", 0.2)


class Deaf(Device):
    @task(exclusive=True, retries=3)
    def deaf_with_retries():
        while True:
            try:
                while True:
                    pass
            except KeyboardInterrupt:
                pass

    @task
    def deaf():
        while True:
            try:
                while True:
                    pass
            except KeyboardInterrupt:
                pass

    @task
    def busy():
        import time

        while True:
            time.sleep_ms(1)

    @task(cache=True)
    def marker():
        return marker_value  # a board global the test sets


def _running(device: Deaf) -> bool:
    connection = device._board.connection
    return connection is not None and connection.repl._interruptible()


@pytest.fixture
def deaf(output: OutputCollector) -> Iterator[Deaf]:
    device = Deaf("emulator", output=output)
    yield device
    device._abandon()


@pytest.mark.timeout(120)
def test_a_task_with_retries_cannot_reconnect_a_device_being_closed(deaf: Deaf) -> None:
    caller = CallInThread(deaf.deaf_with_retries)
    wait_until(lambda: _running(deaf), what="the call to be running on the board")
    sessions = deaf.manager.sessions_of(deaf)
    with contextlib.suppress(ResourceCleanupError):  # teardowns cannot run on a cut link
        deaf.close()
    outcome = caller.outcome()
    assert isinstance(outcome, DeviceClosed), outcome
    assert "closed" in str(outcome)
    assert not deaf.is_open
    assert deaf._board.connection is None, "a retry reconnected the closed device"
    assert all(session.state is SessionState.TERMINATED for session in sessions)
    with pytest.raises(DeviceClosed, match="closed"):
        deaf.eval("1")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("task", "how"),
    [("deaf", "closed during this call"), ("busy", "interrupted")],
    ids=["ignores-interrupts-so-the-link-is-cut", "heeds-the-interrupt"],
)
def test_a_call_that_close_ends_says_the_device_was_closed(deaf: Deaf, task: str, how: str) -> None:
    # Before: DeviceDisconnected when the link was cut under it, as if the board had
    # gone away; the board's KeyboardInterrupt as a DeviceError when it heeded the
    # interrupt (the common case), as if a Ctrl-C had stopped it.
    caller = CallInThread(getattr(deaf, task))
    wait_until(lambda: _running(deaf), what="the call to be running on the board")
    with contextlib.suppress(ResourceCleanupError):  # teardowns cannot run on a cut link
        deaf.close()
    outcome = caller.outcome()
    assert isinstance(outcome, DeviceClosed), outcome
    assert "close() was called in another host thread" in str(outcome)
    assert how in str(outcome)


@pytest.mark.timeout(120)
def test_close_that_gives_up_still_ends_sessions_and_clears_the_cache(deaf: Deaf, mocker) -> None:
    deaf.exec("marker_value = 'first board'")
    assert deaf.marker() == "first board"  # cached on the host now
    block = deaf.manager.new_session(deaf)
    extra = block.__enter__()  # left open: close() must end it
    sessions = deaf.manager.sessions_of(deaf)
    close_transport = mocker.spy(deaf._board.current.transport, "close")
    release = threading.Event()
    after: list[BaseException] = []

    def holder() -> None:
        with deaf.hold():  # keeps the board after the call is cut: close() must give up
            with contextlib.suppress(DeviceDisconnected):
                deaf.deaf()
            release.wait(30)
            try:
                deaf.eval("1")
            except BaseException as error:
                after.append(error)

    thread = threading.Thread(target=holder)
    thread.start()
    wait_until(lambda: _running(deaf), what="the call to be running on the board")
    with pytest.raises(ResourceCleanupError) as caught:
        deaf.close()
    assert any("did not stop" in str(error) for error in caught.value.exceptions)
    assert all(session.state.is_final for session in sessions), sessions
    assert deaf.manager.sessions_of(deaf) == []
    assert not deaf.is_open
    release.set()
    thread.join(30)
    assert not thread.is_alive()
    assert after and isinstance(after[0], DeviceClosed), after
    assert close_transport.call_count == 1
    with pytest.raises(DeviceClosed, match=r"open\(\)"):
        deaf.reconnect()
    assert extra.state.is_final
    block.__exit__(None, None, None)  # leaves the ended session's context
    # Opened again on a new emulator board: the old board's cached result is gone.
    deaf.open()
    with pytest.raises(Exception, match="marker_value"):
        deaf.marker()
    deaf.close()
