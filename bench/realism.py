"""How generated kernels are shaped next to the kernels Warp ships (issue 14's table).

Per corpus: kernels, the share with a builtin applied to its own result (``wp.atan(wp.atan(x))``),
the p90 expression depth of statements, the share of statements indexing an array argument with
something other than the thread index, and the share of kernels with a loop. Warp's examples and
tests are parsed, never imported.

    python bench/realism.py [--kernels 3000] [--seed 11] [--by-category]
"""

from __future__ import annotations

import argparse

from generation.generated.generator import CATEGORIES, draw_round, generate
from generation.measure.realism import realism, shapes
from generation.measure.reference import warp_kernel_files


def _warp_trees(folder: str) -> list:
    return [tree for name, tree in warp_kernel_files() if name == folder]


def _row(name: str, sources) -> str:
    r = realism(shapes(sources))
    return f"| {name} | {r.kernels} | {r.self_nesting:.1%} | {r.p90_depth:g} | {r.indirect:.1%} | {r.loops:.1%} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernels", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--by-category", action="store_true", help="a row per generated category too")
    args = parser.parse_args()

    rounds = draw_round(CATEGORIES)
    generated = [generate(rounds[k % len(rounds)], args.seed, k).python_source for k in range(args.kernels)]
    print(
        "| corpus | kernels | self-nesting f(f(x)) | p90 expression depth "
        "| statements indexing an array with other than the tid | kernels with a loop |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(_row(f"generated, default mix (seed {args.seed})", generated))
    if args.by_category:
        for category in CATEGORIES:
            print(
                _row(
                    f"generated `{category}`",
                    [s for k, s in enumerate(generated) if rounds[k % len(rounds)] == category],
                )
            )
    print(_row("Warp's examples", _warp_trees("examples")))
    print(_row("Warp's tests", _warp_trees("tests")))


if __name__ == "__main__":
    main()
