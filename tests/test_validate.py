"""Compiled truth: PTX rows, compile and run validation, and planted failures counted, never lost."""

from __future__ import annotations

import json

import pytest
import warp as wp
from conftest import load, run_python, shared_folder
from direct import run_kernel

from generation.generated.generator import generate
from generation.pipeline import checks
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats, Reason
from generation.source.features import launch_of
from generation.source.spec import KernelSpec

HEADER = "import warp as wp\n\n\n"

PLANTED = {
    # Generates fine, but the native snippet is not valid C++: only a compiler can tell.
    "compile_error": HEADER
    + '@wp.func_native("out[tid] = no_such_function(a[tid]);")\n'
    + "def broken(a: wp.array(dtype=float), out: wp.array(dtype=float), tid: int): ...\n\n\n"
    + "@wp.kernel\ndef compile_error(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n"
    + "    i = wp.tid()\n    broken(a, out, i)\n",
    # Warp's code generator rejects a float plus a vector.
    "codegen_error": HEADER
    + "@wp.kernel\ndef codegen_error(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n"
    + "    i = wp.tid()\n    out[i] = a[i] + wp.vec3(1.0, 2.0, 3.0)\n",
    # Reads past the end of its input: only a bounds-checked launch can tell.
    "out_of_range": HEADER
    + "@wp.kernel\ndef out_of_range(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n"
    + "    i = wp.tid()\n    out[i] = a[i + 7]\n",
    # Overflows to infinity on ordinary inputs.
    "overflow": HEADER
    + "@wp.kernel\ndef overflow(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n"
    + "    i = wp.tid()\n    out[i] = wp.exp(wp.abs(a[i]) * 1000.0)\n",
}


def planted(name: str, index: int) -> PlannedKernel:
    return PlannedKernel(index, KernelSpec(name, "planted", "a kernel broken on purpose", PLANTED[name]))


def batch(*planted_names: str) -> list[PlannedKernel]:
    """Generated neighbours around each planted kernel."""
    kernels = [PlannedKernel(0, generate("arithmetic", 1, 0))]
    for k, name in enumerate(planted_names, start=1):
        kernels += [planted(name, 100 + k), PlannedKernel(k, generate("vector", 1, k))]
    return kernels


def test_compile_validation_counts_planted_failures_and_keeps_neighbours():
    options = BuildOptions(num_examples=1, validate="compile")
    stats = BuildStats()
    kernels = batch("compile_error", "codegen_error")
    rows = list(build_rows(kernels, "cpu", options, stats))
    assert stats.rows + stats.total_skipped == len(kernels)  # every kernel is a row or a counted skip
    assert [r["kernel_name"] for r in rows] == [k.spec.name for k in batch()[:1]] + [
        generate("vector", 1, 1).name,
        generate("vector", 1, 2).name,
    ]
    assert all(r["metadata"]["validation"] == ["codegen", "compile"] for r in rows)
    assert stats.rows == 3
    compile_reason, codegen_reason = Reason("compile", "cpu"), Reason("codegen", "WarpCodegenError")
    assert stats.skipped == {compile_reason: 1, codegen_reason: 1}
    assert "compile_error" in stats.first_error[compile_reason]
    assert "codegen_error" in stats.first_error[codegen_reason]


def test_every_kind_of_skip_is_replaced_in_its_place():
    """A kernel that fails code generation, the compile check or the run check gives its place to
    the group's next reserve kernel, which goes through every stage in turn: the group keeps its
    size, and every draw is a row or a counted skip."""
    good = [PlannedKernel(k, generate("vector", 1, k)) for k in range(2)]
    kernels = [good[0], planted("codegen_error", 101), good[1], planted("compile_error", 102)]
    kernels += [planted("out_of_range", 103)]
    reserve = [planted("codegen_error", 104), *(PlannedKernel(200 + k, generate("math", 1, k)) for k in range(3))]
    stats = BuildStats(requested=5)
    rows = list(build_rows(kernels, "cpu", BuildOptions(validate="run"), stats, reserve))
    # round one: places 1, 3 and 4 fail and take 104, 200 and 201; round two: 104 fails, 202 takes place 1
    assert [r["metadata"]["index"] for r in rows] == [0, 202, 1, 200, 201]
    assert stats.replaced == 4 and set(stats.skipped) == {
        Reason("codegen", "WarpCodegenError"),
        Reason("compile", "cpu"),
        Reason("run", "crashed"),
    }
    assert stats.rows + stats.total_skipped == stats.requested + stats.replaced


