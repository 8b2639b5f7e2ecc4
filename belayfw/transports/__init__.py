"""Port strings pick a transport, the way pyserial's ``serial_for_url`` does.

``open_transport("emulator:pico")`` and ``open_transport("socket://host:7000")``
look the scheme up in a registry; anything without a registered scheme is a
serial device path (``/dev/ttyACM0``, ``COM3``). Users add schemes with
:func:`register_scheme` without touching belayfw.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable

from belayfw.errors import ArgumentTypeError, ConfigurationError, did_you_mean
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
        raise ConfigurationError(
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


def check_port(port: object) -> str:
    """``port`` when it can name a board; a typo such as ``emulatr`` or ``sockt://`` is refused.

    Schemes pyserial knows (``loop://``, ``spy://``...) pass; so does anything
    that exists on disk or looks like a device path or a COM port.
    """
    if not isinstance(port, str):
        raise ArgumentTypeError(
            f"port must be a string such as '/dev/ttyACM0', 'COM3' or 'emulator', "
            f"not {type(port).__name__} {port!r}"
        )
    if not port.strip():
        raise ConfigurationError("port is empty; pass e.g. '/dev/ttyACM0', 'COM3' or 'emulator'")
    if scheme_of(port) is not None:
        return port
    head, url, _ = port.partition("://")
    if url:
        if not _pyserial_knows(head):
            known = sorted({*_schemes, *_PYSERIAL_SCHEMES})
            raise ConfigurationError(
                f"port {port!r} has an unknown scheme {head!r}{did_you_mean(head.lower(), known)}; "
                f"known schemes: {', '.join(known)}"
            )
        return port
    word = port.split(":", 1)[0]
    looks_like_device = "/" in port or "\\" in port or _COM_PORT.fullmatch(port)
    if not looks_like_device and not os.path.exists(port):
        hint = did_you_mean(word.lower(), _schemes)
        if hint:
            raise ConfigurationError(f"port {port!r} is not a serial device or a scheme{hint}")
    return port


#: URL schemes pyserial opens itself (serial.urlhandler.protocol_<scheme>).
_PYSERIAL_SCHEMES = ("alt", "cp2110", "hwgrep", "loop", "rfc2217", "socket", "spy")
_COM_PORT = re.compile(r"COM\d+", re.IGNORECASE)


def _pyserial_knows(scheme: str) -> bool:
    if not scheme.isidentifier():
        return False
    try:
        return importlib.util.find_spec(f"serial.urlhandler.protocol_{scheme.lower()}") is not None
    except ImportError:
        return False


def open_transport(port: str) -> Transport:
    """Open the transport a port string names."""
    check_port(port)
    scheme = scheme_of(port)
    if scheme is not None:
        return _schemes[scheme](port)
    from belayfw.transports.serial import SerialTransport

    return SerialTransport(port)


def _register_builtin() -> None:
    from belayfw.transports import emulator, network, rfc2217

    register_scheme("emulator", emulator.EmulatorTransport.from_port)
    register_scheme("socket", network.SocketTransport)
    register_scheme("rfc2217", rfc2217.RFC2217Transport)


_register_builtin()

__all__ = [
    "Transport",
    "TransportFactory",
    "check_port",
    "open_transport",
    "register_scheme",
    "scheme_of",
    "unregister_scheme",
]
