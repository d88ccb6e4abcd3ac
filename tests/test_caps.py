"""Length caps and replacement: a cap steers each draw to a size predicted to fit, a kernel that
fails any stage is a counted skip replaced in its place by its group's next kernel of the split's
stream, so every split keeps its size, no structure repeats, and the rows never depend on the
worker or task count or on how deep the planned reserve is."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from conftest import load, rows_digest, shared_folder

from generation import cli
from generation.generated.generator import GenerationOptions, generate
from generation.hub.publish import load_builds
from generation.pipeline.build import build_groups
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import GROUP_SIZE, SPLITS, Further, Plan, generated, plan_splits, planned_kernels
from generation.pipeline.plan.generated import split_of
from generation.pipeline.plan.generated import structure_digest as digest

GENERATION_FIELDS = ("include_backward", "difficulty", "max_depth", "max_statements")
CAP = 5000  # about the 45th percentile of `cpu` forward lengths: some kernels of every group are over it
SIZES = {"num_examples": 40, "num_validation": 4, "num_test": 4, "seed": 3}


def replaced_in(description: str, split: str) -> tuple[int, int, int]:
    """(rows written, too_long skips, further draws) of a split, from the build's description."""
    line = next(line for line in description.splitlines() if line.startswith(f"{split}: "))
    written = int(re.match(rf"{split}: (\d+) of", line).group(1))
    too_long = re.search(r"codegen:too_long: (\d+)", line)
    further = re.search(r"(\d+) further draws", line)
    return written, int(too_long.group(1)) if too_long else 0, int(further.group(1)) if further else 0


@pytest.fixture(scope="session")
def capped(tmp_path_factory):
    """Built once per run, whichever worker asks first (the workers share the datasets cache)."""
    return load("cpu", shared_folder(tmp_path_factory, "hf_cache"), max_forward_chars=CAP, num_proc=2, **SIZES)


def test_a_capped_build_keeps_its_size_and_counts_what_it_replaced(capped):
    assert [len(capped[split]) for split in SPLITS] == [40, 4, 4]
    written, too_long, further = replaced_in(capped["train"].info.description, "train")
    assert written == 40 and too_long == further > 0
    structures = {}
    for split in SPLITS:
        for row in capped[split]:
            assert len(row["forward"]) <= CAP and row["metadata"]["lengths"]["forward"]["chars"] <= CAP
            assert split_of(digest(row["python_source"])) == split, "a replacement stays in its structure's split"
            structures.setdefault(digest(row["python_source"]), []).append(split)
    assert all(len(splits) == 1 for splits in structures.values()), "a structure repeats within or across splits"


def test_a_cap_steers_draws_to_smaller_sizes_and_records_them(capped):
    """A draw predicted over the cap is made again at a smaller size; its recipe says which, and
    regenerates it."""
    options = BuildOptions(**SIZES)
    steered = 0
    for row in capped["train"]:
        recipe = json.loads(row["metadata"]["recipe"])
        if recipe["max_statements"] is not None or recipe["difficulty"] != "mixed":
            steered += 1
            profile = GenerationOptions(
                *(recipe[k] for k in ("include_backward", "difficulty", "max_depth", "max_statements"))
            )
            assert generate(recipe["category"], 3, recipe["index"], profile).python_source == row["python_source"]
        else:  # its own size fitted: the uncapped build's kernel of that draw
            assert row["python_source"] == generated.kernel_at(options, "cpu", recipe["index"]).python_source
    assert steered > 0


def test_capped_rows_do_not_depend_on_tasks_or_workers(capped, tmp_path):
    options = ["--num-examples", "40", "--num-validation", "4", "--num-test", "4", "--seed", "3"]
    options += ["--max-forward-chars", str(CAP)]
    for name, layout in (("one", []), ("three", ["--tasks", "3", "--workers", "2"])):
        assert cli.main(["build", "cpu", "--out", str(tmp_path / name), *options, *layout]) == 0
        built = load_builds(tmp_path / name)["cpu"]
        assert rows_digest(built) == rows_digest(capped), name


def test_replacements_past_the_planned_reserve_are_the_same_rows(capped, monkeypatch):
    """With no reserve planned at all, every replacement comes from the split's stream, scanned
    again where the group needs it: the rows are those of the build that planned one."""
    monkeypatch.setattr(generated, "RESERVE_PER_GROUP", dict.fromkeys(generated.RESERVE_PER_GROUP, 0))
    options = BuildOptions(max_forward_chars=CAP, **SIZES)
    generated.split_stream.cache_clear()
    plan = plan_splits(options, "cpu")
    assert all(plan.reserve[split] == [] for split in SPLITS)
    for split in SPLITS:
        stats = plan.stats[split]
        rows = list(build_groups(plan.groups(split), "cpu", options, stats))
        assert rows_digest({split: rows}) == rows_digest({split: capped[split]}), split
        assert stats.rows == stats.requested and stats.rows + stats.total_skipped == stats.requested + stats.replaced


