"""The layout keeps its one-way flow: no import cycle among validation/ modules (imports
inside functions included), except the registry and the rule modules that register
themselves. import-linter's contracts (pyproject.toml, run by `make test`) keep the
layers; this keeps the cycles out."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
# The registry imports validation.rules to register them, and each rule module imports
# the registry's decorator: the one cycle the layout allows.
ALLOWED = {"validation.registry", "validation.rules"}


def _graph() -> dict[str, set[str]]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("validation", cache_dir=None)
    return {module: set(graph.find_modules_directly_imported_by(module))
            for module in graph.modules}


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module: every set of modules
    that reach each other (each module's reach, intersected with what reaches it)."""
    reach = {module: _reachable(edges, module) for module in edges}
    found: list[set[str]] = []
    for module in sorted(edges):
        if module in reach[module] and not any(module in seen for seen in found):
            component = {other for other in reach[module] if module in reach.get(other, ())}
            if len(component) > 1:
                found.append(component)
    return found


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(edges.get(module, ()))
    return seen


def _allowed(component: set[str]) -> bool:
    return all(module in ALLOWED or module.startswith("validation.rules.")
               for module in component)


def test_no_import_cycles_but_the_rule_registry() -> None:
    found = cycles(_graph())
    assert [sorted(c) for c in found if not _allowed(c)] == []
    assert any("validation.registry" in c for c in found)  # the graph does see it


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(edges) == [{"a", "b", "c"}]
    assert cycles({"a": {"b"}, "b": set()}) == []
