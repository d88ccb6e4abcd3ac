"""Splits that need no global state: a kernel's structure picks its split, so configs, sizes and
worker counts all agree, and planning keeps a digest per draw, never the kernels."""

from __future__ import annotations

import multiprocessing

from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import SPLITS, plan_splits
from generation.pipeline.plan.generated import kernel_at, pooled_scan, split_of, structure_digest
from generation.source.features import normalized_ast, structure_key


def test_every_row_sits_in_the_split_its_structure_picks(builds):
    """In every config: the split follows from the row's python_source alone."""
    for dataset_dict in builds.values():
        for split, dataset in dataset_dict.items():
            for row in dataset:
                assert split_of(structure_digest(row["python_source"])) == split, row["kernel_name"]


def test_configs_agree_on_held_out_kernels(builds):
    """No kernel held out in one config is trained on in another (the issue's cpu/cuda contamination)."""
    structures = {
        (config, split): {normalized_ast(row["python_source"]) for row in dataset_dict[split]}
        for config, dataset_dict in builds.items()
        for split in dataset_dict
    }
    for held_out in ("validation", "test"):
        assert structures[("cpu", held_out)] == structures[("cuda", held_out)]
        assert not structures[("cpu", held_out)] & structures[("cuda", "train")]
        assert not structures[("cuda", held_out)] & structures[("cpu", "train")]


def test_a_bigger_build_extends_every_split_of_a_smaller_one():
    small = plan_splits(BuildOptions(num_examples=150, seed=5), "cpu")
    big = plan_splits(BuildOptions(num_examples=600, seed=5), "cpu")
    for split in SPLITS:
        assert len(small.items[split]) == small.stats[split].requested > 0
        assert big.items[split][: len(small.items[split])] == small.items[split], split
    assert [len(big.items[s]) for s in SPLITS] == [600, 30, 30]


def test_repeats_drop_out_and_the_lowest_draw_wins():
    """A narrow filter repeats structures: each split keeps the first draw of each, in draw order."""
    options = BuildOptions(
        num_examples=60, categories=("arithmetic",), difficulty="easy", max_depth=1, max_statements=0
    )
    plan = plan_splits(options, "cpu")
    first_draw: dict[int, int] = {}
    for index in range(plan.draws):
        first_draw.setdefault(structure_digest(kernel_at(options, "cpu", index).python_source), index)
    for split in SPLITS:
        items = plan.items[split]
        assert items == sorted(items)
        assert all(first_draw[structure_digest(kernel_at(options, "cpu", i).python_source)] == i for i in items)
    assert len(first_draw) < plan.draws, "the filter should repeat some structures"


def test_parallel_planning_gives_the_serial_plan():
    options = BuildOptions(num_examples=300, seed=2)
    serial = plan_splits(options, "cpu")
    with multiprocessing.Pool(2) as pool:
        pooled = plan_splits(options, "cpu", scan=pooled_scan(options, "cpu", pool, ahead=3))
    assert pooled.items == serial.items and pooled.draws == serial.draws


def test_structure_keys_group_kernels_exactly_as_normalized_trees_do(warp_harvest):
    """The fast key planning uses and the readable normalized tree are the same equivalence, on
    generated kernels (repeats included) and on Warp's own, more varied ones."""
    options = BuildOptions(categories=("arithmetic",), difficulty="easy", max_depth=1, max_statements=0)
    sources = [kernel_at(options, "cpu", index).python_source for index in range(300)]
    sources += [spec.python_source for spec in warp_harvest.specs]

    def classes(key) -> list[int]:
        ids: dict = {}
        return [ids.setdefault(key(source), len(ids)) for source in sources]

    assert classes(structure_key) == classes(normalized_ast)
    assert len(set(classes(normalized_ast))) < len(sources)  # some repeat: the check can tell
