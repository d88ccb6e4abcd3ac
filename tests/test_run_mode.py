"""Run mode (``harvest="run"``): the package is imported in a child process as in import mode, then
its own tests or examples run there, and every kernel Warp builds or launches while they run is
taken: factory products, kernels built in constructors, and each concrete overload a launch makes
of a generic kernel, one row per distinct specialisation, each honest in a fresh process."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

import pytest
from test_honesty import dishonest_rows

from generation import cli
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions, parse_options
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.plan.real import plan_real
from generation.pipeline.stats import BuildStats
from generation.real.harvest import HarvestOptions, harvest

PACKAGE = "wirp_run_pkg"
OPS = """
    from typing import Any

    import warp as wp


    def make_scale(factor: float):
        @wp.kernel
        def scale(a: wp.array(dtype=float)):
            i = wp.tid()
            a[i] = a[i] * factor

        return scale


    @wp.kernel
    def add(a: wp.array(dtype=Any), b: wp.array(dtype=Any)):
        i = wp.tid()
        a[i] = a[i] + b[i]


    class Smoother:
        def __init__(self, passes: int):
            @wp.kernel
            def smooth(a: wp.array(dtype=float), out: wp.array(dtype=float)):
                i = wp.tid()
                out[i] = a[i] * float(passes)

            self.kernel = smooth

        def __call__(self, a):
            out = wp.empty_like(a)
            wp.launch(self.kernel, dim=a.shape[0], inputs=[a, out], device="cpu")
            return out
    """
TESTS = """
    import warp as wp

    from wirp_run_pkg.ops import Smoother, add, make_scale


    def test_factories():
        for factor in (2.0, 3.0, 2.0):  # 2.0 twice: the same kernel
            a = wp.ones(4, dtype=float, device="cpu")
            wp.launch(make_scale(factor), dim=4, inputs=[a], device="cpu")


    def test_generic():
        a = wp.ones(4, dtype=float, device="cpu")
        wp.launch(add, dim=4, inputs=[a, a], device="cpu")
        v = wp.ones(4, dtype=wp.vec3, device="cpu")
        wp.launch(add, dim=4, inputs=[v, v], device="cpu")


    def test_constructor():
        Smoother(3)(wp.ones(4, dtype=float, device="cpu"))
    """
SLOW_TESTS = """
    import time

    import warp as wp

    from wirp_run_pkg.ops import make_scale


    def test_builds_then_hangs():
        wp.launch(make_scale(9.0), dim=4, inputs=[wp.ones(4, dtype=float, device="cpu")], device="cpu")
        time.sleep(600)
    """
CRASHING_TESTS = """
    import os
    import signal

    import warp as wp

    from wirp_run_pkg.ops import make_scale


    def test_before():
        wp.launch(make_scale(11.0), dim=4, inputs=[wp.ones(4, dtype=float, device="cpu")], device="cpu")


    def test_crashes():
        os.kill(os.getpid(), signal.SIGSEGV)


    def test_after():
        wp.launch(make_scale(13.0), dim=4, inputs=[wp.ones(4, dtype=float, device="cpu")], device="cpu")
    """
# A hostile test: it writes half a line into the file the child names each starting test in (found
# among the process's open files, as any code in the process can), then ends the process.
SCRIBBLING_TESTS = """
    import os
    import signal


    def test_scribbles_then_crashes():
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.endswith("tests_started.txt"):
                os.write(int(fd), b'["half a line')
        os.kill(os.getpid(), signal.SIGSEGV)
    """
# A hostile test that changes how the child writes its result (the tests run in the child).
GARBLING_TESTS = """
    import json


    def test_garbles_the_result():
        json.dumps = lambda *args, **kwargs: "[]"
    """
QUIET_TESTS = """
    import warp as wp

    from wirp_run_pkg.ops import make_scale

    wp.init()  # at import, as Warp's test files do (their devices are listed there)


    def test_warp_prints_nothing_unexpected(capfd):  # as Warp's own tests check their output (CheckOutput)
        @wp.kernel
        def shifted(a: wp.array(dtype=float)):
            a[wp.tid()] = a[wp.tid()] + wp.static(2.0 * 3.0)

        a = wp.ones(4, dtype=float, device="cpu")
        wp.launch(make_scale(4.0), dim=4, inputs=[a], device="cpu")
        wp.launch(shifted, dim=4, inputs=[a], device="cpu")
        assert [line for line in capfd.readouterr().out.splitlines() if "load on device" not in line] == []
    """
EXAMPLE = """
    import sys
    import time

    import warp as wp

    from wirp_run_pkg.ops import make_scale

    wp.launch(make_scale(5.0), dim=4, inputs=[wp.ones(4, dtype=float, device="cpu")], device="cpu")
    if sys.argv[1:] == ["--fail"]:
        raise RuntimeError("the example broke after its first kernel")
    if sys.argv[1:] == ["--hang"]:
        time.sleep(600)
    if sys.argv[1:] == ["--temp"]:  # a temporary file it never removes, as pytest's tmp_path and NVRTC's caches
        import tempfile

        tempfile.mkstemp(prefix="wirp-run-left-")
    if sys.argv[1:] == ["--data"]:  # reads the project's data where it lies, writes beside it
        factor = float(open("examples/factor.txt").read())
        wp.launch(make_scale(factor), dim=4, inputs=[wp.ones(4, dtype=float, device="cpu")], device="cpu")
        open("examples/written.txt", "w").write("written")
    """


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project as its authors keep it: the package, its tests, an example."""
    root = tmp_path_factory.mktemp("project")
    files = {f"{PACKAGE}/__init__.py": "", f"{PACKAGE}/ops.py": OPS, "tests/test_ops.py": TESTS}
    files["examples/demo.py"] = EXAMPLE
    files["examples/factor.txt"] = "7.0\n"
    files["slow_tests/test_slow.py"] = SLOW_TESTS
    files["crashing_tests/test_crash.py"] = CRASHING_TESTS
    files["scribbling_tests/test_scribble.py"] = SCRIBBLING_TESTS
    files["garbling_tests/test_garble.py"] = GARBLING_TESTS
    files["quiet_tests/test_quiet.py"] = QUIET_TESTS
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def run_harvest(project: Path, command: str, monkeypatch, **options):
    monkeypatch.chdir(project)  # the command's paths are relative to where the build starts
    return harvest(HarvestOptions((str(project / PACKAGE),), mode="run", run_command=command, **options))


