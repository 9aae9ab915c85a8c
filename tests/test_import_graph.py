"""carverify's modules import each other in one direction: no cycle, and the core imports no simulator.

Every import counts, module-level or inside a function: a lazy import still ties the two
modules together.  `from package import submodule` is an edge to the submodule only, and
`from carverify import __version__` none (carverify/__init__.py sets it before any import).
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SIMULATORS = ("minigrid", "panda_gym", "pybullet")


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in (ROOT / "carverify").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: pathlib.Path, known) -> tuple[set[str], set[str]]:
    """(carverify modules, other top-level packages) that `name` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    inner, outer = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.module == "carverify" and [a.name for a in node.names] == ["__version__"]:
                continue   # a constant the package defines before it imports anything: no edge
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        for target in targets:
            if not target.startswith("carverify"):
                outer.add(target.split(".")[0])
                continue
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                inner.add(target)
    return inner, outer


def _graph():
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_carverify_imports_have_no_cycle():
    graph = _graph()
    assert len(graph) > 40   # the walk saw the package, not an empty folder
    assert _cycles({name: inner for name, (inner, _) in graph.items()}) == []


def test_only_the_adapters_import_a_simulator():
    graph = _graph()
    importers = {name for name, (_, outer) in graph.items() if set(outer) & set(SIMULATORS)}
    assert importers and all(name.startswith("carverify.envs.") for name in importers), importers
