"""Serving a board over TCP: RFC 2217 (as ser2net's ``telnet(rfc2217)``) or raw (``tcp``).

One client at a time, as one UART has one host: a second client is told the
board is in use and disconnected, and the first keeps its board. RFC 2217 is
pyserial's :class:`serial.rfc2217.PortManager` (Telnet negotiation, IAC 0xFF
doubling, answers to baud rate, purge and modem-line requests). An emulator
board has no baud rate or modem lines: settings are accepted and kept, so
clients that check them (pyserial, labgrid) see what they asked for.

Every address is the caller's choice; the default binds loopback only, so a
board is shared beyond the machine only when asked to.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from typing import cast

import serial.rfc2217

from belayfw.errors import DeviceDisconnected
from belayfw.export.board import ExportedBoard

log = logging.getLogger(__name__)

_READ_SIZE = 65536
#: A client that stops reading for this long is dropped (the board keeps running).
_SEND_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.2
#: How long a new connection waits for a client that has hung up but not yet been reaped.
_HANDOVER_SECONDS = 1.0
#: poll() event of a peer that closed its end, unread bytes or not (Linux); 0 elsewhere.
_HANGUP = getattr(select, "POLLRDHUP", 0) if hasattr(select, "poll") else 0


class _EmulatedLine:
    """The serial-port settings PortManager reads and writes, for a board without a UART."""

    def __init__(self) -> None:
        self.baudrate = 115200
        self.bytesize = 8
        self.parity = "N"
        self.stopbits = 1
        self.xonxoff = False
        self.rtscts = False
        self.dtr = True
        self.rts = True
        self.break_condition = False
        # A board that is present: clear to send, data set ready, carrier detect.
        self.cts = self.dsr = self.cd = True
        self.ri = False

    def reset_input_buffer(self) -> None:
        """Purge: nothing is buffered between the board and the connection."""

    def reset_output_buffer(self) -> None:
        """Purge: nothing is buffered between the connection and the board."""


class _Client:
    """One accepted connection; writes from two threads are serialised."""

    def __init__(self, connection: socket.socket, telnet: bool) -> None:
        self.connection = connection
        self.lock = threading.Lock()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.settimeout(_SEND_TIMEOUT_SECONDS)
        # PortManager only reads and sets the attributes _EmulatedLine has, and only
        # calls write() on its connection; pyserial's stubs ask for Serial objects.
        self.manager = (
            serial.rfc2217.PortManager(
                cast(serial.rfc2217.Serial, _EmulatedLine()), cast(serial.rfc2217.Serial, self)
            )
            if telnet
            else None
        )

    def write(self, data: bytes) -> None:
        """Raw bytes to the client (PortManager calls this for its Telnet answers)."""
        with self.lock:
            self.connection.sendall(data)

    def send_board_output(self, data: bytes) -> None:
        if self.manager is not None:
            data = b"".join(self.manager.escape(data))
        self.write(data)

    def board_input(self, data: bytes) -> bytes:
        if self.manager is None:
            return data
        return b"".join(self.manager.filter(data))

    def is_leaving(self) -> bool:
        """True when the client has hung up and its loop has not reaped it yet.

        Bytes it sent that wait unread do not count: a busy client is staying,
        so a second client is refused at once rather than kept waiting for it.
        """
        try:
            fileno = self.connection.fileno()
        except OSError:
            return True
        if fileno < 0:
            return True  # closed under us
        if not _HANGUP:  # no way to see a hangup behind unread bytes: any may be one
            ready, _, _ = select.select([self.connection], [], [], 0)
            return bool(ready)
        poller = select.poll()
        poller.register(fileno, _HANGUP)  # errors, hangups and a closed fd always report
        return bool(poller.poll(0))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()


class NetworkExport:
    """Serves an :class:`ExportedBoard` on a TCP port until :meth:`stop`.

    ``telnet=True`` speaks RFC 2217 (``rfc2217://host:port`` clients, mpremote
    with pyserial, labgrid's ``RawNetworkSerialPort``); ``telnet=False`` relays
    raw bytes (``socket://host:port``).
    """

    def __init__(
        self,
        board: ExportedBoard,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        telnet: bool = True,
    ) -> None:
        self.board = board
        self.telnet = telnet
        self._server = socket.create_server((host, port))
        self.host, self.port = self._server.getsockname()[:2]
        self._client: _Client | None = None
        self._client_lock = threading.Lock()
        #: Notified whenever the client slot is freed.
        self._client_left = threading.Condition(self._client_lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Clients turned away because another one held the board.
        self.refused = 0

    @property
    def url(self) -> str:
        """The port string a belayfw client opens."""
        return f"{'rfc2217' if self.telnet else 'socket'}://{self.host}:{self.port}"

    def start(self) -> NetworkExport:
        """Serve in background threads; returns self (for ``with NetworkExport(...).start()``)."""
        for target in (self._accept_loop, self._board_loop):
            thread = threading.Thread(target=target, name=f"belayfw export {target.__name__}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` (from a signal handler or another thread)."""
        self.start()
        while not self._stop.wait(_POLL_SECONDS):
            pass

    def stop(self) -> None:
        self._stop.set()

    def drop_client(self) -> None:
        """Disconnect the current client, as if its cable were pulled (the board keeps running)."""
        with self._client_lock:
            client, self._client = self._client, None
            self._client_left.notify_all()
        if client is not None:
            client.close()

    def close(self) -> None:
        self.stop()
        self._server.close()
        self.drop_client()
        for thread in self._threads:
            thread.join(timeout=5)
        self.board.close()

    def __enter__(self) -> NetworkExport:
        return self.start() if not self._threads else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        self._server.settimeout(_POLL_SECONDS)
        while not self._stop.is_set():
            try:
                connection, peer = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the server socket was closed
            with self._client_lock:
                if self._client is not None and self._client.is_leaving():
                    # Its hangup is queued but its loop has not reaped it yet: a client
                    # that closes and reopens at once must not be told the board is busy.
                    self._client_left.wait_for(lambda: self._client is None, _HANDOVER_SECONDS)
                busy = self._client is not None
                if not busy:
                    self._client = _Client(connection, self.telnet)
                    self.board.new_client()
            if busy:
                self._refuse(connection, peer)
                continue
            log.info("%s: client %s:%s connected", self.board.description, *peer[:2])
            thread = threading.Thread(target=self._client_loop, args=(self._client,), daemon=True)
            thread.start()

    def _refuse(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        self.refused += 1
        log.info("%s: refused %s:%s, the board is in use", self.board.description, *peer[:2])
        with contextlib.suppress(OSError):
            connection.settimeout(1.0)
            connection.sendall(
                f"belayfw: {self.board.description} is in use by another client "
                "(one at a time); try again when it disconnects\r\n".encode()
            )
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()

    def _client_loop(self, client: _Client | None) -> None:
        """Client bytes to the board, until the client leaves."""
        assert client is not None
        connection = client.connection
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([connection], [], [], _POLL_SECONDS)
                if not ready:
                    continue
                data = connection.recv(_READ_SIZE)
                if not data:
                    break
                data = client.board_input(data)
                if data:
                    self.board.write(data)
        except (OSError, ValueError):
            pass  # the client went away, or was dropped
        finally:
            with self._client_lock:
                if self._client is client:
                    self._client = None
                    self._client_left.notify_all()
            client.close()
            log.info("%s: client disconnected", self.board.description)

    def _board_loop(self) -> None:
        """Board output to the client; dropped while nobody listens, as a UART drops it."""
        while not self._stop.is_set():
            try:
                data = self.board.read(time.monotonic() + _POLL_SECONDS)
            except DeviceDisconnected:
                if self._stop.is_set():
                    return
                log.exception("%s: board failed; dropping its client", self.board.description)
                self.drop_client()
                return
            client = self._client
            if not data or client is None:
                continue
            try:
                client.send_board_output(data)
            except OSError:
                log.info("%s: client stopped reading; dropping it", self.board.description)
                self.drop_client()
