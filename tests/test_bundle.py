"""Static bundling of real multi-file packages: a kernel's imports inside the harvested paths are
followed across files and the definitions it reaches are written into its own module. Nothing is
imported; every bundled row still passes the fresh-process honesty check."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from test_honesty import dishonest_rows

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.real.harvest import HarvestOptions, harvest

PACKAGE = {
    "__init__.py": "",
    "types.py": """
        import warp as wp


        @wp.struct
        class Particle:
            pos: wp.vec3
            mass: float
        """,
    "maths/__init__.py": "",
    "maths/basic.py": """
        import warp as wp

        SCALE = wp.constant(2.0)
        HALF = SCALE / 4.0


        @wp.func
        def scale(x: float):
            return x * SCALE * HALF
        """,
    "maths/helpers.py": """
        import warp as wp

        from .basic import scale


        @wp.func
        def double(x: float):
            return scale(x) + scale(x)
        """,
    "LICENSE": "Apache License\nVersion 2.0, January 2004\n",
    "util.py": """
        # SPDX-License-Identifier: MIT
        import warp as wp


        @wp.func
        def clamp01(x: float):
            return wp.clamp(x, 0.0, 1.0)


        @wp.func
        def double(x: float):
            return x + x
        """,
    "sim/__init__.py": "",
    "sim/kernels.py": """
        import warp as wp

        from pkg.types import Particle
        from ..maths.helpers import double
        from .. import util as u


        @wp.kernel
        def step(ps: wp.array(dtype=Particle), out: wp.array(dtype=float)):
            i = wp.tid()
            out[i] = u.clamp01(double(ps[i].mass)) + u.double(ps[i].pos[0])
        """,
    "ext.py": """
        import scipy
        import warp as wp


        @wp.func
        def shrink(x: float):
            return x * scipy.constants.golden
        """,
    "cfg.py": """
        import os

        N = int(os.getenv("N"))  # no default to write in its place: it can only be read
        """,
    "a.py": "from .b import thing\n",
    "b.py": "from .a import thing\n",
    "sim/bad.py": """
        import warp as wp

        from ..cfg import N
        from ..ext import shrink
        from ..a import thing
        from ..nowhere import gone


        @wp.kernel
        def needs_scipy(x: wp.array(dtype=float)):
            x[wp.tid()] = shrink(x[wp.tid()])


        @wp.kernel
        def runs_code(x: wp.array(dtype=float)):
            for k in range(N):
                x[wp.tid()] += 1.0


        @wp.kernel
        def cyclic(x: wp.array(dtype=float)):
            x[wp.tid()] = thing


        @wp.kernel
        def missing(x: wp.array(dtype=float)):
            x[wp.tid()] = gone
        """,
}


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle") / "pkg"
    for name, text in PACKAGE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


def test_a_kernel_gets_what_it_reaches_across_files(package):
    specs = {spec.name: spec for spec in harvest(HarvestOptions((str(package),))).specs}
    source = specs["step"].python_source
    for needed in ("class Particle:", "SCALE = wp.constant(2.0)", "HALF = SCALE / 4.0", "def scale(", "def clamp01("):
        assert needed in source
    assert "from ." not in source and "from pkg" not in source and "u." not in source
    # Two helpers named `double`: the one met second is renamed, and so is every use of it.
    assert "def double(" in source and "def double_2(" in source
    scaled = "double" if "def double(x: float):\n    return scale(x)" in source else "double_2"
    plain = {"double", "double_2"} - {scaled}
    assert f"out[i] = clamp01({scaled}(ps[i].mass)) + {plain.pop()}(ps[i].pos[0])" in source
    # Python defines in order: a file's definitions come after those of the files it needs.
    assert source.index("def scale(") < source.index(f"def {scaled}(") < source.index("def step(")
    assert specs["step"].origin == "pkg/sim/kernels.py::step"
    files = set(json.loads(specs["step"].recipe)["files"])
    assert files == {"pkg/types.py", "pkg/maths/basic.py", "pkg/maths/helpers.py", "pkg/util.py"}
    assert specs["step"].license == "Apache-2.0 AND MIT", "a row drawing on an MIT file carries both licences"


def test_what_cannot_be_bundled_is_a_counted_skip_naming_the_file(package):
    skipped = {failure.kind: failure.message for failure in harvest(HarvestOptions((str(package),))).skipped}
    assert skipped["needs_package"] == "pkg/sim/bad.py::needs_scipy: pkg/ext.py: needs package 'scipy'"
    assert skipped["not_a_declaration"].startswith("pkg/sim/bad.py::runs_code: pkg/cfg.py:3: N = int(os.getenv(")
    assert skipped["import_cycle"].startswith("pkg/sim/bad.py::cyclic: ")
    missing = "pkg/sim/bad.py::missing: pkg/sim/bad.py: no harvested file is 'pkg.nowhere.gone'"
    assert skipped["unresolved_import"] == missing


def test_bundled_rows_generate_and_are_honest(package, tmp_path):
    spec = next(spec for spec in harvest(HarvestOptions((str(package),))).specs if spec.name == "step")
    rows = []
    for device in ("cpu", "cuda"):
        stats = BuildStats()
        rows += list(build_rows([PlannedKernel(0, spec)], device, BuildOptions(validate="none"), stats))
        assert not stats.skipped, stats.first_error
    assert len(rows) == 2 and dishonest_rows(rows, tmp_path) == []


def test_single_file_kernels_keep_their_plain_slice(warp_harvest):
    """Nothing crosses a file in Warp's own examples and tests: each row is its file's statements,
    verbatim and in file order (only ``import warp as wp`` may be added, first)."""
    from generation.real.harvest import warp_package

    for spec in warp_harvest.specs[::7]:
        lines = (warp_package().parent / spec.origin.split("::")[0]).read_text().splitlines()
        row = [line for line in spec.python_source.splitlines() if line.strip()]
        row = row[1:] if row[0] == "import warp as wp" and "import warp as wp" not in lines else row
        at = 0
        for line in row:  # each line found after the one before it
            at = lines.index(line, at) + 1
        assert "def " + spec.name + "(" in spec.python_source, spec.origin


def test_relative_imports_into_warp_become_absolute_imports(tmp_path):
    """Harvesting Warp's own package: its relative imports name the installed warp, so the row imports them."""
    from generation.real.harvest import warp_package

    specs = harvest(HarvestOptions((str(warp_package() / "_src"),))).specs
    absolute = [spec for spec in specs if "from warp._src." in spec.python_source]
    assert len(absolute) >= 10 and not any("from ." in spec.python_source for spec in specs)
    stats = BuildStats()
    kernels = [PlannedKernel(k, spec) for k, spec in enumerate(absolute[:4])]
    rows = list(build_rows(kernels, "cpu", BuildOptions(), stats))
    assert len(rows) == 4, stats.first_error
    assert dishonest_rows(rows, tmp_path) == []
