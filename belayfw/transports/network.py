"""Boards on another machine: pyserial's ``socket://`` and ``rfc2217://`` URLs.

A ser2net or RFC 2217 server exposes a board's UART over TCP; pyserial's URL
handlers speak both, so these schemes reuse :class:`SerialTransport`.
"""

from __future__ import annotations

from belayfw.transports.serial import SerialTransport

URL_SCHEMES = ("socket", "rfc2217")


def open_url(port: str) -> SerialTransport:
    """Open ``socket://host:port`` or ``rfc2217://host:port``."""
    return SerialTransport(port)
