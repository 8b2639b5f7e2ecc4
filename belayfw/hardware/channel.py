"""The host end of an emulator board's side channel (board end: ``board/_belayfw_hw.py``).

A socket pair made with each board process carries virtual-hardware traffic
beside the REPL stream, never in it: frames of a 4-byte big-endian length and a
JSON array. The host sends commands ``[op, seq, *args]`` and, once the board
has said ``["up"]`` (its ``machine`` module is loaded), waits for their
``["ack", seq, error, value]``; before that, commands wait in the socket and the
board applies them all when ``machine`` loads. The board sends events and
transfer requests ``["req", seq, ...]``, answered ``["re", seq, ok, value]``.

Nothing here runs unless a test uses :mod:`belayfw.hardware`: calls never pay.
Board data is parsed as JSON only, never evaluated.
"""

from __future__ import annotations

import itertools
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from belayfw.errors import BoardHandlerError, VirtualHardwareError

log = logging.getLogger(__name__)

#: How long a command may wait for the board to take it (an IRQ handler runs first).
ACK_SECONDS = 30.0
_MAX_FRAME = 16 * 1024 * 1024

#: Handles one board message; returns the answer to a request (``None`` for events).
MessageHandler = Callable[[list[Any]], Any]


class SideChannel:
    """One board process's side channel: framing, a reader thread, acknowledged commands."""

    def __init__(self, sock: socket.socket, handler: MessageHandler, description: str) -> None:
        self.description = description
        self._sock = sock
        self._handler = handler
        self._buffer = bytearray()
        self._rx_lock = threading.RLock()
        self._pumper: int | None = None  # the thread handling messages right now
        self._tx_lock = threading.Lock()
        self._acks: dict[int, list[Any]] = {}
        self._awaited: set[int] = set()
        self._acked = threading.Condition()
        self._seq = itertools.count(1)
        self.board_up = False
        self.closed = False
        sock.setblocking(False)
        self._thread = threading.Thread(
            target=self._run, name=f"belayfw-hardware {description}", daemon=True
        )
        self._thread.start()

    # -- receiving ------------------------------------------------------------------------

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        while not self.closed:
            try:
                poller.poll()
            except (OSError, ValueError):
                break
            if not self.pump():
                break

    def pump(self) -> bool:
        """Handle every whole message the board has sent so far; ``False`` once it is gone.

        The board writes its events before a call returns, so a pump after a call
        sees everything that call did.
        """
        with self._rx_lock:
            outer, self._pumper = self._pumper, threading.get_ident()
            try:
                return self._pump()
            finally:
                self._pumper = outer

    def _pump(self) -> bool:
        if self.closed:
            return False
        while True:
            try:
                data = self._sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self._set_closed()
                return False
            self._buffer += data
        for message in self._frames():
            self._dispatch(message)
        return True

    def _frames(self) -> list[list[Any]]:
        messages: list[list[Any]] = []
        buffer = self._buffer
        while len(buffer) >= 4:
            size = int.from_bytes(buffer[:4], "big")
            if size > _MAX_FRAME:
                log.error("%s: side channel frame of %d bytes; closing it", self.description, size)
                self._set_closed()
                return messages
            if len(buffer) < 4 + size:
                break
            body = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            try:
                message = json.loads(body)
            except ValueError:
                log.error("%s: unreadable side channel frame %r", self.description, body[:80])
                continue
            if isinstance(message, list) and message and isinstance(message[0], str):
                messages.append(message)
        return messages

    def _dispatch(self, message: list[Any]) -> None:
        op = message[0]
        if op == "up":
            self.board_up = True
        elif op == "ack" and len(message) == 4:
            with self._acked:
                if message[1] in self._awaited:
                    self._acks[message[1]] = message
                    self._acked.notify_all()
        elif op == "req" and len(message) >= 2:
            self._answer(message[1], message[2:])
        else:
            try:
                self._handler(message)
            except Exception:
                log.exception("%s: board event %r failed on the host", self.description, op)

    def _answer(self, seq: Any, request: list[Any]) -> None:
        try:
            reply = ["re", seq, True, self._handler(request)]
        except OSError as exc:
            reply = ["re", seq, False, [exc.errno or 5, str(exc.strerror or exc)]]
        except Exception as exc:
            log.exception("%s: a device model failed answering %r", self.description, request)
            reply = ["re", seq, False, [5, f"host device model raised {exc!r}"]]
        try:
            self._send(reply)
        except VirtualHardwareError:  # the board went away while the model answered
            log.debug("%s: board gone before the answer to %r", self.description, request)

    def _set_closed(self) -> None:
        self.closed = True
        with self._acked:
            self._acked.notify_all()

    # -- sending --------------------------------------------------------------------------

    def command(self, op: str, *args: Any) -> Any:
        """Send a command; once the board's ``machine`` is loaded, wait until it took it.

        Returns the board's answer (``None`` when the board has not loaded
        ``machine`` yet: it applies the command when it does).
        """
        self.pump()  # see an "up" the board sent before the last call returned
        seq = next(self._seq)
        if not self.board_up:
            self._send([op, seq, *args])
            return None
        with self._acked:
            self._awaited.add(seq)
        try:
            self._send([op, seq, *args])
            _, _, error, value = self._wait_ack(seq, op)
        finally:
            with self._acked:
                self._awaited.discard(seq)
                self._acks.pop(seq, None)
        if error:
            raise BoardHandlerError(
                f"{self.description}: board code run by {op!r} raised:\n{error}"
            )
        return value

    def _wait_ack(self, seq: int, op: str) -> list[Any]:
        # A model answering a board request may itself send a command: the thread
        # handling messages then waits by handling them, or nobody would.
        handling = self._pumper == threading.get_ident()
        deadline = time.monotonic() + ACK_SECONDS
        while True:
            with self._acked:
                if seq in self._acks:
                    return self._acks.pop(seq)
                if self.closed:
                    raise VirtualHardwareError(f"{self.description}: the board process is gone")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VirtualHardwareError(
                        f"{self.description}: the board did not take {op!r} within "
                        f"{ACK_SECONDS:.0f} s: a Pin.irq handler that never returns, or "
                        "the board's threads froze on an earlier interrupt (reset the board; "
                        "see docs/emulator.md)"
                    )
                if not handling:
                    self._acked.wait(remaining)
                    continue
            select.select([self._sock], [], [], min(remaining, 0.5))
            self.pump()

    def _send(self, message: list[Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        view = memoryview(len(body).to_bytes(4, "big") + body)
        deadline = time.monotonic() + ACK_SECONDS
        with self._tx_lock:
            while view:
                if self.closed:
                    raise VirtualHardwareError(f"{self.description}: the board process is gone")
                try:
                    view = view[self._sock.send(view) :]
                    continue
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise VirtualHardwareError(
                        f"{self.description}: the board process is gone ({exc})"
                    ) from None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VirtualHardwareError(
                        f"{self.description}: the board stopped reading its side channel"
                    )
                select.select([], [self._sock], [], min(remaining, 0.5))

    def close(self) -> None:
        """Stop using the channel; its thread ends when the transport shuts the socket."""
        self._set_closed()
