"""A row is honest when Warp, given only its ``python_source`` in a fresh process, generates
exactly the row's code. The reference below is written against Warp alone, not ``generation``.
"""

from __future__ import annotations

import json
import re

import pytest
from code_parts import verbatim_slices
from conftest import run_python

# Imports a row's source the documented way (registered in linecache as `<module_name>.py`,
# where module_name is "wirp_" + the first 16 hex digits of the source's SHA-256), then builds
# it through Warp's own Module path: hash for the launch block_dim, then codegen for the row's arch,
# with Warp's mathdx tile paths off (wp.config), as the rows are made; the `// file:line` comments
# of functions Warp implements in Python name the file from Warp's package (`// warp/_src/...`).
# Each group of rows is read in a process of its own, forked from one that has only imported and
# initialised Warp: the state a fresh process is in when it reads its first row, without paying
# Python's and Warp's start-up (about 1.5 s) for every row that needs a process to itself.
REFERENCE = r"""
import hashlib, json, linecache, os, sys, types
import warp as wp
wp.config.log_level = wp.LOG_ERROR
wp.config.enable_mathdx_gemm = wp.config.enable_mathdx_solver = wp.config.enable_mathdx_fft = False
wp.init()

def sources(rows):
    out = []
    for row in rows:
        src = row["python_source"]
        name = "wirp_" + hashlib.sha256(src.encode()).hexdigest()[:16]
        file_name = name + ".py"
        linecache.cache[file_name] = (len(src), None, src.splitlines(True), file_name)
        module = types.ModuleType(name)
        module.__file__ = file_name
        sys.modules[name] = module
        exec(compile(src, file_name, "exec"), module.__dict__)
        warp_module = getattr(module, row["kernel_name"]).module
        is_cpu = row["device"] == "cpu"
        block_dim = 1 if is_cpu else warp_module.options["block_dim"]
        warp_module.get_module_hash(block_dim)
        options = warp_module.resolved_options[block_dim]
        options = options | {"output_arch": None if is_cpu else row["metadata"]["arch"]}  # as Module._compile sets it
        source, *_ = warp_module._run_codegen(options, is_cpu)
        # Rows name Warp's own files from its package, not from this machine's install folder.
        install_folder = os.path.dirname(os.path.dirname(wp.__file__)) + os.sep
        out.append(source.replace("// " + install_folder, "// "))
    return out

groups = json.load(open(sys.argv[1]))
for number, rows in enumerate(groups):
    if os.fork() == 0:
        try:
            with open(f"{sys.argv[1]}.{number}", "w") as file:
                json.dump(sources(rows), file)
        finally:
            os._exit(0)
    _, status = os.wait()
    assert os.waitstatus_to_exitcode(status) == 0 and os.path.exists(f"{sys.argv[1]}.{number}"), number
print(json.dumps([json.load(open(f"{sys.argv[1]}.{number}")) for number in range(len(groups))]))
"""


def reference_groups(groups: list[list[dict]], tmp_path) -> list[list[str]]:
    """What Warp generates for each group's rows, each group in a fresh process (see ``REFERENCE``)."""
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(groups))
    return json.loads(run_python(REFERENCE, str(path)))


def reference_sources(rows: list[dict], tmp_path) -> list[str]:
    return reference_groups([rows], tmp_path)[0]


# What makes a row's code depend on the process it is built in: Warp names ``wp.func`` helpers
# (``func_native`` too) with a process-wide counter, and kernels that name a Warp module
# (``@wp.kernel(module="x")``) share it with every other kernel naming it.
PROCESS_STATE = re.compile(r"@(?:wp\.|warp\.)?func|\bmodule\s*=")


# Warp starts the prelude of a module that uses no bfloat16 with this line (and leaves it out of one
# that does): the one way two preludes differ.
NO_BFLOAT16 = "#define WP_NO_BFLOAT16\n"


def needs_own_process(row: dict) -> bool:
    return bool(PROCESS_STATE.search(row["python_source"]))


def dishonest_rows(rows: list[dict], tmp_path) -> list[str]:
    """The rows whose ``code`` a fresh process does not generate from their ``python_source``.

    Rows that touch no process-wide state share one reference process, which then stands for a
    fresh one per row; the others get a fresh process each (forked, see ``REFERENCE``)."""
    shared = [row for row in rows if not needs_own_process(row)]
    alone = [row for row in rows if needs_own_process(row)]
    groups = reference_groups([shared, *([row] for row in alone)], tmp_path)
    pairs = list(zip(shared, groups[0], strict=True))
    pairs += [(row, group[0]) for row, group in zip(alone, groups[1:], strict=True)]
    return [row["metadata"]["origin"] + "::" + row["kernel_name"] for row, source in pairs if not honest(row, source)]


def honest(row: dict, source: str) -> bool:
    """``code`` is what Warp generated, less the shared prelude, and ``forward`` and ``backward``
    are made of verbatim pieces of it (the helpers and structs a pass uses, then its kernel)."""
    if not source.endswith(row["code"]):
        return False
    try:
        for column in ("forward", "backward"):
            verbatim_slices(row[column], source)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_rows_match_a_fresh_process_given_only_python_source(builds, config, tmp_path):
    rows = [row for split in builds[config] for row in builds[config][split] if not needs_own_process(row)]
    sources = reference_sources(rows, tmp_path)
    preludes = set()
    for row, source in zip(rows, sources, strict=True):
        assert honest(row, source), row["kernel_name"]
        preludes.add(source[: -len(row["code"])].removeprefix(NO_BFLOAT16))
    assert len(preludes) == 1, "everything outside `code` must be the prelude shared by all modules"


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_rows_with_helpers_match_a_fresh_process_each(builds, config, tmp_path):
    """Helpers keep the names a fresh process gives them (``shade_0``), wherever they fall in a build."""
    rows = [r for split in builds[config] for r in builds[config][split] if "@wp.func" in r["python_source"]]
    assert len(rows) >= 2, "the sample must exercise wp.func helpers"
    assert dishonest_rows(rows[-3:], tmp_path) == []
    helper = {"cuda": r"static CUDA_CALLABLE \S+ \w+_0\(", "cpu": r"static \S+ \w+_0\("}[config]
    assert all(re.search(helper, row["code"]) for row in rows[-3:]), "helpers are named as a fresh process names them"


def test_rows_of_every_category_match_a_fresh_process(tmp_path):
    """A row of each category (tiles, whose CUDA depends on the row's arch, integers, random draws,
    queries, the idioms, and every category the application layer shapes), both devices."""
    from direct import planned_split

    from generation.generated.generator import CATEGORIES
    from generation.pipeline.build import build_rows
    from generation.pipeline.options import BuildOptions
    from generation.pipeline.stats import BuildStats

    rows = []
    for family in CATEGORIES:
        options = BuildOptions(num_examples=1, num_validation=0, num_test=0, seed=8, categories=(family,))
        kernels = planned_split(options)
        for device in ("cpu", "cuda"):
            stats = BuildStats()
            rows += list(build_rows(kernels, device, options, stats))
            assert not stats.skipped, stats.first_error
    assert len({row["category"] for row in rows}) == len(CATEGORIES) and len(rows) == 2 * len(CATEGORIES)
    assert dishonest_rows(rows, tmp_path) == []
