"""The layers stay layered: no import circle in belayfw, and nothing below the facade
imports ``belayfw.device``. Every import counts, including those under
``TYPE_CHECKING`` and inside functions: a circle held together by type-only
imports is still a circle for the reader."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "belayfw"
#: Modules above the facade (and their submodules): they hand ``Device`` to users.
FACADE_USERS = ("belayfw.cli", "belayfw.testing")


def module_paths() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The belayfw modules ``name`` imports anywhere in its text (``from x import y``
    counts as an import of module ``x.y`` when that is a module, else of ``x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parents, base] if base else parents)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in modules:
                    found.add(target)
                elif base in modules:
                    found.add(base)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_paths()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_checker_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_checker_reads_type_checking_and_relative_imports(tmp_path: Path) -> None:
    modules = {"belayfw.x": tmp_path / "x.py", "belayfw.y": tmp_path / "y.py"}
    modules["belayfw.x"].write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from belayfw.y import Y\n"
    )
    modules["belayfw.y"].write_text("def f():\n    from . import x\n")
    assert imports_of("belayfw.x", modules["belayfw.x"], modules) == {"belayfw.y"}
    assert imports_of("belayfw.y", modules["belayfw.y"], modules) == {"belayfw.x"}


def test_no_import_circle() -> None:
    graph = import_graph()
    assert graph.get("belayfw.device"), "the walk found no imports: it reads nothing"
    assert cycles(graph) == []


def above_the_facade(name: str) -> bool:
    return name == "belayfw" or any(
        name == top or name.startswith(f"{top}.") for top in FACADE_USERS
    )


def test_only_the_top_imports_the_device() -> None:
    importers = sorted(
        name
        for name, targets in import_graph().items()
        if "belayfw.device" in targets and not above_the_facade(name)
    )
    assert importers == [], "lower layers depend on protocols, not on belayfw.device"


def private_names_used_from_elsewhere(path: Path) -> list[str]:
    """``x._name`` in ``path`` where ``_name`` is not defined in ``path`` itself.

    A module may use its own privates on any object (a class and its helper in
    one module); a private of another module is reached only through a public
    name. ``self._x``/``cls._x`` and the ``os``/``sys`` private functions are fine.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            defined.add(node.value)  # names in __slots__
    used = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") or node.attr in defined:
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id in {"self", "cls", "mcls", "os", "sys"}:
            continue
        where = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE.parent) else path
        used.append(f"{where}:{node.lineno}: .{node.attr}")
    return used


def test_the_private_check_sees_a_foreign_private(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f(device):\n    return device._lock, device._mine\n_mine = 1\n")
    found = private_names_used_from_elsewhere(module)
    assert [line.rsplit(": ", 1)[1] for line in found] == ["._lock"]


def test_no_private_member_used_across_modules() -> None:
    used = [
        line for path in module_paths().values() for line in private_names_used_from_elsewhere(path)
    ]
    assert used == [], "use a public name (or a protocol) instead"