def test_the_reserve_is_the_streams_next_structures_dealt_to_the_groups_in_turn():
    options = BuildOptions(max_forward_chars=CAP, **{**SIZES, "num_examples": 40})
    plan = plan_splits(options, "cpu")
    longer = plan_splits(BuildOptions(max_forward_chars=CAP, **{**SIZES, "num_examples": 100}), "cpu")
    items, reserve = plan.items["train"], plan.reserve["train"]
    assert len(reserve) == 3 * generated.RESERVE_PER_GROUP["capped"]  # 40 rows: 3 groups
    assert items + reserve == longer.items["train"][: len(items) + len(reserve)], "the stream, in draw order"
    groups = plan.groups("train")
    assert [len(g.items) for g in groups] == [GROUP_SIZE, GROUP_SIZE, 8]
    assert groups[1].reserve == reserve[1::3]
    assert groups[1].further == Further("train", 40 + 1 + len(reserve[1::3]) * 3, 3)
    stream = generated.split_stream(options, "cpu", "train")
    assert [stream.at(40 + 1 + 3 * j) for j in range(len(groups[1].reserve))] == groups[1].reserve
    assert [g.further for g in Plan("real", {"train": [1]}).groups("train")] == [None]


def test_a_stream_that_runs_dry_is_counted_not_lost():
    """A narrow filter runs out of distinct structures: the replacements stop, and every kernel asked
    for is a row or a counted skip."""
    options = BuildOptions(
        num_examples=30, num_validation=0, num_test=0, categories=("arithmetic",), difficulty="easy",
        max_depth=1, max_statements=0, max_forward_chars=2200,
    )  # fmt: skip
    plan = plan_splits(options, "cpu")
    stats = plan.stats["train"]
    rows = list(build_groups(plan.groups("train"), "cpu", options, stats))
    assert len(rows) == stats.rows and stats.rows + stats.total_skipped == stats.requested + stats.replaced
    assert len({digest(row["python_source"]) for row in rows}) == len(rows)


def test_a_cap_no_kernel_of_a_category_meets_fails_before_the_build():
    options = BuildOptions(num_examples=20, categories=("stencil", "arithmetic"), max_forward_chars=2500)
    with pytest.raises(ValueError) as error:
        plan_splits(options, "cuda")
    message = str(error.value)
    assert "max_forward_chars=2500" in message and "stencil" in message and "arithmetic" not in message, message
    smallest = int(re.search(r"use max_forward_chars=(\d+) or more", message).group(1))
    plan_splits(BuildOptions(**{**vars(options), "max_forward_chars": smallest, "num_examples": 20}), "cuda")


def test_the_command_line_names_a_cap_no_kernel_meets_before_any_work(tmp_path, capsys):
    argv = ["build", "cuda", "--out", str(tmp_path / "out"), "--categories", "stencil", "--max-forward-chars", "2500"]
    assert cli.main(argv) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "stencil" in error and "max_forward_chars=2500" in error, error
    assert not (tmp_path / "out").exists()


def test_every_category_has_cuda_kernels_within_3000_characters():
    """At the smallest size a cap steers to, each category writes only its core, so a 3,000-character
    `cuda` forward (about 1k tokens) keeps every category: the probes are made for real and measured."""
    for seed in (1, 2):
        generated.check_caps_reachable(BuildOptions(seed=seed, max_forward_chars=3000), "cuda")


def test_a_tight_cap_keeps_every_category():
    """At a cap most kernels are over, steering keeps every category asked for in the rows."""
    options = BuildOptions(num_examples=200, num_validation=0, num_test=0, seed=2, max_forward_chars=4000)
    plan = plan_splits(options, "cuda")
    kernels = [k for group in plan.groups("train") for k in planned_kernels(options, "cuda", group)[0]]
    assert set(Counter(k.spec.category for k in kernels)) == set(options.categories)


def test_no_structure_repeats_when_many_kernels_are_replaced():
    """Many groups replace kernels over the cap: the replacements are each the split's own, and no
    two groups take the same one."""
    options = BuildOptions(num_examples=128, num_validation=0, num_test=0, seed=4, max_forward_chars=4000)
    plan = plan_splits(options, "cpu")
    stats = plan.stats["train"]
    rows = list(build_groups(plan.groups("train"), "cpu", options, stats))
    assert stats.replaced >= 8 and len(rows) == 128
    assert len({digest(row["python_source"]) for row in rows}) == 128
