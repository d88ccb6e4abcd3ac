"""Length caps: a kernel whose ``forward`` (or ``code``) is over the cap is a counted skip, replaced
in its place by a further distinct draw from its group's reserve, so ``train`` keeps its size and
the rows never depend on the worker or task count."""

from __future__ import annotations

import math
import re

import pytest
from conftest import load, rows_digest

from generation import cli
from generation.hub.publish import load_builds
from generation.pipeline.build import TOO_LONG, build_groups
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import GROUP_SIZE, RESERVE_PER_GROUP, SPLITS, Group, plan_splits
from generation.pipeline.plan.generated import split_of
from generation.pipeline.plan.generated import structure_digest as digest
from generation.pipeline.stats import BuildStats

CAP = 5900  # about the 60th percentile of `cpu` forward lengths: some kernels of every group are over it
SIZES = {"num_examples": 40, "num_validation": 4, "num_test": 4, "seed": 3}


def replaced_in(description: str, split: str) -> tuple[int, int, int]:
    """(rows written, too_long skips, further draws) of a split, from the build's description."""
    line = next(line for line in description.splitlines() if line.startswith(f"{split}: "))
    written = int(re.match(rf"{split}: (\d+) of", line).group(1))
    too_long = re.search(r"codegen:too_long: (\d+)", line)
    further = re.search(r"(\d+) further draws", line)
    return written, int(too_long.group(1)) if too_long else 0, int(further.group(1)) if further else 0


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    cache = tmp_path_factory.mktemp("caps")
    return load("cpu", cache, max_forward_chars=CAP, num_proc=2, **SIZES), load("cpu", cache, **SIZES)


def test_a_capped_build_keeps_its_size_and_counts_what_it_replaced(capped):
    ds, _ = capped
    assert [len(ds[split]) for split in SPLITS] == [40, 4, 4]
    written, too_long, further = replaced_in(ds["train"].info.description, "train")
    assert written == 40 and too_long == further > 0
    for split in SPLITS:
        for row in ds[split]:
            assert len(row["forward"]) <= CAP and row["metadata"]["lengths"]["forward"]["chars"] <= CAP
            assert split_of(digest(row["python_source"])) == split, "a replacement stays in its structure's split"
        assert len({digest(row["python_source"]) for row in ds[split]}) == len(ds[split]), "distinct structures"


def test_a_cap_keeps_every_row_under_it_and_replaces_only_the_others(capped):
    """The rows under the cap are those of the uncapped build, byte for byte and in their places."""
    ds, uncapped = capped
    capped_rows = {row["metadata"]["index"]: row for row in ds["train"]}
    under = [row for row in uncapped["train"] if len(row["forward"]) <= CAP]
    assert under and all(capped_rows[row["metadata"]["index"]] == row for row in under)
    over = {row["metadata"]["index"] for row in uncapped["train"] if len(row["forward"]) > CAP}
    assert over and not over & set(capped_rows)


def test_capped_rows_do_not_depend_on_tasks_or_workers(capped, tmp_path):
    ds, _ = capped
    options = ["--num-examples", "40", "--num-validation", "4", "--num-test", "4", "--seed", "3"]
    options += ["--max-forward-chars", str(CAP)]
    for name, layout in (("one", []), ("three", ["--tasks", "3", "--workers", "2"])):
        assert cli.main(["build", "cpu", "--out", str(tmp_path / name), *options, *layout]) == 0
        built = load_builds(tmp_path / name)["cpu"]
        assert rows_digest(built) == rows_digest(ds), name


def test_a_cap_no_reserve_can_meet_is_counted_not_lost():
    """Every kernel over the cap: each group builds its kernels and its whole reserve, and all are counted."""
    options = BuildOptions(num_examples=20, num_validation=0, num_test=0, seed=3, max_code_chars=10)
    plan = plan_splits(options)
    assert [len(group.items) for group in plan.groups("train")] == [16, 4]
    stats = BuildStats(requested=20)
    assert list(build_groups(plan.groups("train"), "cpu", options, stats)) == []
    assert stats.replaced == len(plan.reserve["train"]) == 2 * RESERVE_PER_GROUP
    assert stats.skipped == {TOO_LONG: 20 + 2 * RESERVE_PER_GROUP}
    assert stats.rows + stats.total_skipped == stats.requested + stats.replaced


def test_only_a_capped_build_plans_a_reserve_and_it_is_the_next_structures():
    sizes = {"num_examples": 40, "num_validation": 4, "num_test": 4, "seed": 3}
    plain, capped = plan_splits(BuildOptions(**sizes)), plan_splits(BuildOptions(**sizes, max_code_chars=9000))
    assert all(plain.reserve[split] == [] for split in SPLITS)
    longer = plan_splits(BuildOptions(**{**sizes, "num_examples": 40 + 3 * RESERVE_PER_GROUP}))
    for split in SPLITS:
        assert capped.items[split] == plain.items[split]
        reserve = capped.reserve[split]
        assert len(reserve) == math.ceil(len(plain.items[split]) / GROUP_SIZE) * RESERVE_PER_GROUP
        if split == "train":  # the reserve is what a bigger build would select next
            assert plain.items[split] + reserve == longer.items[split][: len(plain.items[split]) + len(reserve)]
    assert capped.groups("validation") == [Group("generated", capped.items["validation"], capped.reserve["validation"])]
