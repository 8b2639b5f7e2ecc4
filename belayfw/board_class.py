"""``DeviceMeta``: a device class's board methods, collected and prepared once.

When a ``Device`` subclass is defined, the metaclass gathers its ``@task``,
``@thread``, ``@setup`` and ``@teardown`` methods (definition order, through
inheritance and mixins, overridable by name) and extracts their board source,
so opening a device only sends it. A board method may not take a name the
device's own API uses: a class lists that API in ``__device_api__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from belayfw import source
from belayfw.decorators import BoardMethod, Kind
from belayfw.emit_use import check_emit_use
from belayfw.errors import ConfigurationError
from belayfw.source import BoardSource


class DeviceMeta(type):
    """Collects a class's board methods and builds their board source at definition time."""

    __board_methods__: Mapping[str, BoardMethod]
    __board_sources__: Mapping[str, BoardSource]

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> DeviceMeta:
        minify = kwargs.pop("minify", None)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if minify is None:
            minify = getattr(cls, "__minify__", False)
        cls.__minify__ = bool(minify)  # type: ignore[attr-defined]
        methods: dict[str, BoardMethod] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                if isinstance(value, BoardMethod):
                    methods[attribute] = value  # an override keeps the original position
                elif attribute in methods:
                    del methods[attribute]  # overridden by a plain host attribute
        reserved = _reserved_names(cls).intersection(methods) if methods else set()
        if reserved:
            raise ConfigurationError(
                f"{name}: board method name(s) {sorted(reserved)} would hide Device's own API"
            )
        cls.__board_methods__ = MappingProxyType(methods)
        sources = {
            attribute: _board_source(method, attribute, bool(minify))
            for attribute, method in methods.items()
        }
        check_emit_use(name, methods, sources)
        cls.__board_sources__ = MappingProxyType(sources)
        return cls


def _reserved_names(cls: type) -> set[str]:
    """Every name of the API of the classes that declare one (``__device_api__``)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        declared = vars(klass).get("__device_api__")
        if declared is not None:
            names.update(name for name in vars(klass) if not name.startswith("__"))
            names.update(declared)
    return names


def _board_source(method: BoardMethod, name: str, minify: bool) -> BoardSource:
    return source.extract(
        method.function,
        name,
        body_only=method.kind is Kind.SETUP,
        instrument_thread=method.kind is Kind.THREAD,
        minify=minify,
    )
