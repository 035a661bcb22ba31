"""No import cycles among the modules of src/ (imports in ``if TYPE_CHECKING:`` blocks
aside; imports inside functions count: they are cycles that only run later)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Cycles being removed elsewhere: issue 13 item 6 takes operation.py <-> opexec.py apart
# (results in their own module). Once that is merged this must be empty.
KNOWN_CYCLES: list[set[str]] = []


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(node: ast.AST) -> Iterator[str]:
    """Every module name an import statement below ``node`` names (``from a import b``
    gives ``a.b`` and ``a``), skipping the bodies of ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield from _imported_names(other)
            continue
        if isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
            yield child.module
            yield from (f"{child.module}.{alias.name}" for alias in child.names)
        else:
            yield from _imported_names(child)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of src/ it imports (a package stands for its __init__)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for imported in _imported_names(ast.parse(path.read_text(), str(path))):
            if imported in modules and imported != name:
                deps.add(imported)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_modules_and_their_imports() -> None:
    graph = import_graph()
    assert "pyinfra.api.arguments" in graph["pyinfra.connectors.execution"]
    assert "pyinfra.connectors.ssh.connector" in graph["pyinfra.connectors.ssh"]
    # imports only made for type checking are no dependency
    assert "pyinfra.api.host" not in graph["pyinfra.api.state"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    unexpected = [sorted(cycle) for cycle in found if cycle not in KNOWN_CYCLES]
    assert unexpected == [], f"import cycles: {unexpected}"


def test_known_cycles_are_still_there() -> None:
    # Fails once a known cycle is removed: then delete it from KNOWN_CYCLES.
    found = cycles(import_graph())
    gone = [sorted(cycle) for cycle in KNOWN_CYCLES if cycle not in found]
    assert gone == [], f"remove from KNOWN_CYCLES, they are gone: {gone}"
