"""The seeded generator: deterministic, varied, well defined, and valid for both devices."""

from __future__ import annotations

import ast
import re

import pytest

from generation.generator import CATEGORIES, generate
from generation.options import build_options
from generation.plan import plan_splits, shard
from generation.rows import make_row


def test_same_seed_and_index_give_the_same_kernel():
    assert generate("matrix", 5, 17) == generate("matrix", 5, 17)
    assert generate("matrix", 5, 17) != generate("matrix", 6, 17)


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_each_category_generates_code_for_both_devices(category):
    for index in range(8):
        spec = generate(category, 1, index)
        ast.parse(spec.python_source)
        assert re.match(r"For each (element i|\(i, j(, k)?\)), the kernel \w+", spec.description), spec.description
        for device in ("cpu", "cuda"):
            row = make_row(spec, device, seed=1, index=index)
            assert row["forward"] and row["backward"]


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_categories_have_variety(category):
    sources = {generate(category, 0, index).python_source for index in range(200)}
    assert len(sources) >= 150


SIGNATURES = {
    "vector": r"dtype=wp\.(vec[234]d?|spatial_vector)",
    "matrix": r"wp\.(mat(22|33|44)d?|spatial_matrix)|wp\.(transpose|determinant|trace|ddot|outer|diag)\(| @ ",
    "atomic": r"wp\.atomic_(add|sub|min|max|and|or|xor)\(|\] \+= ",
    "control_flow": r"^\s+(if|for|while) ",
    "geometry": r"wp\.(quat|transform)\w*\(|dtype=wp\.(quat|transform)d?\)",
    "struct": r"@wp\.struct",
    "func": r"@wp\.func",
    "multidim": r"i, j(, k)? = wp\.tid\(\)",
}


@pytest.mark.parametrize(("category", "pattern"), SIGNATURES.items())
def test_categories_do_what_their_name_says(category, pattern):
    for index in range(50):
        assert re.search(pattern, generate(category, 2, index).python_source, re.M)


def test_risky_operations_are_guarded():
    """Division, logs, roots and exponentials only appear in their guarded forms."""
    for category in CATEGORIES:
        for index in range(100):
            body = generate(category, 3, index).python_source
            assert re.findall(r"/ (?!\(wp\.abs\()", body) == []
            assert "wp.log(" not in body or "wp.log(wp.abs(" in body
            assert "wp.sqrt(" not in body or "wp.sqrt(wp.abs(" in body
            assert "wp.exp(" not in body or "wp.exp(wp.clamp(" in body


def test_every_statement_is_used():
    for category in CATEGORIES:
        for index in range(100):
            source = generate(category, 4, index).python_source
            for local in set(re.findall(r"^\s+(t\d+) = ", source, re.M)):
                assert len(re.findall(rf"\b{local}\b", source)) >= 2, source


def test_planning_gives_unique_kernels_and_counts_exhaustion():
    plans, stats = plan_splits(build_options(num_examples=50, categories=["atomic"]))
    sources = [k.spec.python_source for split in plans.values() for k in split]
    assert len(sources) == len(set(sources)) == 50 + 3 + 3
    assert all(not s.skipped for s in stats.values())


def test_shards_cover_all_items_in_order():
    items = list(range(100))
    shards = shard(items)
    assert [x for s in shards for x in s] == items and len(shards) == 7
    assert shard([]) == [[]] and shard([1]) == [[1]]
