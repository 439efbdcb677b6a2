"""Import structure of the ``assistant`` package: cycles and private names used across modules.

    .venv/bin/python -m tests.imports        # prints what it finds; exit status 1 if anything

Every import counts, also one inside a function (a cycle hidden that way is still a cycle). A
*private name* is one starting with a single underscore, imported from another module
(``from .readers.markdown import _FRONT_MATTER``) or read off an imported module
(``userdata._schema``). The package's own ``__init__`` re-exporting its modules' names is fine.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "assistant"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def scan(package: Path = PACKAGE) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph inside the package, and the private names used across modules."""
    modules = {_module_name(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    private: list[str] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = (
                    _resolve(name, is_package, node.level, node.module) if node.level else (node.module or "")
                )
                if not target.startswith("assistant"):
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in modules:
                        graph[name].add(submodule)
                        aliases[alias.asname or alias.name] = submodule
                    else:
                        graph[name].add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append(f"{name} imports {target}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("assistant"):
                        graph[name].add(alias.name)
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                private.append(f"{name} reads {aliases[node.value.id]}.{node.attr}")
    for name in graph:
        graph[name] = {target for target in graph[name] if target in graph and target != name}
    return graph, sorted(set(private))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
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
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def main() -> int:
    graph, private = scan()
    groups = cycles(graph)
    for group in groups:
        print("import cycle: " + " ↔ ".join(group))
    for line in private:
        print("private name: " + line)
    if not groups and not private:
        print(f"{len(graph)} modules: no import cycle, no private name used across modules")
    return 1 if groups or private else 0


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    sys.exit(main())
