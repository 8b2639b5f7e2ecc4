"""Teardowns: run at close in reverse order; one failing does not stop the others."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from belayfw import codec
from belayfw.decorators import BoardMethod, TeardownOptions
from belayfw.errors import DeviceError
from belayfw.executors.base import BoardCaller, call_arguments, call_command

log = logging.getLogger(__name__)


class TeardownExecutor:
    """Runs ``@teardown`` methods for one device."""

    def __init__(self, device: BoardCaller) -> None:
        self._device = device

    def call(self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        arguments = call_arguments(method, args, kwargs)
        return self._device.board_call(
            call_command(method.board_name, arguments=arguments), self._device.teardown_timeout
        )

    def run_all(self, methods: Sequence[BoardMethod]) -> list[DeviceError]:
        """Run every teardown in one round trip; return the failures not ignored.

        Order: reverse of (``order``, definition order). The board runs each in
        turn and reports every failure, so one failing does not stop the rest.
        """
        ordered = sorted(methods, key=lambda method: _options(method).order)[::-1]
        if not ordered:
            return []
        names = [method.board_name for method in ordered]
        failures = self._device.board_call(
            f"_bfw_c(_bfw_run_all,{codec.encode(names)})", self._device.teardown_timeout
        )
        by_name = {method.board_name: method for method in ordered}
        errors: list[DeviceError] = []
        for name, type_name, message, traceback in failures:
            error = self._device.board_error(type_name, message, traceback)
            if _options(by_name[name]).ignore_errors:
                log.info("teardown %s failed (ignored): %s", name, error.message or type_name)
            else:
                errors.append(error)
        return errors


def _options(method: BoardMethod) -> TeardownOptions:
    options = method.options
    assert isinstance(options, TeardownOptions)
    return options
