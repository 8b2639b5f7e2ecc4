"""A live link to one board: transport + raw REPL + belayfw's board runtime.

Opening a connection enters raw REPL, asks the board in one round trip what it
already holds (frame token, runtime version), installs the runtime only when it
is missing or stale, and starts the idle output drainer. Calls then wrap code so
that its value or exception comes back in a frame, and decode it.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from belayfw import codec
from belayfw.board import PARTS, board_source, part_key, source_hash
from belayfw.errors import CommandError, ConfigurationError, DeviceError, ProtocolError
from belayfw.protocol import CONTROL_BYTES, RAW_PASTE_THRESHOLD, Feeder, LinkStats, RawRepl
from belayfw.response import FrameSink, OutputSink, Response
from belayfw.transports import open_transport
from belayfw.transports.base import Transport
from belayfw.validation import check_source

log = logging.getLogger(__name__)

RUNTIME_SOURCE = board_source("runtime")
RUNTIME_VERSION = source_hash(RUNTIME_SOURCE)


class DeployItem(NamedTuple):
    """One piece of board code: its global name, content hash, kind and source."""

    name: str
    code_hash: str
    kind: str  # "f": a function definition; "s": a setup body kept for later
    source: str


def part_item(name: str) -> DeployItem:
    """Runtime part ``board/<name>.py`` as a piece of board code, run at global scope."""
    if name not in PARTS:
        raise ConfigurationError(f"no runtime part {name!r}; the parts are {', '.join(PARTS)}")
    source = board_source(name)
    return DeployItem(part_key(name), source_hash(source), "f", source)


def print_to_stdout(text: str) -> None:
    """Default output sink: the host's current ``sys.stdout``, flushed at once."""
    stream = sys.stdout
    stream.write(text)
    stream.flush()


