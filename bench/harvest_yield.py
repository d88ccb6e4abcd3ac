"""What harvesting real Warp packages yields, per path, in static mode (files parsed, never
imported; imports inside the given paths bundled, ``generation/real/bundle.py``) and in import
mode (the package imported in a child process, every kernel Warp then knows written out,
``generation/real/importer.py``; the package's dependencies must be importable).

For each path, harvested alone as ``paths=[PATH]`` would: kernel definitions (top-level and
nested in functions or classes), skips by reason, and rows (code made for ``--device``).
- static: generic kernels (Warp needs concrete overloads), kernels bundled across files; the
  target is the share of top-level, non-generic kernels that became rows;
- import: kernels written out (factory products and overloads each count), the seconds the
  import and writing out took; the target is the share of definitions (top-level or nested)
  that gave at least one row.

    python bench/harvest_yield.py PATH [PATH ...] [--device cuda] [--mode static|import]
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from collections import Counter
from pathlib import Path

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats, Reason
from generation.real.harvest import HARVEST_MODES, HarvestOptions, harvest
from generation.source.features import is_kernel

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


def rows_of(path: Path, mode: str, device: str) -> tuple[list[dict], Counter, BuildStats, float]:
    """The rows of one path harvested alone, the skips by reason, the codegen stats, and the
    seconds the harvest took."""
    started = time.monotonic()
    harvested = harvest(HarvestOptions((str(path),), mode=mode))
    seconds = time.monotonic() - started
    stats = BuildStats()
    kernels = [PlannedKernel(k, spec) for k, spec in enumerate(harvested.specs)]
    rows = list(build_rows(kernels, device, BuildOptions(), stats))
    skips = Counter(f"harvest:{failure.kind}" for failure in harvested.skipped)
    skips.update({str(reason): n for reason, n in stats.skipped.items()})
    return rows, skips, stats, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--mode", default="static", choices=HARVEST_MODES)
    args = parser.parse_args()
    if args.mode == "static":
        print("| path | top-level | nested | generic | bundled | rows | rows / top-level non-generic | skips |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
    else:
        print("| path | definitions | kernels written out | rows | definitions with a row | share | import s | skips |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
    for path in args.paths:
        top, nested = definitions(path)
        rows, skips, stats, seconds = rows_of(path, args.mode, args.device)
        if args.mode == "static":
            bundled = sum("files" in json.loads(row["metadata"]["recipe"]) for row in rows)
            generic = skips.pop(str(GENERIC), 0)
            target = len(rows) / max(1, top - generic)
            cells = [top, nested, generic, bundled, len(rows), f"{target:.0%}"]
        else:
            recipes = [json.loads(row["metadata"]["recipe"]) for row in rows]
            given = len({(recipe["origin"], recipe["line"]) for recipe in recipes})
            written = len(rows) + sum(stats.skipped.values())
            share = given / max(1, top + nested)
            cells = [top + nested, written, len(rows), given, f"{share:.0%}", f"{seconds:.0f}"]
        text = ", ".join(f"{reason} {n}" for reason, n in sorted(skips.items())) or "-"
        print(f"| {path.name} | {' | '.join(str(cell) for cell in cells)} | {text} |", flush=True)


if __name__ == "__main__":
    main()
