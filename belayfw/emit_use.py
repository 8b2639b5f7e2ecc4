"""``emit`` belongs to ``@thread`` bodies: catch it used anywhere else, with what to do instead.

Only a thread body gets ``emit`` (belayfw rewrites it there, as it does
``print``); in a ``@task``, ``@setup`` or ``@teardown`` the board would only
raise a bare ``NameError``. A class whose such method calls ``emit`` without
defining the name itself is refused when it is defined; a call the source does
not show (a board helper calling ``emit``) gets the same advice as a note on
the board's ``NameError``.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from belayfw.decorators import BoardMethod, Kind
from belayfw.errors import ConfigurationError, DeviceError
from belayfw.source import BoardSource

#: What to use instead of ``emit`` outside a thread body.
ADVICE = (
    "emit() exists only in @thread bodies (it sends an event from a board thread to "
    "its handle). To stream values from a @task, make it a generator: `yield value` "
    "on the board and iterate what the call returns on the host; or make the method "
    "a @thread and read handle.events"
)


def check_emit_use(
    class_name: str, methods: Mapping[str, BoardMethod], sources: Mapping[str, BoardSource]
) -> None:
    """Raise ``ConfigurationError`` when a non-thread method of the class calls ``emit``.

    A method (or a ``@setup``, which runs at the board's global scope) that
    defines ``emit`` itself is left alone: then the name is the user's own.
    """
    trees = {name: ast.parse(board.text) for name, board in sources.items()}
    if any(_binds_emit(trees[name]) for name, m in methods.items() if m.kind is Kind.SETUP):
        return
    for name, method in methods.items():
        if method.kind is Kind.THREAD or _binds_emit(trees[name]):
            continue
        call = _first_emit_call(trees[name])
        if call is not None:
            board = sources[name]
            line = board.first_line + call.lineno - 1
            raise ConfigurationError(
                f"{class_name}.{name} (@{method.kind.value}) calls emit() at "
                f"{board.filename}:{line}, but {ADVICE}"
            )


def explain_missing_emit(error: DeviceError) -> DeviceError:
    """Add the advice to a board ``NameError`` about ``emit`` (a call the source did not show)."""
    if error.type_name == "NameError" and "'emit'" in error.message:
        error.add_note(f"belayfw: {ADVICE}")
    return error


def _binds_emit(tree: ast.AST) -> bool:
    """The code defines the name ``emit`` anywhere (argument, assignment, def, import, global)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "emit" and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == "emit":
                return True
        elif isinstance(node, ast.arg) and node.arg == "emit":
            return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any((alias.asname or alias.name) == "emit" for alias in node.names):
                return True
        elif isinstance(node, ast.Global | ast.Nonlocal) and "emit" in node.names:
            return True
    return False


def _first_emit_call(tree: ast.AST) -> ast.Call | None:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "emit"
    ]
    return min(calls, key=lambda call: call.lineno, default=None)
