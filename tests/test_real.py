"""Harvested real kernels: the warp package's own, and files a user points at."""

from __future__ import annotations

import re

import pytest
from conftest import load
from test_honesty import reference_sources

from generation.harvest import harvest, slice_kernel

USER_FILE = '''import math

import numpy as np
import warp as wp

SCALE = wp.constant(2.5)
UNUSED = np.zeros(3)


@wp.struct
class Spring:
    k: float
    rest: float


@wp.func
def force(s: Spring, x: float):
    return -s.k * (x - s.rest) * SCALE


@wp.kernel
def springs(s: Spring, x: wp.array(dtype=float), f: wp.array(dtype=float)):
    """Hooke's law for every particle."""
    i = wp.tid()
    f[i] = force(s, x[i])


@wp.kernel
def scale_rows(a: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    i, j = wp.tid()
    out[i, j] = a[i, j] * float(math.pi)


@wp.kernel
def count_positive(x: wp.array(dtype=float), total: wp.array(dtype=int)):
    i = wp.tid()
    if x[i] > 0.0:
        wp.atomic_add(total, 0, 1)


@wp.kernel
def clamp_all(x: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    x[i] = wp.min(x[i], wp.vec3(1.0))


@wp.kernel(module="shared_module")
def first(x: wp.array(dtype=float)):
    x[wp.tid()] = 1.0


@wp.kernel(module="shared_module")
def second(first: wp.array(dtype=float)):
    first[wp.tid()] += 2.0


@wp.kernel
def broken(x: wp.array(dtype=float)):
    i = wp.tid()
    x[i] = no_such_helper(x[i])  # noqa: F821


def make_kernel():
    @wp.kernel
    def nested(x: wp.array(dtype=float)):
        x[wp.tid()] = 0.0

    return nested
'''


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_kernels") / "physics"
    folder.mkdir()
    (folder / "springs.py").write_text(USER_FILE)
    (folder / "notes.py").write_text("def oops(:\n")
    return folder


def test_slices_hold_what_the_kernel_needs_and_nothing_else(user_dir):
    import ast

    text = (user_dir / "springs.py").read_text()
    tree = ast.parse(text)
    kernel = next(node for node in tree.body if getattr(node, "name", "") == "springs")
    source = slice_kernel(tree, text.splitlines(True), kernel)
    for needed in ("import warp as wp", "SCALE = wp.constant(2.5)", "class Spring:", "def force(", "def springs("):
        assert needed in source
    for unneeded in ("UNUSED", "import numpy", "import math", "scale_rows", "make_kernel"):
        assert unneeded not in source
    # An argument that shares a kernel's name does not pull that kernel in.
    second = next(node for node in tree.body if getattr(node, "name", "") == "second")
    assert "def first(" not in slice_kernel(tree, text.splitlines(True), second)


def test_user_paths_build_with_their_licence_and_counted_skips(user_dir, tmp_path):
    ds = load("real_cpu", tmp_path, paths=[str(user_dir)], license="MIT", seed=3)
    rows = [row for split in ds for row in ds[split]]
    names = sorted(row["kernel_name"] for row in rows)
    assert names == ["clamp_all", "count_positive", "first", "scale_rows", "second", "springs"]
    for row in rows:
        assert row["category"] == "real" and row["device"] == "cpu"
        assert row["metadata"]["license"] == "MIT"
        assert row["metadata"]["origin"] == f"physics/springs.py::{row['kernel_name']}"
        assert str(tmp_path) not in repr(row) and str(user_dir) not in repr(row)
    assert next(r for r in rows if r["kernel_name"] == "springs")["description"].endswith(
        "Hooke's law for every particle."
    )
    stats = ds["train"].info.description
    for reason in ("harvest:SyntaxError: 1", "harvest:nested_kernel: 1", "codegen:"):
        assert reason in stats, stats
    # Kernels that name one Warp module (`module="shared_module"`) still generate as if alone.
    for row in rows:
        (source,) = reference_sources([row], tmp_path)
        assert source.endswith(row["code"]), row["kernel_name"]


def test_warp_package_kernels_are_harvested_with_origin_and_licence():
    harvested = harvest()
    assert len(harvested.specs) > 1500, "Warp 1.19 ships about 1,900 top-level kernels in examples and tests"
    origins = {spec.origin.split("/")[1] for spec in harvested.specs}
    assert origins == {"examples", "tests"}
    assert {spec.license for spec in harvested.specs} == {"Apache-2.0"}
    assert harvested.stats.skipped["harvest:nested_kernel"] > 0


def test_real_rows_are_honest_in_a_fresh_process(tmp_path):
    ds = load("real_cuda", tmp_path, num_examples=10, num_validation=1, num_test=1, seed=5)
    rows = [row for split in ds for row in ds[split]]
    assert len(rows) == 12
    assert all(re.match(r"warp/(examples|tests)/.+\.py::\w+$", row["metadata"]["origin"]) for row in rows)
    for row in rows:  # one process each: harvested helpers are named with Warp's process-wide counter
        (source,) = reference_sources([row], tmp_path)
        assert source.endswith(row["code"]), row["metadata"]["origin"]
