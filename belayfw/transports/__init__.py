"""Port strings pick a transport, the way pyserial's ``serial_for_url`` does.

``open_transport("emulator:pico")`` and ``open_transport("socket://host:7000")``
look the scheme up in a registry; anything without a registered scheme is a
serial device path (``/dev/ttyACM0``, ``COM3``). Users add schemes with
:func:`register_scheme` without touching belayfw.
"""

from __future__ import annotations

from collections.abc import Callable

from belayfw.transports.base import Transport

TransportFactory = Callable[[str], Transport]

_schemes: dict[str, TransportFactory] = {}


def register_scheme(scheme: str, factory: TransportFactory, *, replace: bool = False) -> None:
    """Make port strings ``"<scheme>"`` and ``"<scheme>:..."`` open with ``factory(port)``.

    A scheme registered already is refused (two packages claiming one scheme
    would otherwise silently take turns) unless ``replace`` is True.
    """
    key = scheme.lower()
    if key in _schemes and not replace:
        raise ValueError(
            f"transport scheme {key!r} is registered already; pass replace=True to "
            "override it, or unregister_scheme() it first"
        )
    _schemes[key] = factory


def unregister_scheme(scheme: str) -> None:
    """Forget a scheme registered with :func:`register_scheme` (no error if unknown)."""
    _schemes.pop(scheme.lower(), None)


def scheme_of(port: str) -> str | None:
    """The registered scheme a port string names, or None for a plain device path."""
    head = port.split(":", 1)[0].lower()
    if head in _schemes and (port.lower() == head or port[len(head)] == ":"):
        return head
    return None


def open_transport(port: str) -> Transport:
    """Open the transport a port string names."""
    scheme = scheme_of(port)
    if scheme is not None:
        return _schemes[scheme](port)
    from belayfw.transports.serial import SerialTransport

    return SerialTransport(port)


def _register_builtin() -> None:
    from belayfw.transports import emulator, network

    register_scheme("emulator", emulator.EmulatorTransport.from_port)
    for scheme in network.URL_SCHEMES:
        register_scheme(scheme, network.open_url)


_register_builtin()

__all__ = [
    "Transport",
    "TransportFactory",
    "open_transport",
    "register_scheme",
    "scheme_of",
    "unregister_scheme",
]
