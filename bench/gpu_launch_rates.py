"""Launch pass rates on a GPU: a sample of each category's ``cuda`` rows, run on ``cuda:0``.

Builds each category's rows exactly as a ``cuda`` build's shard would, then launches every kernel
on the GPU with seeded inputs (``run_kernel``, release mode) and requires finite outputs. Prints
one row per category and the total. Needs a CUDA device; without one it says so and exits 2.

All launches share one CUDA context: a kernel that faults (an illegal address) fails every launch
after it, so only kernels whose inputs the run check can make are measured here (generated ones;
harvested kernels may take mesh or volume handles that a seeded integer cannot stand for).

    python bench/gpu_launch_rates.py [--rows 20] [--seed 4] [--categories tile,query]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from generation.backend import warp_api
from generation.backend.run_check import run_kernel
from generation.kernels.generator import CATEGORIES
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import planned_split
from generation.pipeline.stats import BuildStats

DEVICE = "cuda:0"


def launch_all(rows: list[dict], seed: int) -> Counter:
    """Launch each row's kernel on the GPU; count passes and failures by error type."""
    outcome: Counter = Counter()
    for row in rows:
        try:
            run_kernel(row["python_source"], row["kernel_name"], seed, device=DEVICE)
            outcome["passed"] += 1
        except Exception as error:  # counted and named, so one report covers every kernel
            outcome[type(error).__name__] += 1
            print(f"  {row['category']}/{row['kernel_name']}: {type(error).__name__}: {str(error)[:200]}")
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20, help="generated rows per category")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--categories", default=",".join(CATEGORIES), help="comma-separated (default: all)")
    args = parser.parse_args()

    warp_api.init_warp()
    import warp as wp

    if not wp.is_cuda_available():
        print("no CUDA device: this measurement needs a GPU", file=sys.stderr)
        return 2
    print(f"device: {wp.get_device(DEVICE).name}, warp {warp_api.warp_version()}")
    table = []
    for name in args.categories.split(","):
        options = BuildOptions(num_examples=args.rows, num_validation=0, num_test=0, seed=args.seed, categories=(name,))
        kernels = planned_split(options)
        stats = BuildStats()
        rows = list(build_rows(kernels, "cuda", options, stats))
        start = time.perf_counter()
        outcome = launch_all(rows, args.seed)
        table.append((name, len(rows), outcome, time.perf_counter() - start))
    print("\n| category | rows launched | passed | pass rate | failures by type | seconds |")
    print("|---|---:|---:|---:|---|---:|")
    for name, count, outcome, seconds in table:
        failures = ", ".join(f"{kind}: {n}" for kind, n in sorted(outcome.items()) if kind != "passed") or "-"
        rate = outcome["passed"] / count if count else 0.0
        print(f"| {name} | {count} | {outcome['passed']} | {rate:.1%} | {failures} | {seconds:.1f} |")
    total = sum(count for _, count, _, _ in table)
    passed = sum(outcome["passed"] for _, _, outcome, _ in table)
    print(f"| all | {total} | {passed} | {passed / max(total, 1):.1%} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