def test_a_run_validated_build_compiles_each_kernel_once(monkeypatch):
    """The run check builds each kernel as its launch does, so a run-validated ``cpu`` build starts no
    compile check of its own: a kernel that does not build is counted under ``compile:cpu`` all the
    same, by the run check, and its neighbours run. A ``cuda`` build's compile check (NVRTC) still runs."""
    started = []
    compile_errors = checks.RUNNERS["compile"]
    monkeypatch.setitem(checks.RUNNERS, "compile", lambda *args: started.append(args[1]) or compile_errors(*args))
    stats = BuildStats()
    rows = list(build_rows(batch("compile_error"), "cpu", BuildOptions(num_examples=1, validate="run"), stats))
    assert started == []
    assert len(rows) == 2 and all(r["metadata"]["validation"] == ["codegen", "compile", "run"] for r in rows)
    assert stats.skipped == {Reason("compile", "cpu"): 1}, stats.skipped
    assert "compile_error: cpu compile failed" in stats.first_error[Reason("compile", "cpu")]
    kernels = [PlannedKernel(0, generate("arithmetic", 1, 0))]
    rows = list(build_rows(kernels, "cuda", BuildOptions(num_examples=1, validate="run"), BuildStats()))
    assert started == ["cuda"] and rows[0]["metadata"]["validation"] == ["codegen", "compile", "run"]


def test_a_group_whose_reserve_runs_out_is_short_and_counts_it():
    kernels = [planted("codegen_error", 101), PlannedKernel(0, generate("vector", 1, 0)), planted("compile_error", 102)]
    stats = BuildStats(requested=3)
    rows = list(build_rows(kernels, "cpu", BuildOptions(validate="compile"), stats, [planted("codegen_error", 103)]))
    assert [r["metadata"]["index"] for r in rows] == [0]
    assert stats.rows + stats.total_skipped == stats.requested + stats.replaced == 4


def test_without_validation_the_compile_error_is_not_seen():
    stats = BuildStats()
    rows = list(build_rows(batch("compile_error"), "cpu", BuildOptions(num_examples=1), stats))
    assert len(rows) == 3 and not stats.skipped
    assert all(r["metadata"]["validation"] == ["codegen"] for r in rows)


def test_run_validation_catches_an_out_of_range_read_and_an_overflow():
    options = BuildOptions(num_examples=1, validate="run")
    stats = BuildStats()
    kernels = batch("out_of_range", "overflow")
    rows = list(build_rows(kernels, "cpu", options, stats))
    assert stats.rows + stats.total_skipped == len(kernels)
    assert len(rows) == 3 and stats.rows == 3
    assert all(r["metadata"]["validation"] == ["codegen", "compile", "run"] for r in rows)
    # Warp's bounds check aborts the process; the overflow is caught by the finite-output check.
    assert stats.skipped == {Reason("run", "crashed"): 1, Reason("run", "RunCheckError"): 1}, stats.skipped
    crashed = stats.first_error[Reason("run", "crashed")]
    assert "out_of_range" in crashed and "arr.shape" in crashed, crashed  # Warp's bounds-check assertion
    overflow = stats.first_error[Reason("run", "RunCheckError")]
    assert "overflow" in overflow and "non-finite values in out" in overflow