@pytest.mark.long
def test_every_specialisation_a_run_builds_is_one_honest_row(project, monkeypatch, tmp_path):
    result = run_harvest(project, "pytest -q tests/test_ops.py", monkeypatch)
    recipes = [json.loads(spec.recipe) for spec in result.specs]
    origin = f"{PACKAGE}/ops.py"
    assert sorted(spec.origin for spec in result.specs) == [
        f"{origin}::Smoother.__init__.<locals>.smooth",
        f"{origin}::add[a1f4_a1f4]",
        f"{origin}::add[a1v3f4_a1v3f4]",
        f"{origin}::make_scale.<locals>.scale",
        f"{origin}::make_scale.<locals>.scale",
        f"{origin}::make_scale.<locals>.scale",
    ]
    assert {r["mode"] for r in recipes} == {"run"}
    assert {r["run"] for r in recipes} == {"pytest -q tests/test_ops.py"}
    assert sorted(r["built_by"] for r in recipes) == [  # node ids relative to where the build started
        "tests/test_ops.py::test_constructor",
        *["tests/test_ops.py::test_factories"] * 3,
        *["tests/test_ops.py::test_generic"] * 2,
    ]
    # The same factory value twice gives one row: the plan counts the repeat as a duplicate.
    options = BuildOptions(paths=(str(project / PACKAGE),), harvest="run", run_command="pytest -q tests/test_ops.py")
    plan = plan_real(options, result)
    skips = {str(r): n for stats in plan.stats.values() for r, n in stats.skipped.items()}
    assert skips == {"harvest:duplicate": 1}
    kernels = [k for split in plan.items.values() for k in split]
    rows = list(build_rows(kernels, "cpu", BuildOptions(), BuildStats()))
    assert len(rows) == 5
    assert sorted(
        "2.0" in r["python_source"] or "3.0" in r["python_source"] for r in rows if "scale" in r["kernel_name"]
    ) == [True, True]
    assert dishonest_rows(rows, tmp_path) == []
    # Import mode sees none of them: the factories are not called and the generic kernel has no overload.
    imported = harvest(HarvestOptions((str(project / PACKAGE),), mode="import"))
    imported_rows = list(
        build_rows([PlannedKernel(i, s) for i, s in enumerate(imported.specs)], "cpu", BuildOptions(), BuildStats())
    )
    assert imported_rows == []


