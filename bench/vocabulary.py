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
import ast
from collections import Counter

from tqdm import tqdm

from generation.backend import warp_api
from generation.kernels.features import warp_calls
from generation.kernels.generator import CATEGORIES, draw_round, generate
from generation.kernels.harvest import source_files


def is_counted(name: str, builtins: set[str]) -> bool:
    return name in builtins and not name.startswith("expect_") and name != "printf"


def reference_calls(builtins: set[str]) -> Counter:
    """Builtin calls in the kernels Warp ships (examples and tests)."""
    calls: Counter = Counter()
    for _, path in source_files():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        calls.update({k: v for k, v in warp_calls(tree).items() if is_counted(k, builtins)})
    return calls


def generated_calls(kernels: int, seed: int, builtins: set[str]) -> Counter:
    """Builtin calls in ``kernels`` generated kernels, drawn as a default build draws them."""
    calls: Counter = Counter()
    rounds = draw_round(CATEGORIES)
    for index in tqdm(range(kernels), desc="generate", disable=kernels < 2000):
        spec = generate(rounds[index % len(rounds)], seed, index)
        calls.update({k: v for k, v in warp_calls(ast.parse(spec.python_source)).items() if is_counted(k, builtins)})
    return calls


def coverage(reference: Counter, emitted: set[str]) -> float:
    return sum(n for name, n in reference.items() if name in emitted) / sum(reference.values())


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