def test_a_run_check_child_that_crashes_leaves_no_temporary_files(tmp_path, monkeypatch):
    """A kernel that aborts its child leaves behind what the child could not remove (Warp's precompiled
    header, about 5 MB, in its temporary folder): the check removes it, so the build's TMPDIR is as it was."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    code = (
        "from generation.backend.run_check import run_checks\n"
        f"print(run_checks([({PLANTED['out_of_range']!r}, 'out_of_range')], 1)[0].kind)"
    )
    assert run_python(code) == "crashed"
    assert list(temp.iterdir()) == []


def test_run_check_children_read_the_shared_header_and_make_their_own_when_it_is_refused(tmp_path, monkeypatch, caplog):
    """Run-check children read the precompiled header made once in the user's cache instead of each
    running Clang on Warp's prelude; one Clang refuses (damaged, or from another Warp) is left for
    Warp's own, and the kernels are judged the same: a clean one passes, a bounds violation crashes."""
    from generation.backend import run_check

    monkeypatch.setenv("WARP_IR_PAIRS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(run_check, "_shared_header", run_check.header.shared_header)  # not the process's own
    caplog.set_level("DEBUG", logger=run_check.__name__)
    kernels = [(generate("vector", 1, 0).python_source, generate("vector", 1, 0).name)]
    kernels += [(PLANTED["out_of_range"], "out_of_range")]

    def judged() -> tuple[list, list[str]]:
        caplog.clear()
        kinds = [failure.kind if failure else None for failure in run_check.run_checks(kernels, 1)]
        return kinds, [record.getMessage().split(": ", 1)[1][:7] for record in caplog.records]

    assert judged() == ([None, "crashed"], ["read"])
    (made,) = (tmp_path / "cache" / "headers").iterdir()
    made.write_bytes(b"not a precompiled header")
    assert judged() == ([None, "crashed"], ["refused"])


def test_run_validation_leaves_warps_kernel_cache_alone(tmp_path, monkeypatch):
    """Each launch builds a module; they go to a temporary cache, not Warp's (or the user's) own."""
    user_cache = tmp_path / "warp_cache"
    monkeypatch.setenv("WARP_CACHE_PATH", str(user_cache))
    kernels = [PlannedKernel(k, generate("vector", 1, k)) for k in range(3)]
    rows = list(build_rows(kernels, "cpu", BuildOptions(num_examples=3, validate="run"), BuildStats()))
    assert len(rows) == 3 and all("run" in r["metadata"]["validation"] for r in rows)
    built = [p.name for p in user_cache.rglob("wp_*")] if user_cache.exists() else []
    assert not built, built


@pytest.fixture(scope="session")
def ptx_build(tmp_path_factory):
    """PTX rows of tile kernels (mathdx's GEMM would apply to them) and of two other families."""
    options = {"num_examples": 5, "num_validation": 0, "num_test": 0, "categories": "tile,arithmetic,vector"}
    return load("ptx", shared_folder(tmp_path_factory, "hf_cache"), **options)


def test_ptx_rows_hold_the_entries_of_the_right_kernels(ptx_build):
    for row in ptx_build["train"]:
        name = row["metadata"]["mangled_name"]
        assert row["device"] == "ptx"
        assert row["forward"].startswith(f".visible .entry {name}_cuda_kernel_forward(")
        assert row["backward"].startswith(f".visible .entry {name}_cuda_kernel_backward(")
        assert row["forward"] in row["code"] and row["code"].lstrip().startswith("//")
        meta = row["metadata"]
        assert meta["arch"] == 80 and ".target sm_80" in row["code"]
        assert meta["ptx_isa"] and meta["cuda_version"]
        assert meta["validation"] == ["codegen", "compile"]
        assert meta["mathdx"] is False


REFERENCE_PTX = r"""
import hashlib, json, linecache, sys, tempfile, types
import warp as wp
wp.config.log_level = wp.LOG_ERROR
wp.config.enable_mathdx_gemm = wp.config.enable_mathdx_solver = wp.config.enable_mathdx_fft = False  # metadata.mathdx
wp.init()
out = []
for src in json.load(open(sys.argv[1])):
    name = "wirp_" + hashlib.sha256(src.encode()).hexdigest()[:16]
    linecache.cache[name + ".py"] = (len(src), None, src.splitlines(True), name + ".py")
    module = types.ModuleType(name)
    module.__file__ = name + ".py"
    sys.modules[name] = module
    exec(compile(src, name + ".py", "exec"), module.__dict__)
    with tempfile.TemporaryDirectory() as d:
        (path,) = wp.compile_aot_module(module, arch=80, use_ptx=True, module_dir=d)
        out.append(open(path).read())
print(json.dumps(out))
"""


def _reference_ptx(sources: list[str], tmp_path) -> list[str]:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(sources))
    return json.loads(run_python(REFERENCE_PTX, str(path)))