def test_the_tests_run_with_warps_own_settings(project, monkeypatch, caplog):
    """Warp's own tests fail on any output they do not expect: the child leaves Warp's log level as a
    test run has it (at debug, Warp printed every module load and each such test failed)."""
    result = run_harvest(project, "pytest -q quiet_tests/test_quiet.py", monkeypatch)
    assert any("factor = 4.0" in spec.python_source for spec in result.specs)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_what_the_command_leaves_in_a_temporary_folder_is_removed_with_its_part(project, monkeypatch):
    """The command's temporary files go into its part's own folder, removed with it: Warp's own tests
    left 11 folders of NVRTC's precompiled headers (80-160 MB each) in the machine's /tmp."""
    for path in Path(tempfile.gettempdir()).glob("wirp-run-left-*"):
        path.unlink()  # a planted run's
    result = run_harvest(project, "python examples/demo.py --temp", monkeypatch)
    assert any("factor = 5.0" in spec.python_source for spec in result.specs)  # the command ran
    assert list(Path(tempfile.gettempdir()).glob("wirp-run-left-*")) == []


def test_the_command_runs_in_a_working_copy_of_the_project(project, monkeypatch):
    """Relative paths read the project as they would where the build started; what the command
    writes goes into the copy, which is removed: the project is left as it was."""
    result = run_harvest(project, "python examples/demo.py --data", monkeypatch)
    assert any("factor = 7.0" in spec.python_source for spec in result.specs)
    assert not (project / "examples" / "written.txt").exists()


def test_a_command_that_fails_partway_keeps_what_it_built(project, monkeypatch, caplog):
    result = run_harvest(project, "python examples/demo.py --fail", monkeypatch)
    recipes = {spec.origin: json.loads(spec.recipe) for spec in result.specs}
    assert recipes[f"{PACKAGE}/ops.py::make_scale.<locals>.scale"]["built_by"] == "demo.py"
    assert "built_by" not in recipes[f"{PACKAGE}/ops.py::add"]  # made by the import: generic, no launch
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "the run command 'python examples/demo.py --fail' RuntimeError: the example broke after its first kernel"
    ]


def test_a_command_past_its_time_limit_keeps_what_it_built(project, monkeypatch, caplog):
    result = run_harvest(project, "python examples/demo.py --hang", monkeypatch, run_timeout=3)
    assert sorted(json.loads(s.recipe)["kernel"] for s in result.specs) == ["add", "make_scale.<locals>.scale"]
    assert any("did not finish in 3 s" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("where", ["in the project", "outside it"])
def test_a_test_that_ends_the_process_is_left_out_and_the_rest_run(project, monkeypatch, caplog, tmp_path, where):
    """A test that kills the process (a crash in native code) would lose every kernel the command
    built: the command runs again without that test, which is named as ``built_by`` names tests (its
    file too where pytest's node id has none: a file given by its path outside the project), and the
    tests before and after it give their kernels."""
    command, named = "pytest -q crashing_tests", "crashing_tests/test_crash.py"
    if where == "outside it":  # as Warp's own tests are, from a build started in this project
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "test_crash.py").write_text(textwrap.dedent(CRASHING_TESTS))
        command, named = f"pytest -q {tmp_path / 'elsewhere' / 'test_crash.py'}", "test_crash.py"
    result = run_harvest(project, command, monkeypatch)
    built = sorted(json.loads(s.recipe)["built_by"] for s in result.specs if "factor = 1" in s.python_source)
    assert built == [f"{named}::test_after", f"{named}::test_before"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    crashed = f"the test {named}::test_crashes ended the process (exit code -11"
    assert any(w.startswith(crashed) and w.endswith("running the command again without it") for w in warnings)
    assert any(crashed in w for w in warnings if w.startswith("the run command 'pytest -q "))


@pytest.mark.parametrize(
    "tests, why",
    [
        ("scribbling_tests", "running the run command ended the process (exit code -11"),
        ("garbling_tests", "the run command left a result that is not what the child writes (TypeError"),
    ],
)
def test_a_test_that_garbles_what_the_child_writes_costs_only_the_command(project, monkeypatch, caplog, tests, why):
    """What the child writes (the record of which test started last, its result) is written inside
    the process the tests run in, so a test can garble it: the harvest then leaves the command out,
    says why in its one line, and keeps what the import gave, rather than failing on what it reads."""
    result = run_harvest(project, f"pytest -q {tests}", monkeypatch)
    imported = harvest(HarvestOptions((str(project / PACKAGE),), mode="import"))
    assert sorted(s.python_source for s in result.specs) == sorted(s.python_source for s in imported.specs)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(why in w for w in warnings), warnings


def test_a_pytest_run_past_its_time_limit_keeps_what_it_built(project, monkeypatch, caplog):
    """pytest ends its session at the limit, as on Ctrl-C; the kernels its tests built are taken."""
    result = run_harvest(project, "pytest -q slow_tests", monkeypatch, run_timeout=4)
    built = [json.loads(s.recipe) for s in result.specs if "factor = 9.0" in s.python_source]
    assert [r["built_by"] for r in built] == ["slow_tests/test_slow.py::test_builds_then_hangs"]
    assert any("did not finish in 4 s" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"harvest": "run"}, r"harvest='run' needs run_command .*, or packages="),
        ({"run_command": "pytest -q"}, r"run_command runs only in run mode: add harvest='run'"),
        ({"harvest": "run", "run_command": "bash -c 'rm -rf /'"}, r"run_command must be 'pytest ARGS', 'python FILE"),
        ({"harvest": "run", "run_command": "python"}, r"run_command must be 'pytest ARGS'"),
    ],
)
def test_bad_run_options_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        parse_options("real_cpu", values)


