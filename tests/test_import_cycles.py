"""No import cycles among the modules of the ``mimetic`` package.

Every module is parsed with ``ast`` (nothing is imported) and every ``mimetic.*`` import becomes an edge of a graph:
module-level imports and imports inside functions alike (a function-level import only postpones a cycle, it does
not remove it). Rules:

- ``from mimetic.a import b`` is an edge to ``mimetic.a.b`` when that is a module, else to ``mimetic.a``;
  relative imports are resolved the same way;
- imports under ``if TYPE_CHECKING:`` do not count: they never run, they exist only for annotations;
- the implicit import of a package's ``__init__`` when one of its submodules is imported does not count (Python
  initialises a package before its submodules; a package that registers or re-exports its submodules is not a
  cycle).

A cycle is a strongly connected component of more than one module (Tarjan's algorithm), or a module importing
itself. The failure message lists each cycle with the import lines that close it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mimetic

PACKAGE = Path(mimetic.__file__).resolve().parent


def _modules() -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is a package)}`` for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(tree: ast.Module, name: str, is_pkg: bool, known) -> dict[str, int]:
    """``{imported module: line of the first such import}`` of module ``name`` (parsed as ``tree``), restricted to
    the modules in ``known``."""
    package = name if is_pkg else name.rpartition(".")[0]
    edges: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target in known and target != name:
            edges.setdefault(target, line)

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    walk_stmt(stmt)
                continue
            walk_stmt(child)

    def walk_stmt(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join(parts[:len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                add(sub if sub in known else module, node.lineno)
        walk(node)

    walk(tree)
    return edges


def import_graph() -> dict[str, dict[str, int]]:
    """``{module: {imported module: line}}`` over the package's own modules."""
    mods = _modules()
    return {name: imports_of(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), name, is_pkg, mods)
            for name, (path, is_pkg) in mods.items()}


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:  # iterative Tarjan (no recursion limit on deep import chains)
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph[w])))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def _describe(comp: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(comp)
    lines = [f"  cycle: {' <-> '.join(comp)}"]
    for m in comp:
        for target, line in sorted(graph[m].items()):
            if target in members:
                lines.append(f"    {m} (line {line}) imports {target}")
    return "\n".join(lines)


def test_the_checker_finds_cycles_and_ignores_type_checking_imports():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
    known = {"mimetic", "mimetic.table", "mimetic.analyzer", "mimetic.cli", "mimetic.cli.common", "mimetic.x"}
    src = ("import typing\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mimetic.table import T\n"
           "if typing.TYPE_CHECKING:\n    import mimetic.x\nelse:\n    from . import common\n"
           "def f():\n    from mimetic import Analyzer\n    from mimetic.analyzer import Analyzer\n")
    assert imports_of(ast.parse(src), "mimetic.cli", True, known) == \
        {"mimetic.cli.common": 8, "mimetic": 10, "mimetic.analyzer": 11}
    assert imports_of(ast.parse("from .common import err\nfrom .. import table\n"), "mimetic.cli.train", False,
                      known) == {"mimetic.cli.common": 1, "mimetic.table": 2}
    # the real graph holds function-level imports (the CLI imports its stages inside commands)
    graph = import_graph()
    assert "mimetic.train.run" in graph["mimetic.cli.train"]
    assert "mimetic.cli.common" in graph["mimetic.cli.pictures"]


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50
    found = cycles(graph)
    assert not found, "import cycles in the mimetic package:\n" + "\n".join(_describe(c, graph) for c in found)