def test_ptx_rows_match_a_fresh_process_compile(ptx_build, tmp_path):
    """Reproducible PTX: module names come from content, so another process compiles the same text,
    tile rows included, with the public ``wp.compile_aot_module`` and mathdx as the rows record it.
    Rows with helpers get a process each (Warp names helpers with a process-wide counter)."""
    rows = list(ptx_build["train"])
    assert any("tile" in row["metadata"]["features"] for row in rows)
    plain = [row for row in rows if "@wp.func" not in row["python_source"]]
    expected = [row["code"] for row in plain] + [row["code"] for row in rows if row not in plain]
    compiled = _reference_ptx([row["python_source"] for row in plain], tmp_path) if plain else []
    compiled += [_reference_ptx([row["python_source"]], tmp_path)[0] for row in rows if row not in plain]
    assert compiled == expected


def _gpu_available() -> bool:
    from generation.backend import warp_api

    warp_api.init_warp()
    return wp.is_cuda_available()


@pytest.mark.skipif(not _gpu_available(), reason="no CUDA device: the GPU launch check needs one")
def test_cuda_rows_launch_on_a_gpu_with_finite_outputs(tmp_path):
    """Where a GPU is available, every generated kernel of a small build runs on it."""
    ds = load("cuda", tmp_path, num_examples=33, num_validation=0, num_test=0, seed=4)
    failures = {}
    for row in ds["train"]:
        try:
            run_kernel(row["python_source"], row["kernel_name"], seed=4, device="cuda:0")
        except Exception as error:  # collected, so one report names every kernel that failed
            failures[row["kernel_name"]] = f"{type(error).__name__}: {error}"
    assert not failures, failures


def test_a_category_none_of_whose_kernels_runs_fails_before_the_build(monkeypatch):
    """A run-validated build probes each asked-for category first: one whose kernels all fail the run
    check is named, instead of being replaced away without a word."""
    from generation.generated import generator
    from generation.generated.parts import KernelParts
    from generation.pipeline.plan import generated, plan_splits

    def reads_past_the_end(rng, profile, policy):
        return KernelParts(
            "reads_past_the_end", ["out[i] = a[i + 7]"], "reads past the end of a.",
            [("a", "wp.array(dtype=float)")], [("out", "wp.array(dtype=float)")],
        )  # fmt: skip

    monkeypatch.setitem(generator.CATEGORIES, "planted", reads_past_the_end)
    generated.check_categories_run.cache_clear()
    options = BuildOptions(num_examples=4, validate="run", categories=("planted", "arithmetic"))
    with pytest.raises(ValueError) as error:
        plan_splits(options, "cpu")
    assert "planted (6 of 6 failed: crashed)" in str(error.value) and "arithmetic" not in str(error.value)


@pytest.mark.parametrize("annotation", ["wp.array(dtype=int)", "wp.array[int]", "wp.array[wp.int32]"])
def test_csr_offsets_are_read_in_either_annotation_form(annotation):
    """The run check fills an int array read at ``i + 1`` with monotone offsets, whatever form
    annotates it: read as a float array, ``range(start, end)`` ran past the values' end."""
    from generation.backend.run_check import run_checks

    source = f"""import warp as wp


@wp.kernel
def segment_sum(offsets: {annotation}, values: wp.array[float], out: wp.array[float]):
    i = wp.tid()
    acc = float(0.0)
    for k in range(offsets[i], offsets[i + 1]):
        acc += values[k]
    out[i] = acc
"""
    assert launch_of(source, "segment_sum").offsets == {"offsets"}
    assert run_checks([(source, "segment_sum")], seed=1) == [None]


VALUE_INTS = """import warp as wp


@wp.func
def pick(a: wp.array(dtype=float), k: int):
    return a[k % 4]


@wp.func
def twice(k: int):
    return k * 2


@wp.kernel
def k(flags: wp.array(dtype=int), edges: wp.array2d(dtype=int), counts: wp.array(dtype=int),
      slots: wp.array(dtype=int), hist: wp.array(dtype=int), picks: wp.array(dtype=int), held: wp.array(dtype=int),
      sorted_keys: wp.array(dtype=int), values: wp.array(dtype=float), out: wp.array(dtype=int)):
    i = wp.tid()
    if (flags[i] & 1) == 0:
        return
    a = edges[i, 0]
    s = float(0.0)
    for c in range(counts[i]):
        s += values[c]
    wp.atomic_add(hist, slots[i], 1)
    t = picks[i] + 1
    s += pick(values, t)
    out[i] = twice(held[i]) + wp.abs(flags[i]) + int(values[a] + s) + wp.lower_bound(sorted_keys, 3)
"""


