"""The project's import graph, read from source with ``ast`` (nothing is imported).

Every import counts, including those inside functions: a lazy import still ties two
modules together. Imports under ``if TYPE_CHECKING:`` do not, since they never run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "tenancy",
    "portal",
    "programs",
    "enrollment",
    "vendors",
    "protocol",
    "devices",
    "settlement",
)


@dataclass
class Graph:
    """Modules of the project apps and the modules (project or third-party) each imports."""

    edges: dict[str, set[str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def project_edges(self) -> dict[str, set[str]]:
        return {m: {t for t in ts if t in self.edges} for m, ts in self.edges.items()}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # "from pkg import mod" imports the submodule pkg.mod when there is one.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def build(root: Path = ROOT) -> Graph:
    graph = Graph()
    files = [p for app in APPS if (root / app).is_dir() for p in (root / app).rglob("*.py")]
    modules = {module_name(p, root): p for p in files}
    for module, path in modules.items():
        source = path.read_text()
        graph.lines[module] = source.count("\n")
        raw = _imports(ast.parse(source), module, path.name == "__init__.py")
        resolved = set()
        for target in raw:
            # Keep the longest prefix that is a project module; third-party names stay as read.
            parts = target.split(".")
            for n in range(len(parts), 0, -1):
                prefix = ".".join(parts[:n])
                if prefix in modules:
                    resolved.add(prefix)
                    break
            else:
                resolved.add(target)
        resolved.discard(module)
        graph.edges[module] = resolved
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = graph.project_edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
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
                    work.append((child, iter(sorted(edges[child]))))
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
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def app_of(module: str) -> str:
    return module.split(".")[0]


if __name__ == "__main__":
    g = build()
    cyc = cycles(g)
    print(f"{len(g.edges)} modules; {len(cyc)} import circles")
    for c in cyc:
        print("  circle:", ", ".join(c))
    biggest = sorted(g.lines.items(), key=lambda kv: -kv[1])[:5]
    print("largest:", ", ".join(f"{m} {n}" for m, n in biggest))
