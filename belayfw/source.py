"""Board code from host methods: extract, transform, hash, and map tracebacks back.

A marked method's source is read from the host file and rewritten *in place*
so that every line keeps its number: decorator lines become blank, the header
is regenerated without ``self``, annotations or host-only defaults (defaults
are inlined as literals), and thread bodies get stop checks in their loops and
sleeps. Line 1 of the board code is the method's first host line, so a board
traceback's ``<bfw:name>, line N`` maps to ``file, first_line + N - 1``.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import io
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from belayfw import codec
from belayfw.errors import ConfigurationError, SerializationError


@dataclass(frozen=True)
class BoardSource:
    """A method's board code and where it came from."""

    name: str
    kind: str  # "f": function definition, "s": setup body run at global scope
    text: str
    code_hash: str
    filename: str
    first_line: int

    @property
    def board_filename(self) -> str:
        return f"<bfw:{self.name}>"


@dataclass(frozen=True)
class _Edit:
    start: tuple[int, int]  # (line, column), 1-based line, 0-based UTF-8 byte column
    end: tuple[int, int]
    text: str


#: Sleep calls a thread body may make without importing ``time`` (older code does),
#: and the board's stoppable sleep each one becomes.
_SLEEPS = {"sleep": "_bfw_sleep", "sleep_ms": "_bfw_sleep_ms", "sleep_us": "_bfw_sleep_us"}
_TIME_MODULES = {"time", "utime"}


def extract(
    function: Callable[..., Any],
    name: str,
    *,
    body_only: bool = False,
    instrument_thread: bool = False,
    minify: bool = False,
) -> BoardSource:
    """Build the board code of ``function`` deployed as global ``name``.

    ``body_only`` gives the body alone, to run at global scope (setup). Raises
    ``ConfigurationError`` (a ``ValueError``) when the source cannot be read or
    a default is not a literal.
    """
    try:
        lines, first_line = inspect.getsourcelines(function)
        filename = inspect.getsourcefile(function) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot read the source of {function.__qualname__}: board methods must be "
            f"defined in a file ({exc})"
        ) from None
    text = _dedent_block("".join(lines))
    tree = ast.parse(text)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise ConfigurationError(
            f"{function.__qualname__}: only plain functions can run on the board"
        )

    edits: list[_Edit] = []
    if node.decorator_list:
        first = min(decorator.lineno for decorator in node.decorator_list)
        edits.append(_Edit((first, 0), (node.lineno, 0), "\n" * (node.lineno - first)))
    if instrument_thread:
        edits.extend(_thread_edits(node))
    if minify:
        edits.extend(_docstring_edits(node))
    if body_only:
        edits.append(_Edit((node.lineno, 0), _start(node.body[0]), _blank_lines(node)))
    else:
        header = f"def {name}({_parameters(function)}):"
        edits.append(_Edit(_start(node), _start(node.body[0]), header + _gap(text, node)))
    board_text = _apply(text, edits)
    if body_only:
        board_text = _dedent_body(board_text, node.body[0].col_offset)
    if minify:
        board_text = strip_comments(board_text)
    kind = "s" if body_only else "f"
    digest = hashlib.sha256(f"{kind}:{name}:{board_text}".encode()).hexdigest()[:16]
    return BoardSource(name, kind, board_text, digest, filename, first_line)


def _start(node: ast.stmt | ast.expr) -> tuple[int, int]:
    return node.lineno, node.col_offset


def _dedent_block(text: str) -> str:
    """Remove the first line's indentation from every line that has it.

    Unlike ``textwrap.dedent`` this survives string literals that start at
    column 0 inside an indented method.
    """
    lines = text.splitlines(keepends=True)
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    if not indent:
        return text
    return "".join(line[len(indent) :] if line.startswith(indent) else line for line in lines)


def _dedent_body(text: str, column: int) -> str:
    prefix = " " * column
    return "".join(
        line[column:] if line.startswith(prefix) else line
        for line in text.splitlines(keepends=True)
    )


def _gap(text: str, node: ast.FunctionDef) -> str:
    """What joins the new header to the first body statement, keeping line numbers."""
    body = node.body[0]
    if body.lineno == node.lineno:
        return " "
    indentation = text.splitlines()[body.lineno - 1][: body.col_offset]
    return "\n" * (body.lineno - node.lineno) + indentation


def _blank_lines(node: ast.FunctionDef) -> str:
    body = node.body[0]
    return "\n" * (body.lineno - node.lineno) + " " * body.col_offset


