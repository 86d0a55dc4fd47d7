"""The import graph of modbench/ has no cycle: every layer imports only the ones below it.

Walks every module of the package with ``ast`` (imports inside functions included, since a lazy
import is still a dependency) and fails on any strongly connected component of more than one
module, naming the modules and one cycle through them. The same check runs on the folders: the
graph of modbench's top-level subpackages and modules (``modbench.suite``, ``modbench.plugins``,
...), where one module of ``suite/`` importing ``tune/`` and one of ``tune/`` importing ``suite/``
is a cycle even when no single module closes it.
"""

from __future__ import annotations

import ast
from pathlib import Path


PACKAGE = Path(__file__).resolve().parents[1] / "modbench"


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modbench modules ``name`` imports anywhere in its file (resolved to the deepest
    module that exists: ``from modbench.engine import train`` is modbench.engine.train)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            targets = [f"{origin}.{alias.name}" for alias in node.names] + [origin]
            # "from pkg import name": the submodule if it is one, else the package itself.
            targets = [t for t in targets[:-1] if t in modules] or [origin]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target.startswith("modbench") and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def one_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return list(reversed(path)) + [start]
                if child not in previous:
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    return component


def test_the_walker_finds_a_cycle_it_is_shown(tmp_path):
    """The checker itself: a planted cycle a -> b -> c -> a is found and named."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    (component,) = strongly_connected(graph)
    assert component == ["a", "b", "c"]
    assert one_cycle(graph, component) == ["a", "b", "c", "a"]


def test_imports_inside_functions_and_relative_imports_count(tmp_path):
    pkg = tmp_path / "modbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "x.py").write_text("def f():\n    from modbench.sub import y\n")
    (pkg / "sub" / "y.py").write_text("from . import x\nfrom .x import f\n")
    modules = module_names(pkg)
    assert imports_of("modbench.sub.x", modules["modbench.sub.x"], modules) == {"modbench.sub.y"}
    assert imports_of("modbench.sub.y", modules["modbench.sub.y"], modules) == {"modbench.sub.x"}


def test_modbench_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50  # the walk found the package
    cycles = [" -> ".join(one_cycle(graph, c)) for c in strongly_connected(graph)]
    assert not cycles, "import cycles in modbench/ (break each one):\n  " + "\n  ".join(cycles)


def unit_of(module: str) -> str:
    """The top-level subpackage or module a module belongs to: ``modbench.suite.loader`` ->
    ``modbench.suite``; ``modbench.plugins`` stays itself; the root package is its own unit."""
    return ".".join(module.split(".")[:2])


def folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between top-level units; the root package ``modbench`` (its
    ``__init__`` re-exports lazily) is left out: every module is inside it."""
    out: dict[str, set[str]] = {}
    for name, targets in graph.items():
        if name == "modbench":
            continue
        unit = unit_of(name)
        out.setdefault(unit, set())
        out[unit] |= {unit_of(t) for t in targets if t != "modbench" and unit_of(t) != unit}
    return out


def test_folder_graph_of_a_planted_cycle():
    """Two folders whose modules import each other's other modules: no module cycle, one folder
    cycle, found."""
    graph = {
        "modbench.a.x": {"modbench.b.y"},
        "modbench.b.z": {"modbench.a.w"},
        "modbench.a.w": set(),
        "modbench.b.y": set(),
        "modbench.c": {"modbench.a.x"},
    }
    assert strongly_connected(graph) == []
    folders = folder_graph(graph)
    assert folders == {"modbench.a": {"modbench.b"}, "modbench.b": {"modbench.a"}, "modbench.c": {"modbench.a"}}
    assert strongly_connected(folders) == [["modbench.a", "modbench.b"]]


def test_modbench_folders_have_no_import_cycle():
    graph = import_graph()
    folders = folder_graph(graph)
    assert {"modbench.suite", "modbench.tune", "modbench.losses", "modbench.plugins"} <= set(folders)
    cycles = []
    for component in strongly_connected(folders):
        members = set(component)
        why = sorted(f"{a} -> {b}" for a, bs in graph.items() for b in bs
                     if a != "modbench" and unit_of(a) in members and unit_of(b) in members and unit_of(a) != unit_of(b))
        cycles.append(" -> ".join(one_cycle(folders, component)) + " (" + "; ".join(why) + ")")
    assert not cycles, "import cycles between folders of modbench/ (break each one):\n  " + "\n  ".join(cycles)


def test_the_python_api_imports_nothing_from_the_cli():
    """modbench/api.py and the command line both call the layers below; the API never goes
    through the CLI (its options, its printing), directly or through another module."""
    graph = import_graph()
    seen, todo = set(), ["modbench.api"]
    while todo:
        name = todo.pop()
        for target in graph.get(name, ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert not sorted(m for m in seen if m == "modbench.cli" or m.startswith("modbench.cli."))
