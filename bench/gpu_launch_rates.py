"""Launch pass rates on a GPU: a sample of each category's ``cuda`` rows, run on ``cuda:0``.

Builds each category's rows exactly as a ``cuda`` build's shard would, then launches every kernel
on the GPU with seeded inputs (``run_kernel``, release mode) and requires finite outputs. Prints
one row per category and the total. Needs a CUDA device; without one it says so and exits 2.

All launches share one CUDA context: a kernel that faults (an illegal address) fails every launch
after it, so only kernels whose inputs the run check can make are measured here (generated ones;
harvested kernels may take mesh or volume handles that a seeded integer cannot stand for).

    python bench/gpu_launch_rates.py [--rows 20] [--seed 4] [--categories tile,query] [--jobs 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path

from generation.backend import warp_api
from generation.generated.generator import CATEGORIES
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.stats import BuildStats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direct import planned_split, run_kernel  # noqa: E402  (shared with the tests)

DEVICE = "cuda:0"


def launch_all(rows: list[dict], seed: int) -> tuple[Counter, list[str]]:
    """Launch each row's kernel on the GPU; count passes and failures by error type, and name the failures."""
    outcome: Counter = Counter()
    failures = []
    for row in rows:
        try:
            run_kernel(row["python_source"], row["kernel_name"], seed, device=DEVICE)
            outcome["passed"] += 1
        except Exception as error:  # counted and named, so one report covers every kernel
            outcome[type(error).__name__] += 1
            failures.append(f"  {row['category']}/{row['kernel_name']}: {type(error).__name__}: {str(error)[:200]}")
    return outcome, failures


def measure_category(name: str, rows_wanted: int, seed: int) -> tuple[str, int, Counter, float, list[str]]:
    """Build one category's rows as a ``cuda`` build would, then launch them (one process a category)."""
    warp_api.init_warp()
    options = BuildOptions(num_examples=rows_wanted, num_validation=0, num_test=0, seed=seed, categories=(name,))
    rows = list(build_rows(planned_split(options), "cuda", options, BuildStats()))
    start = time.perf_counter()
    outcome, failures = launch_all(rows, seed)
    return name, len(rows), outcome, time.perf_counter() - start, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20, help="generated rows per category")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--categories", default=",".join(CATEGORIES), help="comma-separated (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="categories measured at once, each in its own process")
    args = parser.parse_args()

    warp_api.init_warp()
    import warp as wp

    if not wp.is_cuda_available():
        print("no CUDA device: this measurement needs a GPU", file=sys.stderr)
        return 2
    print(f"device: {wp.get_device(DEVICE).name}, warp {warp_api.warp_version()}")
    names = args.categories.split(",")
    jobs = [(name, args.rows, args.seed) for name in names]
    if args.jobs > 1:  # each category in its own process (and CUDA context): compiling dominates
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            table = pool.starmap(measure_category, jobs)
    else:
        table = [measure_category(*job) for job in jobs]
    for line in (line for *_, failures in table for line in failures):
        print(line)
    print("\n| category | rows launched | passed | pass rate | failures by type | seconds |")
    print("|---|---:|---:|---:|---|---:|")
    for name, count, outcome, seconds, _ in table:
        failures = ", ".join(f"{kind}: {n}" for kind, n in sorted(outcome.items()) if kind != "passed") or "-"
        rate = outcome["passed"] / count if count else 0.0
        print(f"| {name} | {count} | {outcome['passed']} | {rate:.1%} | {failures} | {seconds:.1f} |")
    total = sum(count for _, count, *_ in table)
    passed = sum(outcome["passed"] for _, _, outcome, *_ in table)
    print(f"| all | {total} | {passed} | {passed / max(total, 1):.1%} | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
