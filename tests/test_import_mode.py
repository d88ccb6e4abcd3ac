"""Import mode (``harvest="import"``): a package is imported in a child process and every kernel Warp
then knows becomes a self-contained row, factory products and overloads registered in loops
included. What it cannot take (a failing or hanging import, a value a row cannot write out, a
factory nothing calls) is a counted skip naming the file, and every row is honest."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO, load
from test_honesty import dishonest_rows

from generation.backend import warp_api
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.real.harvest import HarvestOptions, harvest

PACKAGE = "wirp_demo_pkg"
FILES = {
    "__init__.py": "",
    "maths.py": """
        # SPDX-License-Identifier: MIT
        import warp as wp


        @wp.func
        def scale(x: float):
            return x * 2.0


        @wp.struct
        class Particle:
            pos: wp.vec3
            mass: float


        class Grid:
            @wp.func
            def fine(x: float):
                return x * 4.0
        """,
    "factories.py": """
        from typing import Any

        import warp as wp

        from . import maths as m
        from .maths import Particle


        def make_fill(dtype, n: int):
            @wp.kernel
            def fill(a: wp.array(dtype=dtype)):
                i = wp.tid()
                a[i] = dtype(n) + dtype(m.scale(float(i)))

            return fill


        FILLS = [make_fill(wp.float32, 3), make_fill(wp.float64, 7)]


        def make_copy(dtype):
            @wp.kernel
            def copy(src: wp.array(dtype=dtype), dst: wp.array(dtype=dtype)):
                i = wp.tid()
                dst[i] = src[i]

            return copy


        COPY = make_copy(wp.vec2)


        @wp.kernel
        def add(a: wp.array(dtype=Any), b: wp.array(dtype=Any)):
            i = wp.tid()
            a[i] = a[i] + b[i]


        for t in (wp.float32, wp.vec3):
            wp.overload(add, {"a": wp.array(dtype=t), "b": wp.array(dtype=t)})


        @wp.kernel
        def weigh(ps: wp.array(dtype=Particle), out: wp.array(dtype=float)):
            i = wp.tid()
            out[i] = m.scale(ps[i].mass)


        def never_called():
            @wp.kernel
            def lost(a: wp.array(dtype=float)):
                a[0] = 1.0

            return lost


        def make_opaque():
            table = {"a": 1.0}

            @wp.kernel
            def opaque(a: wp.array(dtype=float)):
                a[0] = table

            return opaque


        OPAQUE = make_opaque()


        @wp.kernel
        def refine(fine: wp.array(dtype=float)):
            i = wp.tid()
            fine[i] = m.Grid.fine(fine[i])


        @wp.kernel
        def shift(a: wp.array(dtype=Any), by: Any, on: wp.bool):
            i = wp.tid()
            if on:
                a[i] = a[i] + by


        wp.overload(shift, {"a": wp.array(dtype=wp.float64), "by": wp.float64, "on": wp.bool})
        """,
    "future.py": """
        from __future__ import annotations

        import warp as wp


        @wp.func
        def halve(x: float) -> float:
            return x * 0.5


        @wp.kernel
        def halve_all(a: wp.array(dtype=float)):
            i = wp.tid()
            a[i] = halve(a[i])
        """,
    "broken.py": """
        import warp as wp
        import wirp_no_such_package


        @wp.kernel
        def needs_missing(a: wp.array(dtype=float)):
            a[0] = 1.0
        """,
    "hangs.py": """
        import time

        import warp as wp


        @wp.kernel
        def after_sleep(a: wp.array(dtype=float)):
            a[0] = 1.0


        time.sleep(600)
        """,
}
TIMEOUT = 3


def write_package(folder: Path, files: dict[str, str]) -> Path:
    root = folder / PACKAGE
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return write_package(tmp_path_factory.mktemp("import_mode"), FILES)


@pytest.fixture(scope="module")
def harvested(package):
    started = time.monotonic()
    result = harvest(HarvestOptions((str(package),), mode="import", import_timeout=TIMEOUT))
    assert time.monotonic() - started < 90, "a hanging import must cost its timeout, not the build"
    return result


def by_origin(harvested) -> dict[str, list]:
    found: dict[str, list] = {}
    for spec in harvested.specs:
        found.setdefault(spec.origin, []).append(spec)
    return found


def test_factory_products_close_over_a_dtype_and_a_size(harvested):
    fills = by_origin(harvested)[f"{PACKAGE}/factories.py::make_fill.<locals>.fill"]
    assert len(fills) == 2
    sources = sorted(spec.python_source for spec in fills)
    assert "dtype = wp.float32\n" in sources[0] and "n = 3\n" in sources[0]
    assert "dtype = wp.float64\n" in sources[1] and "n = 7\n" in sources[1]
    for spec in fills:
        # The annotation keeps its text (the closure binds dtype), the helper is bundled, its alias rewritten.
        assert "def fill(a: wp.array(dtype=dtype)):" in spec.python_source
        assert "def scale(x: float):" in spec.python_source and "m.scale" not in spec.python_source
        assert json.loads(spec.recipe)["files"] == [f"{PACKAGE}/maths.py"]
        assert spec.license == "MIT AND unknown", "the helper's file is MIT, the factory's says nothing"


def test_an_annotation_the_closure_does_not_hold_is_written_as_its_type(harvested):
    """``copy`` reads ``dtype`` only in its annotations, evaluated in the factory's scope: the row
    writes the type Python evaluated there."""
    (copy,) = by_origin(harvested)[f"{PACKAGE}/factories.py::make_copy.<locals>.copy"]
    assert "def copy(src: wp.array(dtype=wp.vec2, ndim=1), dst: wp.array(dtype=wp.vec2, ndim=1)):" in copy.python_source


def test_postponed_annotations_keep_their_text(harvested):
    """Under ``from __future__ import annotations`` Python holds annotations as text, read where the row runs."""
    (halve_all,) = by_origin(harvested)[f"{PACKAGE}/future.py::halve_all"]
    assert "def halve(x: float) -> float:" in halve_all.python_source


def test_a_generic_helper_is_written_once_whatever_warp_made_of_it():
    """Warp adds an instance of a generic ``wp.func`` for each type it meets; the row holds the template once."""
    from generation.backend.source_module import kernel_named, loaded_source
    from generation.backend.synthesis import Synthesis

    source = textwrap.dedent(
        """
        from typing import Any

        import warp as wp


        @wp.func
        def twice(x: Any):
            return x + x


        @wp.kernel
        def both(a: wp.array(dtype=float), b: wp.array(dtype=wp.vec3)):
            i = wp.tid()
            a[i] = twice(a[i])
            b[i] = twice(b[i])
        """
    )
    with loaded_source(source) as module:
        kernel = kernel_named(module, "both")
        warp_api.generate_kernel_code(kernel, "cpu")
        assert len(module.twice.user_overloads) == 2, "codegen made an instance for float32 and one for vec3"
        written = Synthesis(lambda path: True).kernel_source(kernel)
    assert written.count("def twice(") == 1 and "def twice(x: Any):" in written


def test_a_helper_read_through_a_class_never_takes_a_name_the_kernel_binds(harvested):
    """``m.Grid.fine(...)`` in a kernel with an argument ``fine``: the helper is written under another name."""
    (refine,) = by_origin(harvested)[f"{PACKAGE}/factories.py::refine"]
    assert "def fine_2(x: float):" in refine.python_source and "fine[i] = fine_2(fine[i])" in refine.python_source


def test_factory_rows_generate_the_code_of_the_imported_kernel(harvested, package):
    """Beyond honesty: the row's module makes the code Warp makes for the factory's own product,
    up to the names Warp derives from where a function lives (its key, its hash, line comments)."""
    warp_api.init_warp()  # first: helper names a build restores are those of a process that imported warp alone
    sys.path.insert(0, str(package.parent))
    try:
        factories = __import__(f"{PACKAGE}.factories", fromlist=["FILLS"])
    finally:
        sys.path.remove(str(package.parent))
    specs = {json.loads(s.recipe)["kernel"] + s.python_source: s for s in harvested.specs}
    for product, dtype in zip(factories.FILLS, ("float32", "float64"), strict=True):
        spec = next(s for key, s in specs.items() if key.startswith("make_fill") and f"wp.{dtype}\n" in key)
        stats = BuildStats()
        row = next(iter(build_rows([PlannedKernel(0, spec)], "cuda", BuildOptions(validate="none"), stats)))
        original = warp_api.generate_kernel_code(product, "cuda").forward
        assert normalized(row["forward"]) == normalized(original)


def normalized(code: str) -> str:
    """Code without comments and with the names that depend on where a function was defined."""
    code = re.sub(r"//.*", "", code)
    code = re.sub(r"\b\w+_[0-9a-f]{8}_cuda_kernel_(forward|backward)\b", r"KERNEL_\1", code)
    code = re.sub(r"\bscale_\d+\b", "scale", code)
    return "\n".join(line.rstrip() for line in code.splitlines() if line.strip())


def test_overloads_registered_in_a_loop_each_give_a_row(harvested):
    origins = by_origin(harvested)
    add = {origin: specs[0] for origin, specs in origins.items() if "::add[" in origin}
    assert sorted(add) == [f"{PACKAGE}/factories.py::add[a1f4_a1f4]", f"{PACKAGE}/factories.py::add[a1v3f4_a1v3f4]"]
    vec3 = add[f"{PACKAGE}/factories.py::add[a1v3f4_a1v3f4]"]
    assert vec3.python_source.count("wp.overload(") == 1
    assert "wp.overload(add, {" in vec3.python_source and "wp.array(dtype=wp.vec3, ndim=1)" in vec3.python_source
    # Both run: launched with the overload's types (scalars too), not the generic Any.
    (shift,) = origins[f"{PACKAGE}/factories.py::shift[a1f8_f8_b]"]
    stats = BuildStats()
    kernels = [PlannedKernel(0, vec3), PlannedKernel(1, shift)]
    rows = list(build_rows(kernels, "cpu", BuildOptions(validate="run"), stats))
    assert not stats.skipped, stats.first_error
    assert "wp::array_t<wp::vec_t<3, wp::float32>> a;" in rows[0]["forward"]


def test_every_import_mode_row_is_honest(harvested, tmp_path):
    rows = []
    for device in ("cpu", "cuda"):
        stats = BuildStats()
        kernels = [PlannedKernel(k, spec) for k, spec in enumerate(harvested.specs)]
        rows += list(build_rows(kernels, device, BuildOptions(validate="none"), stats))
        assert not stats.skipped, stats.first_error
    assert len(rows) == 2 * 9  # three factory products, three overloads, weigh, refine, halve_all
    assert dishonest_rows(rows, tmp_path) == []


def test_what_import_mode_cannot_take_is_counted_naming_the_file(harvested):
    skipped: dict[str, list[str]] = {}
    for failure in harvested.skipped:
        skipped.setdefault(failure.kind, []).append(failure.message)
    assert skipped.pop("import_failed") == [
        f"{PACKAGE}/broken.py::needs_missing (line 5): {PACKAGE}/broken.py: ModuleNotFoundError: "
        "No module named 'wirp_no_such_package'"
    ]
    assert skipped.pop("import_timeout") == [
        f"{PACKAGE}/hangs.py::after_sleep (line 6): importing {PACKAGE}/hangs.py did not finish in {TIMEOUT} s"
    ]
    assert skipped.pop("not_created") == [f"{PACKAGE}/factories.py::lost (line 50): no kernel was made from it"]
    assert skipped.pop("closure_value") == [
        f"{PACKAGE}/factories.py::make_opaque.<locals>.opaque: 'table' holds a builtins.dict, which a row "
        "cannot write out"
    ]
    assert skipped == {}


def test_an_import_mode_build_through_load_dataset(package, tmp_path):
    """The option as a user gives it, on the files that import cleanly: whole files to one split."""
    paths = [str(package / name) for name in ("maths.py", "factories.py")]
    built = load("real_cpu", tmp_path / "cache", paths=paths, harvest="import", num_validation=0, num_test=0)
    origins = sorted(row["metadata"]["origin"] for row in built["train"])
    assert origins[0] == "factories.py::add[a1f4_a1f4]" and len(origins) == 8
    assert all(json.loads(row["metadata"]["recipe"])["mode"] == "import" for row in built["train"])
    # Each harvest imports in a new child (another hash seed, another order of objects): the same specs.
    assert (
        harvest(HarvestOptions(tuple(paths), mode="import")).specs
        == harvest(HarvestOptions(tuple(paths), mode="import")).specs
    )


def test_a_killed_build_leaves_no_child_process_or_folder(tmp_path):
    """The child removes its folder and exits when the build that started it is killed outright."""
    root = write_package(tmp_path, {"__init__.py": "", "hangs.py": FILES["hangs.py"]})
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = (
        "from generation.real.harvest import HarvestOptions, harvest\n"
        f"harvest(HarvestOptions(({str(root)!r},), mode='import'))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(temp))
    build = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(REPO))
    try:
        deadline = time.monotonic() + 60
        while not children_of(temp) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert children_of(temp), "the child never started"
        assert list(temp.glob("wirp-import-*"))
    finally:
        build.send_signal(signal.SIGKILL)
        build.wait()
    deadline = time.monotonic() + 30  # the child looks for its parent 5 times a second, slower on a loaded machine
    while (children_of(temp) or list(temp.glob("wirp-import-*"))) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert children_of(temp) == [] and list(temp.iterdir()) == []


def test_a_child_whose_build_ended_while_it_started_exits(tmp_path):
    """A build killed while its child is still starting up: the child has already been handed to
    another parent by then, and must still see that its own build is gone (it once watched the
    new parent for good, and the folder stayed)."""
    root = write_package(tmp_path, {"__init__.py": "", "hangs.py": FILES["hangs.py"]})
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = tmp_path / "job"
    folder.mkdir()
    job = {
        "files": [[f"{PACKAGE}/hangs.py", str(root / "hangs.py"), str(root)]],
        "setup": None,
        "left_out": {},
        "progress": str(folder / "progress.jsonl"),
        "result": str(folder / "result.json"),
        "parent": int(ended.stdout),  # a build that has already ended
    }
    (folder / "job.json").write_text(json.dumps(job))
    child = subprocess.Popen(
        [sys.executable, "-m", "generation.backend.import_child", str(folder / "job.json")],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=str(REPO),
    )
    try:
        assert child.wait(timeout=60) == 3
    finally:
        child.kill()
    assert not folder.exists()


def children_of(temp: Path) -> list[int]:
    """Processes whose command line names a job file under ``temp``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(temp).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


