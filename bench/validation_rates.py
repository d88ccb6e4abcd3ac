"""Pass rates of the compile and run checks, for generated and harvested kernels.

Builds the rows of each (config, validate, categories) check exactly as a build's shard would and
prints how many requested rows passed, with the skips by reason and the time taken. ``--families``
measures the families of the vocabulary issue (tile, integer, random, query) on their own, evenly.

    python bench/validation_rates.py [--rows 330] [--real-rows 300] [--family-rows 300] [--seed 77]
    python bench/validation_rates.py --idioms --family-rows 300
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from generation.pipeline.build import build_rows
from generation.pipeline.options import CONFIGS, BuildOptions
from generation.pipeline.stats import BuildStats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direct import planned_split  # noqa: E402  (shared with the tests)

FAMILIES = ("tile", "integer", "random", "query")
IDIOMS = ("stencil", "gather", "scatter", "segment", "integrate", "assemble")
# (config, validate, categories: None for the default mix)
CHECKS = [
    ("cpu", "run", None),
    ("cuda", "compile", None),
    ("real_cpu", "compile", None),
    ("real_cuda", "compile", None),
]
FAMILY_CHECKS = [("cpu", "compile", FAMILIES), ("cuda", "compile", FAMILIES), ("cpu", "run", FAMILIES)]
IDIOM_CHECKS = [("cpu", "run", IDIOMS), ("cuda", "compile", IDIOMS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=330, help="generated rows per check")
    parser.add_argument("--real-rows", type=int, default=300, help="harvested rows per check")
    parser.add_argument("--family-rows", type=int, default=300, help="rows of the new families per check (0: skip)")
    parser.add_argument("--only-families", action="store_true", help="measure the new families alone")
    parser.add_argument("--idioms", action="store_true", help="measure the idiom categories alone (--family-rows)")
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()

    checks = ([] if args.only_families else CHECKS) + (FAMILY_CHECKS if args.family_rows else [])
    checks = IDIOM_CHECKS if args.idioms else checks
    print("| config | validate | kernels | rows passed | requested | pass rate | skipped by reason | seconds |")
    print("|---|---|---|---:|---:|---:|---|---:|")
    for config, validate, categories in checks:
        source = CONFIGS[config].source
        rows = args.real_rows if source == "real" else args.family_rows if categories else args.rows
        fields = {"categories": categories} if categories else {}
        sizes = {"num_examples": rows, "num_validation": 0, "num_test": 0}
        options = BuildOptions(**sizes, seed=args.seed, validate=validate, **fields)
        kernels = planned_split(options, source=source)
        stats = BuildStats(requested=len(kernels))
        start = time.perf_counter()
        for _ in build_rows(kernels, CONFIGS[config].device, options, stats):
            pass
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(stats.skipped.items())) or "-"
        what = "+".join(categories) if categories else ("harvested" if source == "real" else "default mix")
        print(
            f"| {config} | {validate} | {what} | {stats.rows} | {stats.requested} | {stats.rows / stats.requested:.1%} "
            f"| {reasons} | {time.perf_counter() - start:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
