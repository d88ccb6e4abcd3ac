"""Breadth of the generator (issue 4): uniqueness, feature coverage, lengths, and rows/s.

Draws N kernels exactly as a build plans them (round-robin over the categories, one seed) and
reports, before planning drops repeats: the share of unique Python sources and of unique
normalized ASTs (identifiers and constants canonicalised); a count per feature; line and
character length percentiles; the size of the CUDA code Warp generates for a sample (a few
huge kernels can hold much of a dataset's bytes and compile time). Then rows/s of the default
codegen path on a sample, next to a bare loop over Warp's code generator on the same kernels
(bench_codegen's baseline (b)).

    python bench/generator_stats.py [--kernels 100000] [--codegen-rows 400] [--code-size-rows 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_codegen import bare_codegen, default_path  # noqa: E402

from generation.backend import warp_api  # noqa: E402
from generation.generated.generator import CATEGORIES, GenerationOptions, draw_round, generate  # noqa: E402
from generation.pipeline.build import build_rows  # noqa: E402
from generation.pipeline.options import BuildOptions  # noqa: E402
from generation.pipeline.plan import PlannedKernel  # noqa: E402
from generation.pipeline.stats import BuildStats  # noqa: E402
from generation.source.features import kernel_features, normalized_ast  # noqa: E402


def percentiles(values: list[int]) -> str:
    q = statistics.quantiles(values, n=100)
    return f"min {min(values)}, p10 {q[9]:.0f}, median {q[49]:.0f}, p90 {q[89]:.0f}, p99 {q[98]:.0f}, max {max(values)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", type=int, default=100_000)
    parser.add_argument("--codegen-rows", type=int, default=400, help="kernels for rows/s")
    parser.add_argument("--code-size-rows", type=int, default=2000, help="kernels for generated code sizes")
    parser.add_argument("--difficulty", default="mixed")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    categories = draw_round(CATEGORIES)  # as a default build draws them
    sources, trees = set(), set()
    features: Counter = Counter()
    per_category: Counter = Counter()
    lines, chars = [], []
    planned = []
    start = time.perf_counter()
    for index in tqdm(range(args.kernels), desc="generate"):
        category = categories[index % len(categories)]
        spec = generate(category, args.seed, index, GenerationOptions(difficulty=args.difficulty))
        sources.add(spec.python_source)
        trees.add(normalized_ast(spec.python_source))
        features.update(kernel_features(spec.python_source))
        per_category[category] += 1
        lines.append(spec.python_source.count("\n"))
        chars.append(len(spec.python_source))
        if len(planned) < max(args.codegen_rows, args.code_size_rows):
            planned.append(PlannedKernel(index, spec))
    generate_rate = args.kernels / (time.perf_counter() - start)

    n = args.kernels
    print(f"\n{n} kernels, seed {args.seed}, difficulty {args.difficulty}, {len(CATEGORIES)} categories")
    print(f"generator alone (with feature and AST analysis): {generate_rate:.0f} kernels/s")
    print("\n| measure | unique | share |\n|---|---:|---:|")
    print(f"| python_source | {len(sources)} | {len(sources) / n:.2%} |")
    print(f"| normalized AST | {len(trees)} | {len(trees) / n:.2%} |")
    print("\n| feature | kernels | share |\n|---|---:|---:|")
    for name, count in sorted(features.items()):
        print(f"| {name} | {count} | {count / n:.1%} |")
    print(f"\npython_source lines: {percentiles(lines)}")
    print(f"python_source characters: {percentiles(chars)}")

    warp_api.init_warp()
    options = BuildOptions(num_examples=len(planned), seed=args.seed)
    if args.code_size_rows:
        sample = planned[: args.code_size_rows]
        rows = build_rows(sample, "cuda", options, BuildStats())
        sizes = sorted(len(row["forward"]) + len(row["backward"]) for row in rows)
        top = sum(sizes[len(sizes) - max(1, len(sizes) // 100) :])
        print(f"\ngenerated CUDA characters (forward + backward) of {len(sizes)} rows: {percentiles(sizes)}")
        print(f"all {sum(sizes) / 1e6:.1f} MB, of which the largest 1% of rows hold {top / sum(sizes):.0%}")
    planned = planned[: args.codegen_rows]
    if not planned:
        return
    print(f"\n| device | default rows/s | bare codegen rows/s | ratio | ({len(planned)} kernels, best of 2) |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for device in ("cpu", "cuda"):
            default_path(planned[:10], device, options, desc="warm-up")
            default = max(default_path(planned, device, options) for _ in range(2))
            bare = max(bare_codegen(planned, device, Path(tmp) / f"{device}_{k}") for k in range(2))
            print(f"| {device} | {default:.1f} | {bare:.1f} | {default / bare:.2f}x | |")


if __name__ == "__main__":
    main()
