"""Harvested real kernels: the warp package's own, and files a user points at."""

from __future__ import annotations

import json
import re

import pytest
from code_parts import missing_definitions
from conftest import MACHINE_TEXT, load
from test_honesty import dishonest_rows

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import SPLITS, PlannedKernel, plan_splits
from generation.pipeline.stats import BuildStats, Reason
from generation.real.harvest import HarvestOptions, harvest

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
    specs = {spec.name: spec.python_source for spec in harvest(HarvestOptions((str(user_dir),))).specs}
    source = specs["springs"]
    for needed in ("import warp as wp", "SCALE = wp.constant(2.5)", "class Spring:", "def force(", "def springs("):
        assert needed in source
    for unneeded in ("UNUSED", "import numpy", "import math", "scale_rows", "make_kernel"):
        assert unneeded not in source
    # An argument that shares a kernel's name does not pull that kernel in.
    assert "def first(" not in specs["second"]


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
    # Every kernel asked for is counted; one file's kernels all go to one split (train: it fits no held-out split).
    assert "train: 6 rows from 9 harvested kernels; skipped 3 " in stats and set(ds) == {"train"}
    # Kernels that name one Warp module (`module="shared_module"`) still generate as if alone.
    assert dishonest_rows(rows, tmp_path) == []


def test_warp_package_kernels_are_harvested_with_origin_and_licence(warp_harvest):
    assert len(warp_harvest.specs) > 1500, "Warp 1.19 ships about 1,900 top-level kernels in examples and tests"
    origins = {spec.origin.split("/")[1] for spec in warp_harvest.specs}
    assert origins == {"examples", "tests"}
    assert {spec.license for spec in warp_harvest.specs} == {"Apache-2.0"}
    assert any(failure.kind == "nested_kernel" for failure in warp_harvest.skipped)


def test_every_harvested_kernel_is_a_row_or_a_counted_skip(warp_harvest):
    """With every kernel asked for, the harvest's skips count against train: nothing goes missing."""
    options = BuildOptions(seed=5)
    plan = plan_splits(options, "cuda", "real", warp_harvest)
    stats, train = plan.stats, plan.stats["train"]
    assert train.requested == len(plan.items["train"]) + train.total_skipped
    assert train.skipped[Reason("harvest", "nested_kernel")] > 0 and train.skipped[Reason("harvest", "duplicate")] > 0
    assert sum(s.requested for s in stats.values()) == len(warp_harvest.specs) + len(warp_harvest.skipped)


def test_real_rows_are_honest_in_a_fresh_process(warp_harvest, tmp_path):
    options = BuildOptions(num_examples=10, num_validation=1, num_test=1, seed=5)
    plan = plan_splits(options, "cuda", "real", warp_harvest)
    stats = BuildStats()
    rows = [row for split in plan.items.values() for row in build_rows(split, "cuda", options, stats)]
    assert len(rows) + stats.total_skipped == 12 and len(rows) >= 10, stats.summary("all")
    assert all(re.match(r"warp/(examples|tests)/.+\.py::\w+$", row["metadata"]["origin"]) for row in rows)
    assert dishonest_rows(rows, tmp_path) == []


def test_rows_name_warps_own_files_from_its_package_not_from_this_machine(warp_harvest, tmp_path):
    """Functions Warp implements in Python (its fem geometry and linear algebra) get a ``// file:line``
    comment in the code: it names ``warp/_src/...``, never this machine's install folder, and the rows
    still reproduce in a fresh process (whose reference names them the same way)."""
    kernels = [PlannedKernel(k, s) for k, s in enumerate(warp_harvest.specs) if s.origin.startswith("warp/tests/fem/")]
    rows = [row for device in ("cpu", "cuda") for row in build_rows(kernels, device, BuildOptions(), BuildStats())]
    assert sum("// warp/_src/" in row["code"] for row in rows) >= 10, "the comments are there to be checked"
    assert [row["metadata"]["origin"] for row in rows if MACHINE_TEXT.search(json.dumps(row))] == []
    assert dishonest_rows(rows, tmp_path) == []