PAIRS = """
    import warp as wp


    def make_pair(dtype):
        pair = wp.struct(type("Pair", (), {"__annotations__": {"a": dtype, "b": dtype}}))

        @wp.kernel
        def total(p: pair, out: wp.array(dtype=dtype)):
            out[0] = p.a + p.b

        return total


    TOTAL = make_pair(wp.float64)


    def unrolled(a: wp.array(dtype=float)):
        for k in range(4):
            a[k] = float(k)


    UNROLLED = wp.Kernel(unrolled, key="unrolled", options={"max_unroll": 2, "block_dim": 256})  # as fem does
    """


def test_kernels_code_builds_are_written_as_declarations(tmp_path):
    """Packages build ``@wp.struct`` types with ``type(...)`` and kernels with ``wp.Kernel(options=...)``
    (Warp's own ``fem`` does both): with no class source to read, the row declares the struct's
    fields with the types Warp holds; an option the decorator does not take is the row module's."""
    (tmp_path / "pairs.py").write_text(textwrap.dedent(PAIRS))
    result = harvest(HarvestOptions((str(tmp_path / "pairs.py"),), mode="import"))
    assert result.skipped == []
    specs = {spec.name: spec for spec in result.specs}
    assert "@wp.struct\nclass Pair:\n    a: wp.float64\n    b: wp.float64\n" in specs["total"].python_source
    assert "wp.set_module_options({'max_unroll': 2})" in specs["unrolled"].python_source
    kernels = [PlannedKernel(k, spec) for k, spec in enumerate(result.specs)]
    rows = list(build_rows(kernels, "cpu", BuildOptions(), BuildStats()))
    assert len(rows) == 2 and dishonest_rows(rows, tmp_path) == []
    assert "start_for" in next(r["forward"] for r in rows if r["kernel_name"] == "unrolled")  # 4 > 2: not unrolled


def test_a_run_mode_build_through_the_cli(project, monkeypatch, tmp_path):
    """The options as a user gives them; the card states the command without a machine path."""
    monkeypatch.chdir(project)
    out = tmp_path / "data"
    command = f"python {project / 'examples' / 'demo.py'}"
    args = ["build", "real_cpu", "--paths", PACKAGE, "--harvest", "run", "--run-command", command, "--out", str(out)]
    assert cli.main(args) == 0
    import datasets

    rows = [row for split in datasets.load_dataset("parquet", data_dir=str(out / "real_cpu")).values() for row in split]
    assert [json.loads(r["metadata"]["recipe"])["run"] for r in rows] == ["python demo.py"]
    assert str(project) not in (out / "README.md").read_text()


