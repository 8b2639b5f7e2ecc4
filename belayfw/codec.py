"""Values across the wire as Python literals, never evaluated as code on the host.

Host -> board: :func:`encode` turns a value into MicroPython source text. Types
outside the literal set fail here, before anything is sent.

Board -> host: the board writes ``repr(value)`` (or base64 for top-level bytes);
:func:`decode_repr` reads it back with JSON when the text is plain JSON (fast, C
parser) and otherwise with a restricted literal reader built on :mod:`ast`.
"""

from __future__ import annotations

import ast
import base64
import json
import math
from typing import Any

from belayfw.errors import ProtocolError, SerializationError

#: Python types that cross the wire, named in error messages.
LITERAL_TYPES = "None, bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset"

_MAX_DEPTH = 100
#: Ints this wide go as hex: Python refuses decimal text over 4,300 digits (a
#: guard against slow conversions) and hex has no such limit.
_HEX_INT_BITS = 4096


def encode(value: Any) -> str:
    """Return MicroPython source text that evaluates to ``value``.

    Raises :class:`SerializationError` naming the first unsupported type found.
    """
    parts: list[str] = []
    _encode_into(value, parts, 0, "value")
    return "".join(parts)


def _encode_into(value: Any, out: list[str], depth: int, where: str) -> None:
    if depth > _MAX_DEPTH:
        raise SerializationError(f"{where} is nested more than {_MAX_DEPTH} levels deep")
    kind = type(value)
    if kind is str or kind is bytes:
        _encode_text(value, out)
    elif kind is int and value.bit_length() > _HEX_INT_BITS:
        out.append(hex(value))
    elif value is None or kind is bool or kind is int:
        out.append(repr(value))
    elif kind is float:
        if math.isfinite(value):
            out.append(repr(value))
        elif math.isnan(value):
            out.append("float('nan')")
        else:
            out.append("float('inf')" if value > 0 else "float('-inf')")
    elif kind is bytearray:
        out.append("bytearray(")
        _encode_text(bytes(value), out)
        out.append(")")
    elif kind is list or kind is tuple:
        out.append("[" if kind is list else "(")
        for index, item in enumerate(value):
            _encode_into(item, out, depth + 1, f"{where}[{index}]")
            out.append(",")
        out.append("]" if kind is list else ")")
    elif kind is dict:
        out.append("{")
        for key, item in value.items():
            _encode_into(key, out, depth + 1, f"key of {where}")
            out.append(":")
            _encode_into(item, out, depth + 1, f"{where}[{key!r}]")
            out.append(",")
        out.append("}")
    elif kind is set or kind is frozenset:
        out.append("set((" if kind is set else "frozenset((")
        for item in value:
            _encode_into(item, out, depth + 1, f"item of {where}")
            out.append(",")
        out.append("))")
    else:
        raise SerializationError(
            f"{where} has type {kind.__qualname__}, which cannot be sent to the board; "
            f"supported types: {LITERAL_TYPES}"
        )


#: MicroPython's parser interns every str or bytes literal of this many bytes or
#: fewer (MICROPY_ALLOC_PARSE_INTERN_STRING_LEN), and an interned string is never
#: freed: a new short value per call would leak board heap for good.
INTERN_LIMIT = 10
_PADDING = " " * (INTERN_LIMIT + 1)
_BYTES_PADDING = b" " * (INTERN_LIMIT + 1)


def _encode_text(value: str | bytes, out: list[str]) -> None:
    """A str or bytes literal the board does not intern.

    A value short enough to be interned is sent padded past the limit and cut
    back on the board (``'k1         '[:2]``): a longer literal becomes a plain
    object, freed with the compiled command.
    """
    size = len(value)
    if 0 < size <= INTERN_LIMIT:
        padded = value + _PADDING if isinstance(value, str) else value + _BYTES_PADDING
        out.append(f"{padded[: INTERN_LIMIT + 1]!r}[:{size}]")
    else:
        out.append(repr(value))


def encode_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """Return the source of the call ``name(*args, **kwargs)`` with literal arguments."""
    pieces = [encode(arg) for arg in args]
    for key, arg in kwargs.items():
        if not key.isidentifier():
            raise SerializationError(f"keyword {key!r} is not a valid identifier")
        pieces.append(f"{key}={encode(arg)}")
    return f"{name}({','.join(pieces)})"


_JSON_START = frozenset('[{0123456789-"')


def decode_repr(text: str) -> Any:
    """Read a MicroPython ``repr`` back into a Python value, without evaluating code."""
    if text and text[0] in _JSON_START:
        try:
            return _JSON.decode(text)
        except (ValueError, RecursionError):
            pass
    try:
        tree = ast.parse(text, mode="eval")
        return _literal(tree.body)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        raise SerializationError(
            f"the board returned a value that is not a literal: {_preview(text)}"
        ) from None


def decode_fields(text: str, names: tuple[str, ...]) -> tuple[Any, ...]:
    """A tuple frame from the board with one field per name, or a :class:`ProtocolError`.

    Frames come from belayfw's own board code, so a wrong shape means the
    bytes were damaged or come from something else: say so, never unpack blindly.
    """
    try:
        value = decode_repr(text)
    except SerializationError as exc:
        raise ProtocolError(f"the board sent a malformed frame: {exc.args[0]}") from None
    if type(value) is not tuple or len(value) != len(names):
        raise ProtocolError(
            f"the board sent a malformed frame: expected ({', '.join(names)}), got {_preview(text)}"
        )
    return value


def decode_base64(text: str) -> bytes:
    """Read bytes the board sent as base64."""
    try:
        return base64.b64decode(text, validate=False)
    except ValueError as exc:
        raise SerializationError(f"corrupt bytes result from the board: {exc}") from None


def _big_int(digits: str) -> int:
    """An int from decimal text of any length (``int()`` refuses over 4,300 digits)."""
    if len(digits) <= 4000:
        return int(digits)
    sign, body = (-1, digits[1:]) if digits[0] == "-" else (1, digits)
    value = 0
    for start in range(0, len(body), 4000):
        chunk = body[start : start + 4000]
        value = value * 10 ** len(chunk) + int(chunk)
    return sign * value


def _reject_constant(name: str) -> Any:
    # JSON's NaN/Infinity spellings are not MicroPython reprs: fall back to the AST reader.
    raise ValueError(name)


# One decoder for every call: json.loads(..., parse_constant=...) builds a new one each time.
_JSON = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_big_int)


def _preview(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


_NAMED_FLOATS = {"inf": math.inf, "nan": math.nan}


def _literal(node: ast.AST) -> Any:
    """Evaluate the literal subset of Python the board's ``repr`` produces."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item) for item in node.elts)
    if isinstance(node, ast.Set):
        return {_literal(item) for item in node.elts}
    if isinstance(node, ast.Dict):
        return {
            _literal(key): _literal(value)
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        }
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _literal(node.operand)
        if isinstance(operand, int | float | complex) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Name) and node.id in _NAMED_FLOATS:
        return _NAMED_FLOATS[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        # MicroPython spells empty sets "set()" and bytearrays "bytearray(b'..')".
        name, args = node.func.id, node.args
        if name in ("set", "frozenset") and len(args) <= 1:
            items = _literal(args[0]) if args else ()
            return set(items) if name == "set" else frozenset(items)
        if name == "bytearray" and len(args) == 1:
            return bytearray(_literal(args[0]))
    raise ValueError(f"not a literal: {ast.dump(node)[:80]}")
