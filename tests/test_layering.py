"""The layering of the packages, read from the source with `ast` (nothing is imported).

DESIGN.md section 2: knowledge <- adapters <- brain <- workflows <- evals. A package imports only from
packages to its left; there is no import cycle among the project's modules; and nothing outside
`knowledge/synthetic/` imports `knowledge.synthetic` (the generator is one producer of yards).

Every import counts: at module level, inside functions, under `if TYPE_CHECKING:`, and
`importlib.import_module("...")` / `__import__("...")` with a literal name. `from pkg import name` imports
`pkg.name` when that is a module of the project, else `pkg`. A package whose `__init__.py` maps its names
lazily (`lazy_loader.attach_stub`) lists them in `__init__.pyi`: every `.pyi` is read beside its `.py`, so such
a package imports what its stub names. Importing `pkg.mod` is an edge to `pkg.mod` only (not to `pkg`, whose
`__init__` Python runs first): an eager `__init__` shows its own imports.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("knowledge", "adapters", "brain", "workflows", "evals")
"""Left to right: a package may import from itself and from those to its left."""
RANK = {name: i for i, name in enumerate(ORDER)}
SYNTHETIC = "knowledge.synthetic"
DYNAMIC_IMPORTS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class Edge:
    """One import of one module by another, where it is written."""

    source: str
    """The importing module (`brain.cli`)."""
    target: str
    """The imported module of the project (`knowledge.settings`), after resolving `from pkg import name`."""
    file: str
    """The file, relative to the repository (`brain/cli.py`, or a `.pyi` stub)."""
    line: int
    statement: str

    def where(self) -> str:
        """`file:line: statement`."""
        return f"{self.file}:{self.line}: {self.statement}"


def module_name(path: Path) -> str:
    """`brain/tools/base.py` -> `brain.tools.base`; `brain/__init__.pyi` -> `brain`."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    """Every `.py` and `.pyi` file of the five packages."""
    files = [p for package in ORDER for p in (ROOT / package).rglob("*.py*") if p.suffix in (".py", ".pyi")]
    return sorted(p for p in files if "__pycache__" not in p.parts)


def resolve(name: str, modules: frozenset[str]) -> str | None:
    """The module of the project `name` is, or lies in (its longest prefix that is a module); None if outside."""
    parts = name.split(".")
    if parts[0] not in RANK:
        return None
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return parts[0]


def _relative_base(path: Path, level: int, module: str | None) -> str:
    """The absolute name a relative `from ... import` starts from."""
    package = module_name(path).split(".")
    if path.stem != "__init__":
        package = package[:-1]  # a module's package is its parent; a package's `__init__` is the package
    package = package[: len(package) - (level - 1)]
    return ".".join([*package, module] if module else package)


def imports_of(path: Path, modules: frozenset[str]) -> Iterator[Edge]:
    """Every import of the project's modules that `path` makes."""
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    me = module_name(path)
    file = str(path.relative_to(ROOT))

    def edge(node: ast.AST, name: str) -> Edge | None:
        target = resolve(name, modules)
        if target is None or target == me:
            return None
        return Edge(me, target, file, getattr(node, "lineno", 0), ast.unparse(node).splitlines()[0])

    for node in ast.walk(tree):
        found: list[Edge | None] = []
        if isinstance(node, ast.Import):
            found = [edge(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _relative_base(path, node.level, node.module) if node.level else (node.module or "")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append(edge(node, submodule if submodule in modules else base))
        elif isinstance(node, ast.Call) and _called_name(node.func) in DYNAMIC_IMPORTS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
                found = [edge(node, first.value)]
        yield from (e for e in found if e is not None)


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    """Every import between the project's modules, in file and line order."""
    files = source_files()
    modules = frozenset(module_name(p) for p in files)
    found = {(e.source, e.target, e.file, e.line): e for p in files for e in imports_of(p, modules)}
    return sorted(found.values(), key=lambda e: (e.file, e.line, e.target))


def top(module: str) -> str:
    """The package a module belongs to (`brain.tools.base` -> `brain`)."""
    return module.split(".")[0]


def test_no_package_imports_from_a_package_to_its_right(edges: list[Edge]) -> None:
    wrong = [e for e in edges if RANK[top(e.target)] > RANK[top(e.source)]]
    lines = [f"{e.where()}  ({top(e.source)} imports {e.target}; {top(e.target)} sits to its right)" for e in wrong]
    assert not wrong, f"{len(wrong)} imports against the layering {' <- '.join(ORDER)}:\n" + "\n".join(lines)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of `graph` with more than one module, each sorted."""
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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest path `start -> ... -> start` inside `within` (breadth first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & within):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"{start} is on no cycle")  # unreachable for a member of a strong component


def test_no_import_cycle(edges: list[Edge]) -> None:
    graph: dict[str, set[str]] = {}
    first: dict[tuple[str, str], Edge] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
        first.setdefault((e.source, e.target), e)
    components = strongly_connected(graph)
    reports = []
    for component in components:
        cycle = shortest_cycle(graph, component[0], set(component))
        steps = [f"    {a} -> {b}  at {first[(a, b)].where()}" for a, b in zip(cycle, cycle[1:], strict=False)]
        members = ", ".join(component)
        reports.append(f"  a cycle among {len(component)} modules ({members}):\n" + "\n".join(steps))
    assert not components, f"{len(components)} import cycles (type-only imports included):\n" + "\n".join(reports)


FRONT_ENDS = {"knowledge": "lazy re-exports: generate_yard, YardSpec", "knowledge.cli": "`shipbrain yard generate`"}
"""The generator's own front ends: they run it; nothing else may use it (its vocabulary, naming or tables)."""


def test_only_the_generator_imports_knowledge_synthetic(edges: list[Edge]) -> None:
    def synthetic(module: str) -> bool:
        return module == SYNTHETIC or module.startswith(SYNTHETIC + ".")

    wrong = [e for e in edges if synthetic(e.target) and not synthetic(e.source) and e.source not in FRONT_ENDS]
    lines = [f"{e.where()}  ({e.source} imports {e.target})" for e in wrong]
    assert not wrong, f"{len(wrong)} imports of {SYNTHETIC} from outside it:\n" + "\n".join(lines)


def test_the_reader_sees_what_it_must() -> None:
    """The analysis itself: relative, lazy, dynamic and type-only imports are all read."""
    files = {module_name(p): p for p in source_files()}
    modules = frozenset(files)
    assert {"knowledge", "adapters", "brain", "workflows", "evals"} <= modules
    assert resolve("knowledge.settings.Settings", modules) == "knowledge.settings"
    assert resolve("numpy", modules) is None
    stub = ROOT / "knowledge" / "__init__.pyi"
    if stub.is_file():  # a lazily mapped package is read through its stub
        assert any(e.target == "knowledge.store" for e in imports_of(stub, modules))
