"""Tasks: one round trip per call, with cache, timeout, exclusivity, retries; generators stream."""

from __future__ import annotations

import copy
import inspect
import itertools
import logging
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from belayfw.decorators import BoardMethod, TaskOptions
from belayfw.errors import BelayError, BoardReset, CircuitOpen, DeviceClosed, DeviceDisconnected
from belayfw.executors.base import BoardCaller, call_arguments, call_command
from belayfw.recovery import backoff_delay
from belayfw.streams import AbandonedStreams, BoardStream

log = logging.getLogger(__name__)

_IMMUTABLE = (type(None), bool, int, float, str, bytes, frozenset)
#: Backoff before reconnect attempt n: BASE * 2**n seconds, capped.
RETRY_BACKOFF_BASE = 0.1
RETRY_BACKOFF_MAX = 2.0


class TaskExecutor:
    """Runs ``@task`` methods for one device; owns that device's result cache."""

    def __init__(self, device: BoardCaller) -> None:
        self._device = device
        self._cache: dict[str, tuple[Any, float | None]] = {}
        self._cache_lock = threading.Lock()
        self._generator_ids = itertools.count(1)
        self._abandoned = AbandonedStreams(device)

    def call(self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        options = method.options
        assert isinstance(options, TaskOptions)
        arguments = call_arguments(method, args, kwargs)
        self._abandoned.close_all()
        if inspect.isgeneratorfunction(method.function):
            return self._stream(method, options, arguments)
        command = call_command(method.board_name, arguments=arguments)
        if options.cache:
            hit = self._cached(command)
            if hit is not _MISS:
                return hit
        with self._exclusive(options):
            value = self._with_retries(command, options)
        if options.cache:
            expires = None if options.ttl is None else time.monotonic() + options.ttl
            with self._cache_lock:
                self._cache[command] = (value, expires)
            return _copy(value)
        return value

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def _cached(self, command: str) -> Any:
        with self._cache_lock:
            entry = self._cache.get(command)
            if entry is None:
                return _MISS
            value, expires = entry
            if expires is not None and time.monotonic() >= expires:
                del self._cache[command]
                return _MISS
        return _copy(value)

    def _exclusive(self, options: TaskOptions) -> AbstractContextManager[Any]:
        return self._device.hold() if options.exclusive else nullcontext()

    def _with_retries(self, command: str, options: TaskOptions) -> Any:
        """Run ``command``; after a disconnect, reconnect with backoff and run it again.

        A device being closed is never reconnected: ``DeviceClosed`` ends the retries.
        """
        attempt = 0
        while True:
            try:
                return self._device.board_call(command, options.timeout)
            except DeviceClosed:
                raise
            except DeviceDisconnected as lost:
                if isinstance(lost, BoardReset) and lost.recovered:
                    if attempt >= options.retries:
                        raise
                    attempt += 1  # the board is back, on its flash: a reconnect would replace it
                    continue
                cause: BelayError = lost
            while True:  # reconnect before the next attempt, or give up with the real cause
                if attempt >= options.retries:
                    raise cause
                delay = backoff_delay(attempt, RETRY_BACKOFF_BASE, RETRY_BACKOFF_MAX)
                attempt += 1
                log.warning(
                    "%s; reconnecting in %.1f s (retry %d of %d)",
                    cause,
                    delay,
                    attempt,
                    options.retries,
                )
                threading.Event().wait(delay)
                try:
                    self._device.reconnect(attempts=1)
                    break
                except DeviceClosed as closed:
                    raise closed from cause
                except (DeviceDisconnected, CircuitOpen) as again:
                    again.__cause__ = cause
                    cause = again

    def _stream(self, method: BoardMethod, options: TaskOptions, arguments: str) -> BoardStream:
        """A host stream over a board generator, read a window of values at a time."""
        stream_id = next(self._generator_ids)
        start = call_command("_bfw_gs", str(stream_id), method.board_name, arguments=arguments)
        hold = self._device.hold() if options.exclusive else None
        return BoardStream(self._device, stream_id, start, options.timeout, hold, self._abandoned)


_MISS = object()


def _copy(value: Any) -> Any:
    """Cached values are copied out, so a caller mutating one cannot change the cache."""
    return value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)
