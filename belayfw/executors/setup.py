"""Setups: bodies run at board global scope, so their locals become board globals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from belayfw import codec
from belayfw.decorators import BoardMethod, SetupOptions
from belayfw.executors.base import BoardCaller, bind_arguments


class SetupExecutor:
    """Runs ``@setup`` methods: automatically at open, or when called."""

    def __init__(self, device: BoardCaller) -> None:
        self._device = device

    def call(self, method: BoardMethod, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.run([(method, args, kwargs)])

    def run_autoinit(self, methods: Sequence[BoardMethod]) -> None:
        """Run every ``autoinit`` setup in one round trip, by ``order`` then definition."""
        chosen = [method for method in methods if _options(method).autoinit]
        ordered = sorted(
            chosen, key=lambda method: _options(method).order
        )  # stable: keeps definition order
        if ordered:
            self.run([(method, (), {}) for method in ordered])

    def run(self, calls: Sequence[tuple[BoardMethod, tuple[Any, ...], dict[str, Any]]]) -> None:
        runs = []
        for method, args, kwargs in calls:
            bound = bind_arguments(method, args, kwargs)
            bound.apply_defaults()
            runs.append((method.board_name, dict(bound.arguments)))
        self._device.board_call(f"_bfw_c(_bfw_su,{codec.encode(runs)})", self._device.setup_timeout)


def _options(method: BoardMethod) -> SetupOptions:
    options = method.options
    assert isinstance(options, SetupOptions)
    return options
