"""What harvesting real Warp packages yields, per path, in static mode (files parsed, never
imported; imports inside the given paths bundled, ``generation/kernels/bundle.py``).

For each path, harvested alone as ``paths=[PATH]`` would: kernel definitions (top-level and
nested in functions or classes), generic kernels (Warp needs concrete overloads), kernels bundled
across files, skips by reason, and rows (code made for ``--device``). The static target is the
share of top-level, non-generic kernels that became rows.

    python bench/harvest_yield.py PATH [PATH ...] [--device cuda]
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import Counter
from pathlib import Path

from generation.kernels.features import is_kernel
from generation.kernels.harvest import harvest
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats, Reason

GENERIC = Reason("codegen", "GenericKernelError")


def definitions(path: Path) -> tuple[int, int]:
    """(top-level, nested) ``@wp.kernel`` definitions in the ``.py`` files under ``path``."""
    top = nested = 0
    for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        level = sum(1 for node in tree.body if is_kernel(node))
        top += level
        nested += sum(1 for node in ast.walk(tree) if is_kernel(node)) - level
    return top, nested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    args = parser.parse_args()
    print("| path | top-level | nested | generic | bundled | rows | rows / top-level non-generic | skips |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for path in args.paths:
        top, nested = definitions(path)
        harvested = harvest((str(path),))
        stats = BuildStats()
        kernels = [PlannedKernel(k, spec) for k, spec in enumerate(harvested.specs)]
        rows = list(build_rows(kernels, args.device, BuildOptions(), stats))
        bundled = sum("files" in json.loads(row["metadata"]["recipe"]) for row in rows)
        generic = stats.skipped[GENERIC]
        skips = Counter(f"harvest:{failure.kind}" for failure in harvested.skipped)
        skips.update({str(reason): n for reason, n in stats.skipped.items() if reason != GENERIC})
        target = len(rows) / max(1, top - generic)
        text = ", ".join(f"{reason} {n}" for reason, n in sorted(skips.items())) or "-"
        print(f"| {path.name} | {top} | {nested} | {generic} | {bundled} | {len(rows)} | {target:.0%} | {text} |")


if __name__ == "__main__":
    main()
