"""Keep the package layout honest: no import cycles, imports follow the layers, small
modules, SQL only in the ledger, no test hooks in the product.

Everything is read with `ast` (nothing under ossync/ is imported), and each checker is a
small function that takes a package directory, so the self-test can run it on a fake tree.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Mapping, Set
from pathlib import Path

# Which top-level packages each package may import (its own package is always allowed).
# docs/architecture.md explains the layers and why each arrow points the way it does.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "credentials": frozenset({"core"}),
    "config": frozenset({"core", "credentials"}),
    "targets": frozenset({"core"}),  # never config: ossync.stores maps it
    "localoss": frozenset({"core", "targets"}),  # own_signers: only without the SDK
    "ledger": frozenset({"core"}),
    "stores": frozenset({"core", "config", "targets"}),
    "intake": frozenset({"core", "config", "ledger"}),
    "upload": frozenset({"core", "config", "targets", "ledger", "intake"}),
    "http": frozenset({"core", "config", "targets", "ledger"}),
    "outbox": frozenset({"core", "config", "ledger"}),  # events to webhooks, on_upload
    "service": frozenset({"core", "credentials", "config", "targets", "ledger", "stores",
                          "intake", "upload", "http", "outbox"}),
    "cli": frozenset({"core", "credentials", "config", "targets", "localoss", "ledger",
                      "stores", "intake", "upload", "service", "root"}),
    "root": frozenset({"ledger", "cli"}),
}

SRC = Path(__file__).resolve().parent.parent / "ossync"
MAX_LINES = 400
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE|CREATE INDEX"
                 r"|DROP TABLE|ALTER TABLE|PRAGMA)\b")
EXECUTE = frozenset({"execute", "executemany", "executescript"})
# Receivers of .execute() that are obviously not a database connection or cursor.
NOT_A_DB = re.compile(r"(executor|pool|scheduler|loop|subprocess|command|cmd)$", re.IGNORECASE)
HOOKS = (b"OSSYNC_TEST", b"ossync-test-hang")

Graph = dict[str, set[str]]


def modules(src: Path) -> dict[str, Path]:
    """Every module of the package at `src`, by dotted name (packages by their __init__)."""
    found: dict[str, Path] = {}
    for path in sorted(src.rglob("*.py")):
        parts = (src.name, *path.relative_to(src).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _known(name: str, known: Set[str]) -> str | None:
    """The longest prefix of `name` that is one of our modules."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def imports_of(name: str, path: Path, known: Set[str]) -> set[str]:
    """Our modules that `name` imports anywhere (functions, TYPE_CHECKING blocks too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str | None] = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            targets.update(_known(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from pkg import sibling` runs pkg/__init__.py too: an edge to the package
            # as well, so a package whose __init__ imports the caller is a circle here.
            targets.add(_known(base, known))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else _known(base, known))
    return {t for t in targets if t is not None}


def import_graph(src: Path) -> Graph:
    """One edge per explicit import; no implicit child -> parent package edges."""
    found = modules(src)
    return {name: imports_of(name, path, found.keys()) for name, path in found.items()}


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of `graph`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_through(start: str, members: Set[str], graph: Graph) -> list[str]:
    """A shortest import path start -> … -> start inside one component (BFS)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is in a component but on no cycle")


def cycles(graph: Graph) -> list[str]:
    """Each import cycle as `a -> b -> a` (one per component, plus self-imports)."""
    found = []
    for component in strongly_connected(graph):
        if len(component) > 1 or component[0] in graph[component[0]]:
            cycle = _cycle_through(component[0], set(component), graph)
            extra = f"  (component: {', '.join(component)})" if len(component) > 2 else ""
            found.append(" -> ".join(cycle) + extra)
    return found


def package_of(module: str) -> str:
    """`ossync.X.…` belongs to X; `ossync` and `ossync.__main__` are "root"."""
    parts = module.split(".")
    return "root" if len(parts) == 1 or parts[1] == "__main__" else parts[1]


