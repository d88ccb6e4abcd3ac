"""Static harvest runs nothing from the files it reads: a call planted in any expression that
importing a row would evaluate (decorator arguments, defaults, annotations, struct bodies, constants,
overload and module-option lines, ``wp.static``) makes its kernel a counted ``not_a_declaration``
skip naming the line, and building every row that remains leaves no trace of the planted code."""

from __future__ import annotations

import itertools

import pytest

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.real.harvest import HarvestOptions, harvest

# Each call touches its marker file (or reads a file) when it runs; ``{m}`` is the marker's path.
CALLS = {
    "os_system": 'os.system("touch {m}")',
    "subprocess": 'subprocess.run(["touch", "{m}"]).returncode',
    "open": 'len(open("{m}", "w").name)',
    "numpy_io": '(np.save("{m}", np.zeros(1)) or 0)',
    "dunder_import": '__import__("os").system("touch {m}")',
    "eval": "eval(\"__import__('os').system('touch {m}')\")",
    "exec": "(exec(\"import os; os.system('touch {m}')\") or 0)",
    "getattr": 'getattr(os, "system")("touch {m}")',
    "lambda": '(lambda: os.system("touch {m}"))()',
    "dunder_escape": 'wp.__builtins__["exec"]("import os; os.system(\'touch {m}\')") or 0',
    "rebound_builtin": 'int("touch {m}")',  # the file rebinds ``int`` to ``os.system``
    "builtin_type": 'type("T", (), {{"__eq__": lambda s, o: os.system("touch {m}")}})() == 0',
}
HEADER = "import os\nimport subprocess\n\nimport numpy as np\nimport warp as wp\n\nint = os.system\n"
# Each position's file: a kernel ``k`` whose row would evaluate ``{call}`` once on import or codegen.
POSITIONS = {
    "decorator": """
@wp.kernel(enable_backward=bool({call}))
def k(a: wp.array(dtype=float)):
    a[wp.tid()] = 1.0
""",
    "default": """
@wp.func
def helper(x: float, y: float = float({call})):
    return x + y


@wp.kernel
def k(a: wp.array(dtype=float)):
    a[wp.tid()] = helper(1.0)
""",
    "annotation": """
@wp.kernel
def k(a: wp.array(dtype=float, ndim=0 * ({call}) + 1)):
    a[wp.tid()] = 1.0
""",
    "string_annotation": """
@wp.kernel
def k(a: '''wp.array(dtype=float, ndim=0 * ({call}) + 1)'''):
    a[wp.tid()] = 1.0
""",
    "struct_body": """
@wp.struct
class S:
    x: float = float({call})


@wp.kernel
def k(s: S, a: wp.array(dtype=float)):
    a[wp.tid()] = s.x
""",
    "constant": """
C = wp.constant(float({call}))


@wp.kernel
def k(a: wp.array(dtype=float)):
    a[wp.tid()] = C
""",
    "overload": """
@wp.kernel
def k(a: wp.array(dtype=Any)):
    a[wp.tid()] = a.dtype(1.0)


wp.overload(k, {{"a": wp.array(dtype=wp.float32, ndim=0 * ({call}) + 1)}})
""",
    "module_options": """
wp.set_module_options({{"enable_backward": bool({call})}})


@wp.kernel
def k(a: wp.array(dtype=float)):
    a[wp.tid()] = 1.0
""",
    "static": """
@wp.kernel
def k(a: wp.array(dtype=float)):
    a[wp.tid()] = wp.static(float({call}))
""",
}
# The same positions holding declarations: each must still give a row (but a string annotation,
# which Warp 1.19 reads as a type's name without evaluating it, so no row can have one).
HARMLESS = "wp.int32(0) * 2 + len((1, 2)) - 2"
CLEAN = [position for position in POSITIONS if position != "string_annotation"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    markers = root / "markers"
    markers.mkdir()
    files = root / "files"
    files.mkdir()
    for (position, template), (name, call) in itertools.product(POSITIONS.items(), CALLS.items()):
        text = template.format(call=call.format(m=markers / f"{position}-{name}"))
        (files / f"{position}__{name}.py").write_text(HEADER + "from typing import Any\n\n" + text)
    for position in CLEAN:
        clean = POSITIONS[position].format(call=HARMLESS)
        (files / f"{position}__clean.py").write_text("from typing import Any\n\nimport warp as wp\n\n" + clean)
    return files, markers


def test_static_harvest_runs_nothing_from_the_files(planted):
    files, markers = planted
    result = harvest(HarvestOptions((str(files),)))
    skipped = {f.message.split("::")[0]: f for f in result.skipped}
    for position, name in itertools.product(POSITIONS, CALLS):
        failure = skipped.get(f"files/{position}__{name}.py")
        assert failure is not None and failure.kind == "not_a_declaration", (position, name)
        assert f"files/{position}__{name}.py:" in failure.message  # names the file and line
    # Every row that remains generates (as a build would) and leaves no marker behind.
    stats = BuildStats()
    planned = [PlannedKernel(k, spec) for k, spec in enumerate(result.specs)]
    rows = list(build_rows(planned, "cpu", BuildOptions(), stats))
    assert sorted(path.name for path in markers.iterdir()) == []
    # Declarations in the same positions are accepted: the check is not a blanket refusal.
    assert sorted(row["metadata"]["origin"] for row in rows) == sorted(f"files/{p}__clean.py::k" for p in CLEAN), (
        stats.first_error
    )


def test_a_row_imports_only_what_its_declarations_read(tmp_path):
    """An import that only a refused or unneeded statement used is not in the row."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "k.py").write_text(
        "import os\nimport math\nimport warp as wp\n\nHOME = os.getcwd()\nHALF = math.pi / 2.0\n\n\n"
        "@wp.kernel\ndef k(a: wp.array(dtype=float)):\n    a[wp.tid()] = HALF\n"
    )
    (spec,) = harvest(HarvestOptions((str(tmp_path / "pkg"),))).specs
    assert "import math" in spec.python_source and "os" not in spec.python_source
