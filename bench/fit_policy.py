"""Fit the generator's choice table to real Warp code, and write it where the generator reads it.

The reference corpus is Warp's own examples and tests plus the application packages of
``corpus.txt`` (each read from its wheel, parsed and never imported); nothing used to check the
generator's result. The table (``generation/generated/fitted.json``, checked in) holds, per
corpus, the share of kernels with each shape (``generation/measure/shapes.py`` defines them), and
the odds the generator draws with:

- ``shares``: each shape's share, the corpora averaged with one vote each (one codebase, one
  vote: Warp's 2,471 tests would otherwise outvote five applications);
- ``dims``: launch dimensions, averaged the same way;
- ``helpers``: the share of ``@wp.func`` helpers that branch, return early and loop;
- ``kinds``: statement kinds, their shares over all statements of the averaged corpora;
- ``subscript_arrays``: the share of kernels annotating arrays as ``wp.array[T]``, over all
  kernels (the corpus's proportion of the two forms, which a Warp release changes);
- ``calls``: how often each ``wp.`` builtin is called, over all kernels.

Refit after a Warp release, or for another corpus (a requirements file of pinned packages):

    python bench/fit_policy.py [--packages-file corpus.txt] [--out generation/generated/fitted.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from generation.generated.policy import FITTED_TABLE
from generation.measure.corpus import CORPUS_FILE, Source, corpus_packages, reference_sources
from generation.measure.shapes import SHAPES, Tally

KINDS = ("assign", "augassign", "if", "for", "while", "return", "call")


def _mean(values) -> float:
    return round(statistics.fmean(values), 4)


def fit(sources: dict[str, Source], packages: list[str]) -> dict:
    tallies = {name: Tally().add(source.kernels) for name, source in sources.items()}
    every = Tally()
    for source in sources.values():
        every.add(source.kernels)
    dims = {d: _mean(t.dims[d] / t.kernels for t in tallies.values()) for d in (1, 2, 3)}
    kinds = {k: _mean(t.kinds[k] / max(sum(t.kinds.values()), 1) for t in tallies.values()) for k in KINDS}
    helpers = [h for source in sources.values() for h in source.helpers]
    return {
        "fitted_from": {"warp-lang": version("warp-lang"), "packages": packages},
        "reference": {
            name: {"kernels": t.kernels, "shares": {s: round(v, 4) for s, v in t.shares().items()}}
            for name, t in tallies.items()
        },
        "shares": {shape: _mean(t.shares()[shape] for t in tallies.values()) for shape in SHAPES},
        "dims": {str(d): share for d, share in dims.items()},
        "helpers": {
            "count": len(helpers),
            "if": round(sum(h.has_if for h in helpers) / max(len(helpers), 1), 4),
            "early_return": round(sum(h.early_return for h in helpers) / max(len(helpers), 1), 4),
            "for": round(sum(h.has_for for h in helpers) / max(len(helpers), 1), 4),
        },
        "kinds": kinds,
        "subscript_arrays": round(every.shapes["array_subscript"] / max(every.kernels, 1), 4),
        # most called first, ties by name: the file does not depend on the order a walk meets calls in
        "calls": dict(sorted(Counter(every.calls).items(), key=lambda item: (-item[1], item[0]))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages-file", default=str(CORPUS_FILE), help="pinned packages to fit to, besides Warp's")
    parser.add_argument("--out", default=str(FITTED_TABLE))
    args = parser.parse_args()

    packages = corpus_packages(Path(args.packages_file))
    table = fit(reference_sources(packages), packages)
    Path(args.out).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print("| shape | " + " | ".join(table["reference"]) + " | fitted (one vote each) |")
    print("|---|" + "---:|" * (len(table["reference"]) + 1))
    print("| kernels | " + " | ".join(str(c["kernels"]) for c in table["reference"].values()) + " | |")
    for shape in SHAPES:
        cells = " | ".join(f"{c['shares'][shape]:.0%}" for c in table["reference"].values())
        print(f"| {shape} | {cells} | {table['shares'][shape]:.0%} |")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
