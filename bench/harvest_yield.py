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

- import (and run: the same, after the package's tests or examples ran in the child), over the
  kernels that exist after the import: concrete kernels Warp knows (written
  out, or skipped as a value a row cannot hold), generic kernels with no overload left out (their
  types come from a launch); the target is the share of those that became rows.

Packages by requirement (downloaded into the cache once, ``generation/real/packages.py``) are
measured like paths, each alone:

    python bench/harvest_yield.py [PATH ...] [--packages REQ ...] [--packages-file FILE]
                                  [--device cuda] [--mode static|import|run]
                                  [--run-command "pytest -q tests"] [--run-timeout SECONDS]
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
from generation.real.packages import PipSource, fetch_package, read_requirements_file
from generation.source.features import is_kernel

GENERIC = Reason("codegen", "GenericKernelError")  # import mode: a generic kernel no overload was made of
GENERIC_AT_HARVEST = "harvest:GenericKernelError"  # static mode counts them before the plan


def definitions(paths: list[Path]) -> tuple[int, int]:
    """(top-level, nested) ``@wp.kernel`` definitions in the ``.py`` files under ``paths``."""
    top = nested = 0
    files = [file for path in paths for file in ([path] if path.is_file() else sorted(path.rglob("*.py")))]
    for file in files:
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        level = sum(1 for node in tree.body if is_kernel(node))
        top += level
        nested += sum(1 for node in ast.walk(tree) if is_kernel(node)) - level
    return top, nested


def rows_of(options: HarvestOptions, device: str) -> tuple[list[dict], Counter, BuildStats, float]:
    """The rows of one path or package harvested alone, the skips by reason, the codegen stats,
    and the seconds the harvest took."""
    started = time.monotonic()
    harvested = harvest(options)
    seconds = time.monotonic() - started
    stats = BuildStats()
    kernels = [PlannedKernel(k, spec) for k, spec in enumerate(harvested.specs)]
    rows = list(build_rows(kernels, device, BuildOptions(), stats))
    skips = Counter(f"harvest:{failure.kind}" for failure in harvested.skipped)
    skips.update({str(reason): n for reason, n in stats.skipped.items()})
    return rows, skips, stats, seconds


# Skips of kernels that existed after an import but could not be written out or built.
NOT_WRITTEN = ("harvest:closure_value", "harvest:needs_package")


def targets(args) -> list[tuple[str, list[Path], HarvestOptions]]:
    """(name, folders to count definitions in, harvest options) for each path and package."""
    mode = {"mode": args.mode, "run_command": args.run_command, "run_timeout": args.run_timeout}
    if args.together and args.paths:  # one harvest of every path: a package with the tests that use it
        name = " + ".join(path.name for path in args.paths)
        found = [(name, list(args.paths), HarvestOptions(tuple(map(str, args.paths)), **mode))]
    else:
        found = [(path.name, [path], HarvestOptions((str(path),), **mode)) for path in args.paths]
    requirements = list(args.packages)
    pip = PipSource()
    if args.packages_file:
        read = read_requirements_file(args.packages_file)
        requirements += read.requirements
        pip = PipSource(tuple(read.find_links), read.index_url)
    for requirement in requirements:
        package = fetch_package(requirement, pip)
        name = f"{package.provenance.name} {package.provenance.version}"
        found.append((name, list(package.roots), HarvestOptions(packages=(requirement,), pip=pip, **mode)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--packages", nargs="+", default=[], metavar="REQUIREMENT")
    parser.add_argument("--packages-file", type=Path)
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--mode", default="static", choices=HARVEST_MODES)
    parser.add_argument("--run-command", help="run mode: pytest ARGS or python FILE ARGS, paths relative to here")
    parser.add_argument("--run-timeout", type=float, default=600)
    parser.add_argument("--together", action="store_true", help="harvest the paths as one, not each alone")
    args = parser.parse_args()
    if args.mode == "static":
        print(
            "| package or path | top-level | nested | generic | bundled | rows | rows / top-level non-generic | s |",
            end="",
        )
        print(" skips |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    else:
        print(
            "| package or path | definitions | kernels after import | rows | rows / kernels after import "
            "| definitions with a row | share of definitions | import s | skips |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, folders, options in targets(args):
        top, nested = definitions(folders)
        rows, skips, stats, seconds = rows_of(options, args.device)
        if args.mode == "static":
            bundled = sum("files" in json.loads(row["metadata"]["recipe"]) for row in rows)
            generic = skips.pop(str(GENERIC), 0) + skips.pop(GENERIC_AT_HARVEST, 0)
            target = len(rows) / max(1, top - generic)
            cells = [top, nested, generic, bundled, len(rows), f"{target:.0%}", f"{seconds:.0f}"]
        else:
            recipes = [json.loads(row["metadata"]["recipe"]) for row in rows]
            given = len({(recipe["origin"], recipe["line"]) for recipe in recipes})
            exist = len(rows) + sum(n for r, n in stats.skipped.items() if r != GENERIC)
            exist += sum(skips.get(kind, 0) for kind in NOT_WRITTEN)
            share = given / max(1, top + nested)
            cells = [top + nested, exist, len(rows), f"{len(rows) / max(1, exist):.0%}", given, f"{share:.0%}"]
            cells.append(f"{seconds:.0f}")
        text = ", ".join(f"{reason} {n}" for reason, n in sorted(skips.items())) or "-"
        print(f"| {name} | {' | '.join(str(cell) for cell in cells)} | {text} |", flush=True)


if __name__ == "__main__":
    main()