LAZY = """
    import warp as wp


    def make(n: int):
        @wp.kernel
        def scaled(a: wp.array(dtype=float)):
            i = wp.tid()
            a[i] = a[i] * float(n)

        return scaled
    """


def test_a_setup_script_makes_the_kernels_a_package_builds_when_used(tmp_path):
    """A factory nothing calls at import is ``not_created``; ``import_setup`` can call it, and the
    kernel it makes is taken. A setup that fails stops the harvest with its own error."""
    from generation.pipeline.options import parse_options

    root = write_package(tmp_path, {"__init__.py": "", "lazy.py": LAZY})
    setup = tmp_path / "setup_lazy.py"
    setup.write_text(f"from {PACKAGE}.lazy import make\n\nmake(5)\n")
    without = harvest(HarvestOptions((str(root),), mode="import"))
    assert not without.specs and [f.kind for f in without.skipped] == ["not_created"]
    (spec,) = harvest(HarvestOptions((str(root),), mode="import", import_setup=str(setup))).specs
    assert spec.origin == f"{PACKAGE}/lazy.py::make.<locals>.scaled" and "n = 5\n" in spec.python_source
    broken = tmp_path / "broken_setup.py"
    broken.write_text("raise RuntimeError('no device here')\n")
    stopped = r"import mode stopped: running broken_setup.py ended the process \(exit code 1: RuntimeError: no device"
    with pytest.raises(ValueError, match=stopped):
        harvest(HarvestOptions((str(root),), mode="import", import_setup=str(broken)))
    with pytest.raises(ValueError, match="import_setup runs only when the files are imported: add harvest='import'"):
        parse_options("real_cpu", {"import_setup": str(setup)})
    with pytest.raises(ValueError, match="import_setup must be an existing .py file"):
        parse_options("real_cpu", {"import_setup": str(tmp_path / "missing.py"), "harvest": "import"})
