"""The import graph of the ``generation`` package, read from the source (nothing is imported), and
the layers it must respect: a package imports only from packages on lower layers (or itself).

    python tests/import_graph.py    # prints the README's layout table
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "generation"
# Lowest first. Packages on one layer do not import each other.
LAYERS = (
    ("source", "cache"),
    ("backend",),
    ("generated", "real"),
    ("measure",),
    ("pipeline", "training"),
    ("hub",),
    ("distributed", "evaluation"),
    ("cli",),
)
LAYER_OF = {package: k for k, layer in enumerate(LAYERS) for package in layer}


def unit(module: str) -> str:
    """The package a module belongs to (``generation.real.bundle`` -> ``real``; ``generation.cli`` -> ``cli``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def all_imports() -> dict[str, set[str]]:
    """Each module of ``generation`` (dotted) and the ``generation`` modules it imports, at any depth
    (``from generation.real import bundle`` names ``generation.real.bundle``)."""
    paths = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    found: dict[str, set[str]] = {}
    for name, path in paths.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generation"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in paths else node.module)
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name.startswith("generation")}
        found[name] = imported - {name}
    return found


def module_imports() -> dict[str, set[str]]:
    """Each module and the modules of other packages it imports."""
    return {
        name: {i for i in imported if unit(i) and unit(i) != unit(name)} for name, imported in all_imports().items()
    }


def package_graph() -> dict[str, set[str]]:
    """Each package and the other packages it imports from."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, imported in module_imports().items():
        if unit(module):
            graph[unit(module)] |= {unit(i) for i in imported if unit(i) in LAYER_OF}
    return dict(graph)


def arrows_up() -> list[str]:
    """``module -> imported`` for every import of a package on the same layer or a higher one."""
    wrong = []
    for module, imported in sorted(module_imports().items()):
        for target in sorted(imported):
            if unit(target) in LAYER_OF and LAYER_OF[unit(target)] >= LAYER_OF[unit(module)]:
                wrong.append(f"{module} -> {target}")
    return wrong


def module_cycles() -> list[list[str]]:
    """Import cycles between modules, within a package or across packages (each listed once)."""
    graph = all_imports()
    cycles, state = set(), {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycle = stack[stack.index(target) :]
                start = cycle.index(min(cycle))
                cycles.add(tuple(cycle[start:] + cycle[:start]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return sorted(map(list, cycles))


def lines_by_package() -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        counts[parts[0] if len(parts) > 1 else path.stem] += len(path.read_text().splitlines())
    return dict(counts)


def layout_table() -> str:
    """The README's table: each package from the top layer down, and the packages it imports from."""
    graph = package_graph()
    rows = ["| layer | package | imports from |", "|---:|---|---|"]
    for k in reversed(range(len(LAYERS))):
        for package in LAYERS[k]:
            imports = ", ".join(sorted(graph.get(package, ()), key=lambda p: (-LAYER_OF[p], p))) or "-"
            rows.append(f"| {k} | `{package}` | {imports} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(layout_table())