def test_real_kernels_with_helpers_have_self_contained_columns(warp_harvest):
    """Warp's own kernels that call helpers, use structs or take gradients (custom adjoints, ``wp.grad``,
    nested structs, overloads): every helper a column calls and struct it names is defined in it."""
    uses = re.compile(r"@wp\.func|@wp\.struct|wp\.grad\(")
    specs = [spec for spec in warp_harvest.specs if uses.search(spec.python_source)]
    kernels = [PlannedKernel(index, spec) for index, spec in enumerate(specs)]
    stats = BuildStats()
    rows = list(build_rows(kernels, "cuda", BuildOptions(), stats))
    assert len(rows) > 200, stats.summary("helpers")
    incomplete = [
        (row["metadata"]["origin"], column, sorted(missing))
        for row in rows
        for column in ("forward", "backward")
        if (missing := missing_definitions(row[column], row["code"]))
    ]
    assert incomplete == []


def test_every_file_lands_in_one_split(warp_harvest):
    """Kernels of one source file are siblings: a split takes whole files, so test rows have none in train."""
    for options in (BuildOptions(seed=5), BuildOptions(seed=6, num_examples=300, num_validation=20, num_test=20)):
        plan = plan_splits(options, "cuda", "real", warp_harvest)
        files = {split: {item.spec.origin.rsplit("::", 1)[0] for item in plan.items[split]} for split in SPLITS}
        assert not files["train"] & files["validation"] and not files["train"] & files["test"]
        assert not files["validation"] & files["test"]
        sizes = options.split_sizes(available=sum(len(items) for items in plan.items.values()))
        for split in ("validation", "test"):
            assert 0.8 * sizes[split] <= len(plan.items[split]) <= sizes[split], (split, len(plan.items[split]))
        if options.num_examples:
            assert len(plan.items["train"]) == 300
    everything = plan_splits(
        BuildOptions(seed=5), "cuda", "real", warp_harvest
    )  # every kernel asked for: none left out
    duplicates = everything.stats["train"].skipped[Reason("harvest", "duplicate")]
    assert sum(len(items) for items in everything.items.values()) + duplicates == len(warp_harvest.specs)


APACHE = "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/\n"
BSD_3 = "Redistribution and use in source and binary forms, with or without modification ...\nNeither the name of"
KERNEL = "import warp as wp\n\n\n@wp.kernel\ndef {name}(x: wp.array(dtype=float)):\n    x[wp.tid()] = {value}\n"


def test_each_file_keeps_its_own_licence_and_each_root_its_origins(tmp_path):
    """SPDX header first, then the nearest licence file under the root (recognised by its text), then
    the default (`unknown` for user files); `license=` overrides all of them."""
    package, other = tmp_path / "pkg", tmp_path / "loose"
    (package / "sub").mkdir(parents=True)
    other.mkdir()
    (package / "LICENSE").write_text(APACHE)
    (package / "sub" / "COPYING").write_text(BSD_3)
    (package / "a.py").write_text("# SPDX-License-Identifier: MIT\n" + KERNEL.format(name="a", value="1.0"))
    (package / "sub" / "b.py").write_text(KERNEL.format(name="b", value="2.0"))
    (package / "c.py").write_text(KERNEL.format(name="c", value="3.0"))
    (other / "d.py").write_text(KERNEL.format(name="d", value="4.0"))
    paths = (str(package), str(other))
    found = {spec.origin: spec.license for spec in harvest(HarvestOptions(paths)).specs}
    assert found == {
        "pkg/a.py::a": "MIT",
        "pkg/sub/b.py::b": "BSD-3-Clause",
        "pkg/c.py::c": "Apache-2.0",
        "loose/d.py::d": "unknown",
    }
    assert {spec.license for spec in harvest(HarvestOptions(paths, "CC0-1.0")).specs} == {"CC0-1.0"}


def test_bad_paths_are_named_before_any_work(tmp_path):
    (tmp_path / "notes.txt").write_text("x = 1\n")
    (tmp_path / "binary.py").write_bytes(bytes(range(128, 256)))
    with pytest.raises(ValueError, match=r"paths \['.*notes.txt'\] are not .py files"):
        harvest(HarvestOptions((str(tmp_path / "notes.txt"),)))
    with pytest.raises(ValueError, match=r"paths \['.*nowhere'\] do not exist"):
        harvest(HarvestOptions((str(tmp_path / "nowhere"),)))
    skipped = harvest(HarvestOptions((str(tmp_path / "binary.py"),))).skipped
    assert [(f.kind, f.message.split(":")[0]) for f in skipped] == [("UnicodeDecodeError", "binary.py")]


