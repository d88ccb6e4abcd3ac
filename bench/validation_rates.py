"""Pass rates of the compile and run checks (issue 3), for generated and harvested kernels.

Builds the rows of each (config, validate) pair exactly as a build's shard would and prints how
many requested rows passed, with the skips by reason and the time taken.

    python bench/validation_rates.py [--rows 330] [--real-rows 300] [--seed 77]
"""

from __future__ import annotations

import argparse
import time

from generation.pipeline.build import build_rows
from generation.pipeline.options import CONFIGS, BuildOptions
from generation.pipeline.plan import plan_splits
from generation.pipeline.stats import BuildStats

CHECKS = [("cpu", "run"), ("cuda", "compile"), ("real_cpu", "compile"), ("real_cuda", "compile")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=330, help="generated rows per check")
    parser.add_argument("--real-rows", type=int, default=300, help="harvested rows per check")
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()

    print("| config | validate | rows passed | requested | pass rate | skipped by reason | seconds |")
    print("|---|---|---:|---:|---:|---|---:|")
    for config, validate in CHECKS:
        source = CONFIGS[config].source
        rows = args.real_rows if source == "real" else args.rows
        options = BuildOptions(num_examples=rows, seed=args.seed, validate=validate)
        kernels = plan_splits(options, source)[0]["train"]
        stats = BuildStats(requested=len(kernels))
        start = time.perf_counter()
        for _ in build_rows(kernels, CONFIGS[config].device, options, stats):
            pass
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(stats.skipped.items())) or "-"
        print(
            f"| {config} | {validate} | {stats.rows} | {stats.requested} | {stats.rows / stats.requested:.1%} "
            f"| {reasons} | {time.perf_counter() - start:.0f} |"
        )


if __name__ == "__main__":
    main()