def _parameters(function: Callable[..., Any]) -> str:
    """The parameter list for the board, defaults inlined as literals, no annotations."""
    signature = inspect.signature(function)
    pieces: list[str] = []
    seen_keyword_only = False
    for index, parameter in enumerate(signature.parameters.values()):
        if index == 0 and parameter.name == "self":
            continue
        kind = parameter.kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            pieces.append(f"*{parameter.name}")
            seen_keyword_only = True
            continue
        if kind is inspect.Parameter.VAR_KEYWORD:
            pieces.append(f"**{parameter.name}")
            continue
        if kind is inspect.Parameter.KEYWORD_ONLY and not seen_keyword_only:
            pieces.append("*")
            seen_keyword_only = True
        if parameter.default is inspect.Parameter.empty:
            pieces.append(parameter.name)
            continue
        try:
            default = codec.encode(parameter.default)
        except SerializationError as exc:
            raise ConfigurationError(
                f"{function.__qualname__}: the default of {parameter.name!r} must be a "
                f"literal to run on the board ({exc.args[0]})"
            ) from None
        pieces.append(f"{parameter.name}={default}")
    return ", ".join(pieces)


def _thread_edits(function: ast.FunctionDef) -> list[_Edit]:
    """Stop checks in the body's loops, named prints, ``emit`` (events to the host).

    Any sleep is stoppable without an edit: the board's ``time`` module sleeps
    in stoppable slices inside a belayfw thread (board/runtime.py). The body's
    ``time.sleep_ms(...)`` calls are still rewritten to those sleeps, so that a
    body that never imported ``time`` keeps working as it always has.
    """
    edits: list[_Edit] = []
    for node in ast.walk(function):
        if isinstance(node, ast.While):
            test = node.test
            edits.append(_Edit(_start(test), _start(test), "_bfw_go() and ("))
            edits.append(_Edit(_end(test), _end(test), ")"))
        elif isinstance(node, ast.For):
            source = node.iter
            edits.append(_Edit(_start(source), _start(source), "_bfw_it("))
            edits.append(_Edit(_end(source), _end(source), ")"))
        elif isinstance(node, ast.Call):
            replacement = _sleep_replacement(node.func)
            if replacement is not None:
                edits.append(_Edit(_start(node.func), _end(node.func), replacement))
            elif isinstance(node.func, ast.Name) and node.func.id == "print":
                edits.append(_Edit(_start(node.func), _end(node.func), "_bfw_p"))
        elif isinstance(node, ast.Name) and node.id == "emit" and isinstance(node.ctx, ast.Load):
            # Every use, not only calls: the body may hand emit to a function it calls.
            edits.append(_Edit(_start(node), _end(node), "_bfw_e"))
    return edits


def _sleep_replacement(func: ast.expr) -> str | None:
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _SLEEPS
        and isinstance(func.value, ast.Name)
        and func.value.id in _TIME_MODULES
    ):
        return _SLEEPS[func.attr]
    if isinstance(func, ast.Name) and func.id in ("sleep_ms", "sleep_us"):
        return _SLEEPS[func.id]
    return None


def _end(node: ast.expr) -> tuple[int, int]:
    assert node.end_lineno is not None and node.end_col_offset is not None
    return node.end_lineno, node.end_col_offset


def _docstring_edits(function: ast.FunctionDef) -> list[_Edit]:
    first = function.body[0]
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return []
    assert first.end_lineno is not None and first.end_col_offset is not None
    keep = "pass" if len(function.body) == 1 else ""
    newlines = "\n" * (first.end_lineno - first.lineno)
    return [_Edit(_start(first), (first.end_lineno, first.end_col_offset), keep + newlines)]


def _apply(text: str, edits: list[_Edit]) -> str:
    """Apply non-overlapping edits (positions in UTF-8 bytes), last first."""
    lines = [line.encode() for line in text.splitlines(keepends=True)]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    data = b"".join(lines)

    def position(point: tuple[int, int]) -> int:
        return offsets[point[0] - 1] + point[1]

    ordered = sorted(
        edits, key=lambda edit: (position(edit.start), position(edit.end)), reverse=True
    )
    for edit in ordered:
        data = data[: position(edit.start)] + edit.text.encode() + data[position(edit.end) :]
    return data.decode()


def strip_comments(text: str) -> str:
    """Drop comments and trailing blanks; every line keeps its number."""
    comments: list[tuple[int, int]] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            comments.append(token.start)
    lines = text.splitlines(keepends=True)
    for line_number, column in comments:
        line = lines[line_number - 1]
        lines[line_number - 1] = line[:column] + ("\n" if line.endswith("\n") else "")
    return "".join(line.rstrip() + ("\n" if line.endswith("\n") else "") for line in lines)


_FRAME = re.compile(r'File "<bfw:([A-Za-z_][A-Za-z0-9_]*)>", line (\d+)')
_INTERNAL_FRAME = re.compile(r'^\s*File "[^"]*", line \d+, in _bfw_\w+\n', re.MULTILINE)


def map_traceback(traceback: str, sources: dict[str, BoardSource]) -> str:
    """Rewrite board frames of deployed methods to host files and lines.

    Frames inside belayfw's runtime are dropped: they are not the user's code.
    """

    def host_frame(match: re.Match[str]) -> str:
        source = sources.get(match.group(1))
        if source is None:
            return match.group(0)
        line = source.first_line + int(match.group(2)) - 1
        return f'File "{source.filename}", line {line}'

    return _FRAME.sub(host_frame, _INTERNAL_FRAME.sub("", traceback))