INNER = "wirp_inner_pkg"  # a package that keeps its tests inside it, with a conftest.py, as Warp does
INNER_FILES = {
    f"{INNER}/__init__.py": "",
    f"{INNER}/_src/__init__.py": "",
    f"{INNER}/_src/ops.py": """
        import warp as wp


        def make_shift(offset: float):
            @wp.kernel
            def shift(a: wp.array(dtype=float)):
                i = wp.tid()
                a[i] = a[i] + offset

            return shift
        """,
    f"{INNER}/_src/conftest.py": """
        import pytest


        @pytest.fixture
        def offsets():
            return (1.0, 2.0)
        """,
    f"{INNER}/_src/ops_test.py": """
        import warp as wp

        from wirp_inner_pkg._src.ops import make_shift


        def test_shifts(offsets):
            for offset in offsets:
                wp.launch(make_shift(offset), dim=4, inputs=[wp.ones(4, dtype=float, device="cpu")], device="cpu")
        """,
    f"{INNER}/_src/broken_test.py": """
        import wirp_no_such_module  # noqa: F401
        """,
    # outside the package: pytest rewrites its asserts (the harvest imported the package's before pytest)
    "tests/failing_test.py": """
        def test_lists():
            assert [1, 2] == [1, 3]
        """,
}


@pytest.fixture(scope="module")
def inner_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inner")
    for name, text in INNER_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_tests_inside_the_package_run_on_the_files_harvested(inner_project, monkeypatch, caplog, absolute):
    """The package and its tests are one set of files in the child, however the tests are named:
    pytest loads the package's ``conftest.py`` the harvest imported, and ``built_by`` names the
    test file as rows name the package's files."""
    test = f"{INNER}/_src/ops_test.py"
    command = f"pytest -q {inner_project / test if absolute else test}"
    monkeypatch.chdir(inner_project)
    result = harvest(HarvestOptions((str(inner_project / INNER),), mode="run", run_command=command))
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
    built = sorted(json.loads(spec.recipe)["built_by"] for spec in result.specs)
    assert built == [f"{test}::test_shifts"] * 2
    imported = harvest(HarvestOptions((str(inner_project / INNER),), mode="import"))
    assert len(result.specs) >= 2 and imported.specs == []


@pytest.mark.parametrize(
    "command, says",
    [
        (
            f"pytest -q {INNER}/_src/no_such_test.py",
            "pytest exited with 4 (usage_error): ERROR: file or directory not found",
        ),
        (f"pytest -q {INNER}/_src/broken_test.py", "ModuleNotFoundError: No module named 'wirp_no_such_module'"),
        ("pytest -q tests/failing_test.py", "failing_test.py::test_lists failed: assert [1, 2] == [1, 3]"),
    ],
    ids=["usage", "collection", "assertion"],
)
def test_a_failed_run_command_says_why(inner_project, monkeypatch, caplog, command, says):
    monkeypatch.chdir(inner_project)
    harvest(HarvestOptions((str(inner_project / INNER),), mode="run", run_command=command))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and says in warnings[0], warnings


def test_parts_run_side_by_side_and_merge(project, monkeypatch):
    """Several commands are parts, each in a child of its own: a kernel two parts took is one
    kernel, a definition one part made is not an unmade one, and each kernel records its part."""
    parts = ("pytest -q tests/test_ops.py::test_factories", "pytest -q tests/test_ops.py::test_generic")
    result = run_harvest(project, (*parts, parts[0]), monkeypatch)
    recipes = sorted(
        (json.loads(spec.recipe) for spec in result.specs), key=lambda r: (r["kernel"], r.get("overload", ""))
    )
    assert [(r["kernel"], r.get("overload", ""), r["run"], r.get("built_by", "")) for r in recipes] == [
        ("add", "a1f4_a1f4", parts[1], "tests/test_ops.py::test_generic"),
        ("add", "a1v3f4_a1v3f4", parts[1], "tests/test_ops.py::test_generic"),
        ("make_scale.<locals>.scale", "", parts[0], "tests/test_ops.py::test_factories"),
        ("make_scale.<locals>.scale", "", parts[0], "tests/test_ops.py::test_factories"),
    ]
    # Smoother's kernel: no part made it, so it is one unmade definition, not one per part.
    assert [f.kind for f in result.skipped] == ["not_created"]
