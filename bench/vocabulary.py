"""Builtin coverage of generated kernels against the builtins Warp's own kernels call.

The reference is every ``wp.NAME(...)`` call inside the ``@wp.kernel`` and ``@wp.func`` bodies of
the examples and tests that ship with Warp, parsed and never imported, keeping only names in
Warp's builtin table and dropping the test-only ``expect_*`` and ``printf``. Prints the weighted
coverage (the share of those calls whose builtin the generator emits), the distinct builtins the
generator emits, and the most-called builtins it still misses.

    python bench/vocabulary.py [--kernels 3000] [--seed 11] [--missing 30]
"""

from __future__ import annotations

import argparse
from collections import Counter

from tqdm import tqdm

from generation.backend import warp_api
from generation.generated.generator import CATEGORIES, draw_round, generate
from generation.measure.vocabulary import calls_in, coverage, reference_calls


def generated_calls(kernels: int, seed: int, builtins: set[str]) -> Counter:
    """Builtin calls in ``kernels`` generated kernels, drawn as a default build draws them."""
    rounds = draw_round(CATEGORIES)
    sources = (generate(rounds[k % len(rounds)], seed, k).python_source for k in range(kernels))
    return calls_in(tqdm(sources, total=kernels, desc="generate", disable=kernels < 2000), builtins)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--missing", type=int, default=30, help="how many missing builtins to list")
    args = parser.parse_args()

    builtins = warp_api.builtin_names()
    reference = reference_calls(builtins)
    generated = generated_calls(args.kernels, args.seed, builtins)
    emitted = set(generated)
    print(f"\nWarp {warp_api.warp_version()}: {len(builtins)} builtins in the table")
    print(f"reference: {sum(reference.values())} calls of {len(reference)} builtins in Warp's examples and tests")
    print(f"generated: {args.kernels} kernels (seed {args.seed}, default mix) emit {len(emitted)} builtins")
    print(f"\n| measure | value |\n|---|---:|\n| weighted coverage | {coverage(reference, emitted):.3f} |")
    print(f"| distinct builtins emitted | {len(emitted)} |")
    print(f"| of them called in Warp's kernels | {len(emitted & set(reference))} |")
    missing = [(name, n) for name, n in reference.most_common() if name not in emitted]
    print(f"\nthe {args.missing} most-called builtins never emitted:\n")
    print("| builtin | calls in Warp's kernels |\n|---|---:|")
    for name, n in missing[: args.missing]:
        print(f"| `{name}` | {n} |")


if __name__ == "__main__":
    main()