def test_a_huge_file_and_a_symlink_loop_are_counted_or_ignored(tmp_path):
    """A 10 MB file is skipped unread, naming it; a folder linking to itself is walked once."""
    (tmp_path / "huge.py").write_text("import warp as wp\n" + "X = 1  # padding\n" * 600_000)
    (tmp_path / "k.py").write_text(
        "import warp as wp\n\n\n@wp.kernel\ndef k(a: wp.array(dtype=float)):\n    a[0] = 1.0\n"
    )
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    harvested = harvest(HarvestOptions((str(tmp_path),)))
    assert [spec.origin for spec in harvested.specs] == [f"{tmp_path.name}/k.py::k"]
    assert [(f.kind, f.message) for f in harvested.skipped] == [
        ("too_large", f"{tmp_path.name}/huge.py: 10,200,018 bytes, over the 4,000,000-byte limit for a source file")
    ]


def test_a_build_with_no_rows_is_an_error_naming_the_paths_and_skips(tmp_path):
    """Nothing to harvest fails before any work; kernels that all fail fail the build: never an empty dataset."""
    from generation.cli import build

    (tmp_path / "bad.py").write_text("def broken(:\n")
    (tmp_path / "generic.py").write_text(
        "from typing import Any\nimport warp as wp\n\n\n@wp.kernel\ndef g(a: wp.array(dtype=Any)):\n    a[0] = a[0]\n"
    )
    (tmp_path / "fails.py").write_text(  # harvested, then fails code generation
        "import warp as wp\n\n\n@wp.kernel\ndef f(a: wp.array(dtype=float)):\n    a[0] = wp.no_such_builtin(a[0])\n"
    )
    with pytest.raises(ValueError, match=r"the paths \['.*bad.py'\] gave no rows \(static harvest; skipped: harvest:S"):
        load("real_cpu", tmp_path / "cache", paths=[str(tmp_path / "bad.py")])
    with pytest.raises(
        ValueError, match=r"generic.py'\] gave no rows \(static harvest; skipped: harvest:GenericKernelError 1\)"
    ):
        load("real_cpu", tmp_path / "cache", paths=[str(tmp_path / "generic.py")])
    with pytest.raises(ValueError, match=r"fails.py'\] gave no rows \(static harvest; skipped: codegen:"):
        load("real_cpu", tmp_path / "cache", paths=[str(tmp_path / "fails.py")])
    with pytest.raises(ValueError, match=r"fails.py'\] gave no rows \(static harvest; skipped: codegen:"):
        build("real_cpu", tmp_path / "out", paths=[str(tmp_path / "fails.py")])


@pytest.mark.benchmark
def test_default_real_builds_hold_no_machine_path(tmp_path):
    """Every column of every row of the default real_cpu and real_cuda builds (minutes: run with
    ``-m benchmark``)."""
    for config in ("real_cpu", "real_cuda"):
        ds = load(config, tmp_path / config, num_proc=2)
        leaks = [row["metadata"]["origin"] for split in ds for row in ds[split] if MACHINE_TEXT.search(json.dumps(row))]
        assert leaks == [], (config, len(leaks), leaks[:5])


def test_a_real_build_logs_what_the_harvest_gave_not_a_shortfall(tmp_path, caplog):
    """A real build of every kernel asks for no number of rows: its log says how many kernels were
    found and what became of them, never "requested" or a missing row, though a kernel fails codegen."""
    import logging

    from generation.cli import build

    good = "import warp as wp\n\n\n@wp.kernel\ndef k(a: wp.array(dtype=float)):\n    a[0] = a[0] * 2.0\n"
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "good.py").write_text(good)
    (tmp_path / "kernels" / "copy.py").write_text(good.replace("def k", "def k2"))  # a repeat
    (tmp_path / "kernels" / "fails.py").write_text(
        "import warp as wp\n\n\n@wp.kernel\ndef f(a: wp.array(dtype=float)):\n    a[0] = wp.no_such_builtin(a[0])\n"
    )
    caplog.set_level(logging.INFO)
    build("real_cpu", tmp_path / "out", paths=[str(tmp_path / "kernels")], num_validation=0, num_test=0)
    logged = [r.getMessage() for r in caplog.records]
    skipped = "skipped 2 (codegen:WarpCodegenAttributeError: 1, harvest:duplicate: 1)"
    assert f"real_cpu train: 1 rows from 3 harvested kernels; {skipped}" in logged
    assert not [line for line in logged if "requested" in line or "replacements" in line], logged
