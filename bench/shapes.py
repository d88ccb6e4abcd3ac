"""The share of kernels with each shape: a default build's rows beside the reference corpus (issue 34).

Builds ``--rows`` rows of the ``cpu`` config the way the CLI does (planning, code generation,
validation, Arrow), counts each row's kernel with ``generation/measure/shapes.py``, and prints the
table with the fitted reference shares (``generation/generated/fitted.json``) and the targets.

    python bench/shapes.py [--rows 3000] [--seed 71]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from generation.generated.generator import CATEGORIES
from generation.generated.policy import fitted_table
from generation.measure.corpus import generated_kernels
from generation.measure.shapes import SHAPE_LABELS, SHAPE_TARGETS, SHAPES, Tally, target_words

REPO = Path(__file__).resolve().parents[1]


def built_rows(rows: int, seed: int) -> tuple[list[str], set[str]]:
    """The ``python_source`` of each row of a default ``cpu`` build, through ``load_dataset`` as a
    user builds it, read back from its Arrow files; and the categories the rows have."""
    import datasets

    with tempfile.TemporaryDirectory() as cache:
        built = datasets.load_dataset(
            str(REPO / "warp_ir_pairs.py"), "cpu", trust_remote_code=True, cache_dir=cache, num_examples=rows,
            seed=seed,
        )  # fmt: skip
        sources = [source for split in built.values() for source in split["python_source"]]
        return sources, {category for split in built.values() for category in split["category"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=71)
    args = parser.parse_args()

    sources, categories = built_rows(args.rows, args.seed)
    generated = Tally().add(generated_kernels(sources)).shares()
    table = fitted_table()
    corpora = table.get("reference", {})
    built = f"`cpu`, --num-examples {args.rows}, seed {args.seed}: {len(sources)} rows, every split"
    print(f"| shape | {built} | " + " | ".join(corpora) + " | target |")
    print("|---|" + "---:|" * (len(corpora) + 2))
    for shape in SHAPES:
        low, high = SHAPE_TARGETS.get(shape, (None, None))
        met = "" if low is None else " ✓" if low <= generated[shape] <= high else " ✗"
        cells = " | ".join(f"{c['shares'][shape]:.0%}" for c in corpora.values())
        print(f"| {SHAPE_LABELS[shape]} | {generated[shape]:.0%}{met} | {cells} | {target_words(shape)} |")

    print(f"\ncategories present: {len(categories)} of {len(CATEGORIES)}")


if __name__ == "__main__":
    main()