def layer_violations(graph: Graph, allowed: Mapping[str, Set[str]]) -> list[str]:
    """Every edge between packages that the layer map does not allow."""
    bad = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            a, b = package_of(module), package_of(target)
            if a != b and b not in allowed.get(a, ()):
                bad.append(f"{module} -> {target} (package {a} may not import package {b})")
    return bad


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants of the module, its classes and functions: prose."""
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    firsts = [n.body[0] for n in ast.walk(tree) if isinstance(n, owners) and n.body]
    return {id(e.value) for e in firsts if isinstance(e, ast.Expr)
            and isinstance(e.value, ast.Constant) and isinstance(e.value.value, str)}


def _receiver(node: ast.expr) -> str:
    while isinstance(node, ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")


def sql_outside_ledger(src: Path) -> list[str]:
    """SQL text, .execute*() calls and `import sqlite3` in modules outside ledger/."""
    found = []
    for name, path in modules(src).items():
        if package_of(name) == "ledger":
            continue
        tree = parse(path)
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            where = f"{path.relative_to(src.parent)}:{getattr(node, 'lineno', '?')}"
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in skip and SQL.search(node.value)):
                found.append(f"{where}: SQL string {node.value[:60]!r}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in EXECUTE
                  and not NOT_A_DB.search(_receiver(node.func.value))):
                found.append(f"{where}: .{node.func.attr}() call")
            elif (isinstance(node, ast.Import) and any(
                    a.name.split(".")[0] == "sqlite3" for a in node.names)) or (
                    isinstance(node, ast.ImportFrom) and node.level == 0
                    and (node.module or "").split(".")[0] == "sqlite3"):
                found.append(f"{where}: imports sqlite3")
    return found


def test_no_import_cycles() -> None:
    found = cycles(import_graph(SRC))
    assert not found, "import cycles:\n  " + "\n  ".join(found)


def test_packages_follow_the_layers() -> None:
    graph = import_graph(SRC)
    unmapped = sorted({package_of(m) for m in graph} - ALLOWED.keys())
    assert not unmapped, f"packages missing from ALLOWED: {unmapped}"
    bad = layer_violations(graph, ALLOWED)
    assert not bad, "imports against the layers:\n  " + "\n  ".join(bad)


def test_modules_stay_small() -> None:
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in SRC.rglob("*.py")}
    big = [f"{p.relative_to(SRC.parent)}: {n} lines" for p, n in sorted(sizes.items())
           if n > MAX_LINES]
    assert not big, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(big)


def test_sql_only_in_the_ledger() -> None:
    found = sql_outside_ledger(SRC)
    assert not found, "SQL outside ossync/ledger/:\n  " + "\n  ".join(found)


def test_no_test_hooks_in_the_product() -> None:
    files = [p for p in sorted(SRC.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    found = [f"{p.relative_to(SRC.parent)}: contains {h.decode()!r}"
             for p in files for h in HOOKS if h in p.read_bytes()]
    found += [f"{p.relative_to(SRC.parent)}: docstring says it is test-only"
              for p in modules(SRC).values()
              if "test-only" in (ast.get_docstring(parse(p)) or "").lower()]
    assert not found, "test hooks in the product:\n  " + "\n  ".join(found)


def test_the_checkers_can_fail(tmp_path: Path) -> None:
    """A fake tree with a cycle (one side a function-level import) and a layer breach."""
    src = tmp_path / "fake"
    files = {
        "__init__.py": "",
        "core/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                            "    from fake.core.c import C\n",
        "core/a.py": "from . import b\n",
        "core/b.py": "def f() -> None:\n    from fake.core import a\n",
        "core/c.py": "import fake.cli.x\nC = 1\n",
        "cli/__init__.py": "",
        "cli/x.py": "from ..core import c\nfrom fake.core import C\n",
    }
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text, encoding="utf-8")
    graph = import_graph(src)
    # `from pkg import sibling` runs pkg/__init__.py too: the package is an edge
    assert graph["fake.core.a"] == {"fake.core.b", "fake.core"}
    assert graph["fake.core.b"] == {"fake.core.a", "fake.core"}
    assert graph["fake.cli.x"] == {"fake.core.c", "fake.core"}
    found = cycles(graph)
    assert "fake.core.a -> fake.core.b -> fake.core.a" in found
    assert any(c.startswith("fake.cli.x -> fake.core.c -> fake.cli.x") for c in found), found
    bad = layer_violations(graph, {"core": set(), "cli": {"core"}, "root": set()})
    assert bad == [
        "fake.core.c -> fake.cli.x (package core may not import package cli)"], bad