def test_integer_arrays_that_hold_values_only_are_told_from_those_a_kernel_indexes_with():
    """What the evaluation may draw negative and large (``Launch.value_ints``): not an index
    (``edges``), a loop's count (``counts``), an atomic's slot (``slots``), an array an atomic writes
    (``hist``), a value a helper indexes with through a local (``picks``), nor an array a builtin reads
    whole (``sorted_keys``: ``wp.lower_bound`` needs it sorted); a value a helper only computes with
    (``held``), a flag and an output are."""
    assert launch_of(VALUE_INTS, "k").value_ints == {"flags", "held", "out"}


def test_a_build_where_every_kernel_fails_stops_with_the_first_errors(monkeypatch):
    """Replacements come from the split's stream without end, so a machine where no kernel can be
    made (a broken toolchain, here Warp's codegen made to fail) would draw forever: the build stops
    after FAILED_IN_A_ROW failures with no row, naming why the kernels failed."""
    import itertools

    from generation.pipeline import build
    from generation.pipeline.plan.generated import kernel_at

    def broken(*args, **kwargs):
        raise RuntimeError("no toolchain on this machine")

    monkeypatch.setattr(build, "make_code", broken)
    options = BuildOptions()
    endless = (PlannedKernel(index, kernel_at(options, "cpu", index)) for index in itertools.count(100))
    kernels = [PlannedKernel(index, kernel_at(options, "cpu", index)) for index in range(4)]
    with pytest.raises(build.BuildBroken, match="kernels in a row failed.*codegen:RuntimeError: .*no toolchain"):
        list(build.build_batch([(kernels, endless)], "cpu", options, BuildStats()))


# One process: the compile check with the shared header, then with that header damaged.
CHECK_HEADER = """
import glob, json, os, sys
from pathlib import Path
os.environ["TMPDIR"] = sys.argv[3]  # before anything asks where temporary folders go
from generation.backend import compile_check, header, warp_api

kernels = [tuple(kernel) for kernel in json.loads(sys.argv[1])]
seen = []
for damaged in (False, True):
    if damaged:  # a cache of its own, whose header Clang refuses
        os.environ["WARP_IR_PAIRS_CACHE"] = sys.argv[2]
        Path(header.shared_header(header.CHECK)).write_bytes(b"not a precompiled header")
        compile_check._shared_header.cache_clear()
        kernels = kernels[:1]  # one that compiles: read, the refused header would fail it
    errors = compile_check.compile_errors(kernels, "cpu", 80)
    read = compile_check._shared_header()
    own = glob.glob(os.path.join(warp_api.precompiled_header_folder(), "*.pch"))
    seen.append([[k for k, error in enumerate(errors) if error], bool(read) and os.path.isfile(read), bool(own)])
print(json.dumps(seen))
"""


def test_the_compile_check_reads_a_shared_header_and_a_failing_batch_leaves_it_in_place(tmp_path):
    """A batch holding a kernel that does not compile is split until that kernel is alone: each
    failing Clang run reads the shared header and fails at once, and the header stays (in Warp's own
    way each one was retried without a header, which it deleted: one bad kernel among 16 took 20.6 s,
    now 4.4 s). A header Clang refuses is not read: the check goes Warp's way, and a kernel that
    compiles still does. The failing runs leave nothing in the temporary folder (Warp builds beside
    the folder it is given and keeps that build folder when the compiler fails)."""
    kernels = [[generate("vector", 1, k).python_source, generate("vector", 1, k).name] for k in range(1, 6)]
    kernels.insert(2, [PLANTED["compile_error"], "compile_error"])
    (tmp_path / "tmp").mkdir()
    shared, refused = json.loads(
        run_python(CHECK_HEADER, json.dumps(kernels), str(tmp_path / "cache"), str(tmp_path / "tmp"))
    )
    assert shared == [[2], True, False]  # Warp's own header never made: every run read the shared one
    assert refused == [[], False, True]
    assert sorted(path.name for path in (tmp_path / "tmp").iterdir()) == []
