"""What planning made is read back where rows are built, instead of being generated a second time;
a block that was not kept, or is damaged, is generated again, and the rows are the same either way."""

from __future__ import annotations

import dataclasses

from conftest import rows_digest

from generation.pipeline.build import build_groups
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import SPLITS, KeptKernels, plan_splits
from generation.pipeline.plan.generated import BLOCK_SIZE, kernel_at
from generation.pipeline.stats import BuildStats
from generation.source.features import kernel_features

SIZES = {"num_examples": 48, "num_validation": 4, "num_test": 4, "seed": 6}


def planned_indices(plan) -> list[int]:
    return [i for split in SPLITS for group in plan.groups(split) for i in group.items + group.reserve]


def built(plan, options, kept=None) -> dict[str, list]:
    return {split: list(build_groups(plan.groups(split), "cpu", options, BuildStats(), kept)) for split in SPLITS}


def test_kept_kernels_are_the_kernels_a_build_would_generate(tmp_path):
    for options in (BuildOptions(**SIZES), BuildOptions(**SIZES, max_forward_chars=4000)):  # a cap steers draws
        kept = KeptKernels(tmp_path / str(options.max_forward_chars))
        plan = plan_splits(options, "cpu", kept=kept)
        indices = planned_indices(plan)
        assert indices and all(kept.get(i).spec == kernel_at(options, "cpu", i) for i in indices)
        # and the features the scan read from its parse are those a row reads from the source
        assert all(list(kept.get(i).features) == kernel_features(kept.get(i).spec.python_source) for i in indices)


def test_rows_read_back_are_the_rows_generated_again(tmp_path):
    options = BuildOptions(**SIZES)
    kept = KeptKernels(tmp_path / "kernels")
    plan = plan_splits(options, "cpu", kept=kept)
    again = built(plan, options)
    assert rows_digest(built(plan, options, kept)) == rows_digest(again)
    # A damaged block and a missing one are generated again: the same rows.
    blocks = sorted(kept.folder.glob("*.kernels"))
    blocks[0].write_bytes(blocks[0].read_bytes()[:100])
    for block in blocks[1:]:
        block.unlink()
    assert rows_digest(built(plan, options, KeptKernels(kept.folder))) == rows_digest(again)


def test_the_build_reads_what_the_scan_kept(tmp_path):
    """A kept kernel, changed on disk, is what the row holds: the build reads it rather than generating."""
    options = BuildOptions(**SIZES)
    kept = KeptKernels(tmp_path / "kernels")
    plan = plan_splits(options, "cpu", kept=kept)
    first = plan.groups("train")[0].items[0]
    block = first // BLOCK_SIZE
    kernels = [kept.get(block * BLOCK_SIZE + offset) for offset in range(BLOCK_SIZE)]
    changed = dataclasses.replace(kernels[first % BLOCK_SIZE].spec, description="read back")
    kernels[first % BLOCK_SIZE] = dataclasses.replace(kernels[first % BLOCK_SIZE], spec=changed)
    kept.put(block, kernels)
    rows = built(plan, options, KeptKernels(kept.folder))["train"]
    assert rows[0]["description"] == "read back"
