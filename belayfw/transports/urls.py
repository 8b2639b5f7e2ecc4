"""The ``socket://`` and ``rfc2217://`` URLs of boards on the network, checked before use."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

from belayfw.errors import ConfigurationError, did_you_mean


def host_and_port(port: str, scheme: str, options: Sequence[str], kind: str) -> tuple[str, int]:
    """Host and TCP port of a ``<scheme>://host:port`` URL.

    A missing host or port and an option pyserial would not take are refused
    here, in belayfw's words, before any connection is tried. ``kind`` names
    the URLs in the message ("socket URLs").
    """
    try:
        parts = urllib.parse.urlsplit(port)  # "[::1" without "]": ValueError
        host, tcp_port = parts.hostname, parts.port
    except ValueError:
        parts, host, tcp_port = urllib.parse.urlsplit(""), None, None
    if parts.scheme.lower() != scheme or not host or tcp_port is None:
        raise ConfigurationError(
            f"{port!r} needs a host and a TCP port, e.g. {scheme}://localhost:7000"
        )
    for option in urllib.parse.parse_qs(parts.query, keep_blank_values=True):
        if option not in options:
            raise ConfigurationError(
                f"{port!r}: unknown option {option!r}{did_you_mean(option, options)}; "
                f"{kind} take {', '.join(options)}"
            )
    return host, tcp_port
