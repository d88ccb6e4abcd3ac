"""Static mode reads the declaration patterns real packages use around their kernels, each as a
declaration (nothing from the file runs): enum classes, subclasses of Warp vector types, imports
guarded by ``try``/``except ImportError``, ``if TYPE_CHECKING:`` blocks, and settings read from the
environment with a literal default (written as the default)."""

from __future__ import annotations

import textwrap

from test_honesty import dishonest_rows

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.real.harvest import HarvestOptions, harvest

PATTERNS = """
    import enum
    import os
    from enum import IntEnum
    from typing import TYPE_CHECKING

    import warp as wp

    try:
        from typing import Any
    except ImportError:
        from typing_extensions import Any

    try:
        import scipy
    except ImportError:
        import math as scipy

    if TYPE_CHECKING:
        from numpy.typing import NDArray


    class Kind(IntEnum):
        \"\"\"Particle kinds.\"\"\"

        FLUID = 0
        SOLID = enum.auto()


    class vec10f(wp.types.vector(length=10, dtype=float)):
        pass


    TILE = int(os.getenv("WIRP_TILE", 64))
    SCALE = float(os.environ.get("WIRP_SCALE", "2.5"))


    @wp.func
    def first(v: vec10f) -> float:
        return v[0] * scipy.pi


    @wp.kernel
    def by_kind(kind: wp.array(dtype=int), v: wp.array(dtype=vec10f), out: wp.array(dtype=Any)):
        i = wp.tid()
        if kind[i] == Kind.SOLID:
            out[i] = first(v[i]) * SCALE + float(TILE)


    wp.overload(by_kind, {"out": wp.array(dtype=float)})
    """


def test_the_patterns_give_honest_rows_and_run_nothing(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "kinds.py").write_text(textwrap.dedent(PATTERNS))
    monkeypatch.setenv("WIRP_TILE", "999")  # the builder's environment does not reach the row
    result = harvest(HarvestOptions((str(tmp_path / "pkg"),)))
    assert result.skipped == []
    [spec] = result.specs
    source = spec.python_source
    assert "TILE = int(64)" in source and 'SCALE = float("2.5")' in source
    assert "import os" not in source and "TYPE_CHECKING" not in source and "NDArray" not in source
    assert "from typing import Any" in source and "import math as scipy" in source
    assert "class Kind(IntEnum)" in source and "class vec10f(wp.types.vector(length=10, dtype=float))" in source
    rows = list(build_rows([PlannedKernel(0, spec)], "cpu", BuildOptions(), BuildStats()))
    assert len(rows) == 1 and "var_" in rows[0]["forward"]
    assert dishonest_rows(rows, tmp_path) == []


def test_an_environment_read_whose_default_runs_code_is_not_a_declaration(tmp_path):
    marker = tmp_path / "MARKER"
    (tmp_path / "bad.py").write_text(
        textwrap.dedent(f"""
        import os
        import warp as wp

        N = int(os.getenv("WIRP_N", os.system("touch {marker}")))


        @wp.kernel
        def k(a: wp.array(dtype=int)):
            a[wp.tid()] = N
        """)
    )
    result = harvest(HarvestOptions((str(tmp_path / "bad.py"),)))
    assert [f.kind for f in result.skipped] == ["not_a_declaration"] and "bad.py:5" in result.skipped[0].message
    list(build_rows([], "cpu", BuildOptions(), BuildStats()))
    assert not marker.exists()


GENERICS = """
    from typing import Any

    import warp as wp


    @wp.kernel
    def by_any(a: wp.array(dtype=Any)):
        a[0] = a[0]


    @wp.kernel
    def by_alias(x: wp.Float, a: wp.array(dtype=float)):
        a[0] = float(x)


    @wp.kernel
    def by_missing_dtype(a: wp.array(ndim=2)):
        a[0, 0] = a[0, 0]


    @wp.kernel
    def overloaded(a: wp.array(dtype=Any)):
        a[0] = a[0]


    wp.overload(overloaded, {"a": wp.array(dtype=wp.float32)})


    @wp.kernel
    def concrete(a: wp.array(dtype=float)):
        a[0] = 1.0
    """


def test_generic_kernels_without_an_overload_are_counted_at_harvest(tmp_path):
    """Before the plan deals files to the splits, so that held-out splits are dealt kernels that build
    (a corpus full of generic kernels left its validation split with 1 row of 30)."""
    (tmp_path / "generics.py").write_text(textwrap.dedent(GENERICS))
    result = harvest(HarvestOptions((str(tmp_path / "generics.py"),)))
    assert sorted(s.name for s in result.specs) == ["concrete", "overloaded"]
    assert sorted((f.kind, f.message.split(":")[2]) for f in result.skipped) == [
        ("GenericKernelError", "by_alias"),
        ("GenericKernelError", "by_any"),
        ("GenericKernelError", "by_missing_dtype"),
    ]
    kernels = [PlannedKernel(k, spec) for k, spec in enumerate(result.specs)]
    assert len(list(build_rows(kernels, "cpu", BuildOptions(), BuildStats()))) == 2
