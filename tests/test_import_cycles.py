"""The package's modules import one way: no module-level import cycle (issue 10).

Reads every module under ``src/kemo_attention`` with ``ast`` and draws an edge for each
module-level ``import`` / ``from ... import`` of another module of the package (imports
inside functions are deferred on purpose and do not count; neither do ``TYPE_CHECKING``
blocks, which never run). The graph must be acyclic. A second test counts the deferred
imports too: the rooms also *depend* on each other one way only (the cycles issue 10 broke,
``evaluate/report.py`` <-> ``runner.py`` and ``features/extract.py`` <-> ``task.py``, were
both made of deferred imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

import kemo_attention

PACKAGE = Path(kemo_attention.__file__).parent
NAME = "kemo_attention"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module):
    """Import statements that run when the module is imported (module body, incl. if/try blocks)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                stack.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])
        elif isinstance(node, ast.With):
            stack.extend(node.body)


def _all_imports(tree: ast.Module):
    """Every import statement, deferred ones (inside functions) included."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def import_graph(deferred: bool = False) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in (_all_imports(tree) if deferred else _top_level_imports(tree)):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative import
                    anchor = mod.split(".") if is_package else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                # the deepest module of the package the name refers to
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target.startswith(NAME) and target != mod:
                    graph[mod].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        path.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == GREY:
                return path[path.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE:
            found = visit(start)
            if found:
                return found
    return None


def test_the_checker_finds_a_cycle():
    # the checker itself can fail: a made-up graph with a loop is caught, a tree is not
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_real_edges():
    graph = import_graph()
    assert "kemo_attention.dataset" in graph["kemo_attention.bundle.export"]
    assert "kemo_attention.features.layout" in graph["kemo_attention.features.assemble"]


def test_no_module_level_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_cycle_even_through_deferred_imports():
    graph = import_graph(deferred=True)
    assert "kemo_attention.evaluate.report" in graph["kemo_attention.evaluate.runner"]  # a deferred edge is seen
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle through deferred imports: " + " -> ".join(cycle)