class Connection:
    """One open board link; thread-safe (calls are serialised on the wire)."""

    def __init__(
        self,
        port: str,
        *,
        on_output: OutputSink = print_to_stdout,
        on_frame: FrameSink | None = None,
        transport: Transport | None = None,
        entry_timeout: float = 5.0,
    ) -> None:
        self.port = port
        self.transport = transport or open_transport(port)
        token = b"\x02" + secrets.token_hex(4).encode()
        self.repl = RawRepl(self.transport, token=token, on_output=on_output, on_frame=on_frame)
        try:
            self.repl.enter(timeout=entry_timeout)
            self.board_hashes = self._probe(token)
            self.repl.start_drainer()
        except BaseException:
            self.repl.close()
            raise

    # -- set-up ---------------------------------------------------------------------------

    def _probe(self, token: bytes) -> dict[str, str]:
        """One round trip: adopt the board's frame token, learn what it holds and who it is."""
        nonce = secrets.token_hex(4)
        call_id = self.repl.next_call_id()
        # Numbers, not string literals: the board interns every short string literal
        # it compiles, for good, so a new one per connection would leak board memory.
        probe = board_source("probe").replace("__NONCE__", f"0x{nonce}")
        probe = probe.replace("__TOKEN__", f"0x{token[1:].decode()}")
        probe = probe.replace("__ID__", str(call_id))
        parser = self.repl.parser
        parser.token = b"\x02" + nonce.encode()
        try:
            response = self.repl.execute(probe.encode(), call_id=call_id, timeout=5.0)
            reply = self._decode(response)
        finally:
            parser.token = token
        if type(reply) is not tuple or len(reply) != 6:
            raise ProtocolError(f"board answered the connection probe with {reply!r:.120}")
        board_token, version, hashes, unique_id, free, firmware = reply
        if not isinstance(free, int):
            raise ProtocolError(f"board reported a malformed free heap {free!r}")
        if not isinstance(board_token, bytes) or not _TOKEN_SHAPE.fullmatch(board_token):
            raise ProtocolError(f"board reported a malformed frame token {board_token!r}")
        parser.token = board_token
        #: The board's ``machine.unique_id()`` in hex, when it has one.
        self.board_id: str | None = unique_id
        #: Free board heap when the link opened.
        self.free_memory: int = free
        #: The board's ``sys.version``: firmware and build (a re-flash changes it).
        self.firmware: str = firmware
        # In plain raw mode the board holds the whole command, then compiles it:
        # past about a quarter of its free heap it runs out (and may crash).
        self.repl.input_limit = max(INPUT_LIMIT_FLOOR, free // 4)
        self.runtime_stale = version != RUNTIME_VERSION
        return dict(hashes) if not self.runtime_stale else {}

    def install(self, items: Sequence[DeployItem] = ()) -> int:
        """Send the runtime (if stale) and ``items`` in one round trip; returns bytes of source.

        Nothing is sent when the board already holds all of it.
        """
        parts = []
        if self.runtime_stale:
            parts.append(f"{RUNTIME_SOURCE}\n_bfw_V = {RUNTIME_VERSION!r}\n")
        if items:
            parts.append(f"_bfw_c(_bfw_d,{codec.encode([tuple(item) for item in items])})\n")
        elif parts:
            parts.append("_bfw_c(bool)\n")
        if not parts:
            return 0
        code = "".join(parts)
        self._decode(self._execute(code, timeout=30.0, paste=True))
        self.runtime_stale = False
        for name, code_hash, _, _ in items:
            self.board_hashes[name] = code_hash
        return len(code)

    def require(self, *parts: str) -> int:
        """Make sure the board holds runtime ``parts`` (``board/<name>.py``); one round trip
        when it lacks one, none otherwise. Returns the bytes of code sent."""
        items = [part_item(name) for name in parts]
        return self.install(
            [item for item in items if self.board_hashes.get(item.name) != item.code_hash]
        )

    # -- calls ------------------------------------------------------------------------------

    def call(self, command: str, *, timeout: float | None = None) -> Any:
        """Run a prepared ``_bfw_c(...)`` command and return its decoded value."""
        response = self._execute(command, timeout=timeout)
        try:
            return self._decode(response)
        except DeviceError as error:
            if (
                error.type_name != "MemoryError"
                or _RESULT_TOO_BIG in error.message
                or "heap is locked" in error.message  # not short of memory: see recovery
            ):
                raise
            if len(command) <= INPUT_LIMIT_FLOOR:
                hint = (
                    "the board ran out of memory; if the code builds a large result, "
                    "return less per call, or make the task a generator that yields "
                    "the values to stream them"
                )
            else:
                hint = (
                    f"this call is {len(command):,} bytes as board source: its arguments "
                    "may be too big for the board; pass smaller ones, or send the data "
                    "in pieces"
                )
            raise DeviceError(
                "MemoryError", f"{error.message} ({hint})", error.board_traceback
            ) from None

    def evaluate(
        self, expression: str, *, timeout: float | None = None, feeder: Feeder | None = None
    ) -> Any:
        """Value of a board expression (board output is forwarded, not returned);
        ``feeder`` answers its grant frames with data (see :class:`RawRepl`)."""
        expression = check_source("eval", expression)
        if not expression.strip():
            # "(\n)" would be an empty tuple: say what is missing instead.
            raise ConfigurationError("eval() needs an expression, e.g. dev.eval('1 + 1')")
        if CONTROL_BYTES.search(_board_text(expression, "expression")):
            # Raw control bytes would cut the command: the board reads them as text.
            command = f"_bfw_c(lambda:eval({codec.encode(expression)},globals()))"
        else:
            command = f"_bfw_c(lambda:({expression}\n))"
        return self._decode(self._execute(command, timeout=timeout, feeder=feeder))

    def run(self, code: str, *, timeout: float | None = None) -> str:
        """Run statements at board global scope; return what they printed."""
        _board_text(check_source("exec", code), "code")
        wrapped = f"_bfw_c(lambda:exec({codec.encode(code)},globals()))"
        response = self._execute(wrapped, timeout=timeout, capture=True)
        self._decode(response)
        return response.output

    def soft_reset(self, timeout: float = 10.0) -> None:
        """Soft-reset the board, then probe it again (its RAM, runtime included, is gone)."""
        self.repl.soft_reset(timeout)
        token = b"\x02" + secrets.token_hex(4).encode()
        self.repl.parser.token = token
        self.board_hashes = self._probe(token)

    def interrupt(self) -> bool:
        return self.repl.interrupt()

    @property
    def stats(self) -> LinkStats:
        return self.repl.stats

    @property
    def closed(self) -> bool:
        return self.repl.closed

    @property
    def usable(self) -> bool:
        """Open and not known to be broken: the board can still be asked things."""
        return not self.repl.closed and self.repl.broken is None

    def close(self) -> None:
        self.repl.close()

    # -- internals --------------------------------------------------------------------------

    def _execute(
        self,
        code: str,
        *,
        timeout: float | None,
        capture: bool = False,
        paste: bool = False,
        feeder: Feeder | None = None,
    ) -> Response:
        """Send ``code``, whose last statement is its one framed call, naming a fresh id.

        Board code (``paste``, or source lines before the call) goes in raw-paste
        mode on every board: in plain raw mode the board would keep an input
        buffer that large for good (see :meth:`RawRepl.execute`).
        """
        data = code.encode("utf-8")
        # The framed call opens the command, or (after board source) its last line.
        at = 0 if data.startswith(_WRAPPER) else data.rfind(b"\n" + _WRAPPER) + 1
        if data[at : at + len(_WRAPPER)] != _WRAPPER:
            raise ProtocolError(f"internal: command without a framed call: {code[:60]!r}")
        # Calls that may need an interrupt report when their code starts running
        # (a negative id asks for that); small calls without a timeout skip that
        # write (see RawRepl._interruptible).
        marked = timeout is not None or len(data) > RAW_PASTE_THRESHOLD
        call_id = self.repl.next_call_id()
        paste = paste or at > 0
        at += len(_WRAPPER)
        data = b"%b%d,%b" % (data[:at], -call_id if marked else call_id, data[at:])
        return self.repl.execute(
            data,
            call_id=call_id,
            timeout=timeout,
            capture=capture,
            marked=marked,
            paste=paste,
            feeder=feeder,
        )

    def _decode(self, response: Response) -> Any:
        tag, payload = response.result_tag, response.result
        if tag == "r":
            return codec.decode_repr(payload.decode("utf-8", "replace"))
        if tag == "b":
            return codec.decode_base64(payload.decode("ascii", "replace"))
        if tag == "e":
            type_name, message, traceback = codec.decode_fields(
                payload.decode("utf-8", "replace"), ("type", "message", "traceback")
            )
            raise DeviceError(str(type_name), str(message), str(traceback))
        if tag == "i":
            raise DeviceError("KeyboardInterrupt", "the board code was interrupted")
        raise _unframed_failure(response, self.transport.description)


#: How the board's own message for a result it cannot write begins (board/runtime.py).
_RESULT_TOO_BIG = "the result does not fit"

#: Commands up to this size are always sent: every board takes them in.
INPUT_LIMIT_FLOOR = 4096

#: The board call every command ends with: ``_bfw_c(ID,function,*args)``.
_WRAPPER = b"_bfw_c("
#: A frame token: the frame start byte and 8 hex digits (see :meth:`Connection._probe`).
_TOKEN_SHAPE = re.compile(rb"\x02[0-9a-f]{8}")


def _board_text(text: str, what: str) -> bytes:
    """User code as the board will compile it (UTF-8), or a :class:`CommandError`.

    MicroPython's compiler reads a NUL character as ``\\x01`` (measured on the
    unix port: ``'a<NUL>b'`` evaluates to ``'a\\x01b'``), so code holding one
    would silently compute something else; CPython refuses such source too.
    """
    if "\x00" in text:
        raise CommandError(
            f"the {what} holds a NUL character at offset {text.index(chr(0))}, which "
            "MicroPython's compiler reads as '\\x01'; write the escape '\\x00' instead"
        )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CommandError(
            f"the {what} cannot be sent to the board: {exc.reason} at offset {exc.start} "
            f"({text[exc.start : exc.end]!r}); it must be valid Unicode text"
        ) from None


def _unframed_failure(response: Response, where: str) -> Exception:
    """Explain a response that carried no frame (e.g. a SyntaxError in the command)."""
    text = response.stderr.strip()
    if text:
        last = text.splitlines()[-1]
        type_name, _, message = last.partition(": ")
        if type_name.replace(".", "").isidentifier():
            return DeviceError(type_name, message, text)
        return DeviceError("Error", last, text)
    odd = f"; it sent {', '.join(response.oddities)}" if response.oddities else ""
    return ProtocolError(f"{where} finished a command without sending its result{odd}")
