"""Does the compile check find the same failures at a lower optimization level, and how much faster?

For generated and harvested kernels, builds their rows (code generation only), then runs the
compile check at each optimization level and prints ms per kernel and which kernels failed.
This is the evidence behind ``compile_check.CHECK_BUILDS``.

    python bench/compile_levels.py [--rows 200] [--real-rows 300] [--seed 77]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm import tqdm

from generation.backend.compile_check import CheckBuild, compile_errors
from generation.pipeline.build import build_rows
from generation.pipeline.options import CONFIGS, BuildOptions
from generation.pipeline.stats import BuildStats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direct import planned_split  # noqa: E402  (shared with the tests)

# (config, the check's target, the levels compared); None is Warp's own level.
COMPARISONS = [("cpu", "cpu", (None, 0)), ("real_cpu", "cpu", (None, 0)), ("cuda", "ptx", (None, 0))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200, help="generated kernels per config")
    parser.add_argument("--real-rows", type=int, default=300, help="harvested kernels")
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()

    table = []
    for config, target, levels in COMPARISONS:
        source, device = CONFIGS[config].source, CONFIGS[config].device
        options = BuildOptions(num_examples=args.real_rows if source == "real" else args.rows, seed=args.seed)
        kernels = planned_split(options, source=source)
        rows = list(tqdm(build_rows(kernels, device, options, BuildStats()), total=len(kernels), desc=config))
        compile_errors(rows[:1], device, options.arch)  # warm-up: Warp's precompiled header
        failures = {}
        for level in levels:
            start = time.perf_counter()
            errors = compile_errors(rows, device, options.arch, CheckBuild(target, level))
            ms = 1000 * (time.perf_counter() - start) / len(rows)
            failures[level] = {row["kernel_name"] for row, error in zip(rows, errors, strict=True) if error}
            table.append((config, target, level, len(rows), len(failures[level]), ms))
        baseline = failures[levels[0]]
        differing = sorted(set().union(*failures.values()) - baseline.intersection(*failures.values()))
        print(f"{config}: kernels whose result depends on the level: {differing or 'none'}")
    print("\n| config | compiler | optimization level | kernels | failed | ms per kernel |")
    print("|---|---|---|---:|---:|---:|")
    for config, target, level, n, failed, ms in table:
        level_name = "Warp's default" if level is None else str(level)
        print(f"| {config} | {'Clang' if target == 'cpu' else 'NVRTC'} | {level_name} | {n} | {failed} | {ms:.0f} |")


if __name__ == "__main__":
    main()
