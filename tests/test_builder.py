"""The builder end to end: schema, splits, uniqueness, options, errors, num_proc, determinism."""

from __future__ import annotations

import pytest
from code_parts import missing_definitions, verbatim_slices
from conftest import MACHINE_TEXT, SCRIPT, SMALL, load, rows_digest, run_python
from direct import planned_split

from generation.generated.generator import CATEGORIES, GENERATOR_VERSION, draw_round
from generation.pipeline.options import BuildOptions
from generation.pipeline.rows import FEATURES
from generation.source.features import normalized_ast


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_schema_and_split_sizes(builds, config):
    ds = builds[config]
    assert {split: len(ds[split]) for split in ds} == {"train": SMALL, "validation": 2, "test": 2}
    for split in ds:
        assert ds[split].features == FEATURES
    row = ds["train"][0]
    assert row["device"] == config
    meta = row["metadata"]
    assert meta["warp_version"] == "1.19.0"
    assert meta["generator_version"] == GENERATOR_VERSION
    assert meta["origin"] == "generated" and meta["license"] == "Apache-2.0"
    assert meta["block_dim"] == (1 if config == "cpu" else 256)
    assert row["arg_types"] and all(set(arg) == {"name", "type"} for arg in row["arg_types"])


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_code_columns_hold_the_right_functions(builds, config):
    """``forward`` and ``backward`` end with the kernel, are verbatim slices of ``code``, and are
    self-contained: every helper they call and struct they name is defined in them."""
    helpers = 0
    for row in builds[config]["train"]:
        name = row["metadata"]["mangled_name"]
        for column in ("forward", "backward"):
            pieces = verbatim_slices(row[column], row["code"])
            assert missing_definitions(row[column], row["code"]) == set(), (row["kernel_name"], column)
            kernel = f"{name}_{config}_kernel_{column}("
            assert kernel in pieces[-1] and all(kernel not in piece for piece in pieces[:-1])
            if config == "cpu":
                assert f"struct wp_args_{name} {{" in row[column]
        assert "_kernel_backward" not in row["forward"]
        helpers += "static CUDA_CALLABLE" in row["forward"] or "@wp.func" in row["python_source"]
        assert "#include" not in row["code"], "the shared prelude must not be in code"
        for column, length in row["metadata"]["lengths"].items():
            lines = row[column].count("\n") + (row[column][-1:] not in ("", "\n"))
            assert length == {"chars": len(row[column]), "lines": lines}, column
    assert helpers, "the sample must exercise helper functions"


def test_rows_are_unique_across_splits(builds):
    """Distinct ids, sources and programs: no two rows differ only in names or constants."""
    for ds in builds.values():
        sources = [row["python_source"] for split in ds for row in ds[split]]
        ids = [row["id"] for split in ds for row in ds[split]]
        trees = {normalized_ast(source) for source in sources}
        assert len(set(sources)) == len(sources) == len(trees)
        assert len(set(ids)) == len(ids)


def test_every_category_is_present_in_a_default_build():
    """Two rounds' worth of a default build's train rows hold every category (planning only: no code);
    a tenth of the draws goes to the held-out splits."""
    size = 2 * len(draw_round(CATEGORIES))
    kernels = planned_split(BuildOptions(num_examples=size, num_validation=0, num_test=0))
    assert {planned.spec.category for planned in kernels} == set(CATEGORIES)


def test_no_machine_paths_in_any_column(builds):
    for ds in builds.values():
        for split in ds:
            for row in ds[split]:
                text = repr(row)
                assert not MACHINE_TEXT.search(text), MACHINE_TEXT.search(text).group(0)
                assert "<L " in row["code"]


def test_category_filter_and_options(tmp_path):
    ds = load("cpu", tmp_path, num_examples=6, num_validation=1, num_test=0, categories="math,atomic", seed=7)
    assert {split: len(ds[split]) for split in ds} == {"train": 6, "validation": 1}
    assert {row["category"] for split in ds for row in ds[split]} == {"math", "atomic"}
    assert all(row["metadata"]["seed"] == 7 for row in ds["train"])


def test_include_backward_false_builds_forward_only(tmp_path):
    ds = load("cuda", tmp_path, num_examples=4, include_backward=False)
    for row in ds["train"]:
        assert row["backward"] == ""
        assert "_kernel_backward" not in row["code"]
        assert '"enable_backward": False' in row["python_source"]
        assert row["metadata"]["enable_backward"] is False


@pytest.mark.parametrize(
    ("config", "options", "message"),
    [
        ("cuda", {"categories": ["vector", "tensor"]}, "unknown categories ['tensor']"),
        ("cuda", {"num_examples": 0}, "num_examples must be between 1"),
        ("cuda", {"num_examples": -3}, "got -3"),
        ("cuda", {"num_examples": 10**12}, "num_examples must be between 1 and 2,000,000"),
        ("cuda", {"num_examples": "many"}, "num_examples must be an integer, got 'many'"),
        ("cuda", {"seed": -1}, "seed must be an integer of at least 0"),
        ("cuda", {"num_exmples": 5}, "unknown option(s) ['num_exmples']; allowed options are"),
        ("tpu", {}, "unknown config 'tpu'; allowed configs are ['cpu', 'cuda', 'ptx', 'real_cpu', 'real_cuda']"),
        ("cuda", {"difficulty": "insane"}, "unknown difficulty 'insane'; allowed values are ['easy', 'medium',"),
        ("cuda", {"max_depth": 40}, "max_depth must be between 1 and 8, got 40"),
        ("cuda", {"max_statements": -1}, "max_statements must be between 0 and 32, got -1"),
        ("cuda", {"paths": ["kernels/"]}, "option(s) ['paths'] do not apply to config 'cuda'"),
        ("real_cuda", {"difficulty": "hard"}, "option(s) ['difficulty'] do not apply to config 'real_cuda'"),
        ("real_cpu", {"paths": ["/no/such/dir"]}, "paths ['/no/such/dir'] do not exist"),
        ("cuda", {"validate": "fast"}, "unknown validate 'fast'; allowed values are ['none', 'compile', 'run']"),
        ("ptx", {"arch": 52}, "unsupported arch 52; Warp 1.19.0 supports [75, 80,"),
    ],
)
def test_bad_options_fail_before_generation_with_clear_errors(tmp_path, config, options, message):
    with pytest.raises(ValueError) as error:
        load(config, tmp_path, **options)
    assert message in str(error.value)


def test_num_proc_2_gives_the_same_rows_as_num_proc_1(tmp_path):
    one = load("cuda", tmp_path / "one", num_examples=40, seed=3)
    two = load("cuda", tmp_path / "two", num_examples=40, seed=3, num_proc=2)
    assert rows_digest(one) == rows_digest(two)


def test_same_seed_gives_byte_identical_rows_in_another_process(builds, tmp_path):
    code = (
        "import sys, datasets\n"
        "sys.path.insert(0, 'tests')\n"
        "from digest import rows_digest\n"
        "ds = datasets.load_dataset(sys.argv[1], 'cuda', trust_remote_code=True, cache_dir=sys.argv[2],"
        " num_examples=int(sys.argv[3]))\n"
        "print(rows_digest(ds))\n"
    )
    assert run_python(code, SCRIPT, str(tmp_path), str(SMALL)) == rows_digest(builds["cuda"])


def test_another_seed_gives_other_rows(builds, tmp_path):
    other = load("cuda", tmp_path, num_examples=SMALL, seed=99)
    shared = {r["python_source"] for r in other["train"]} & {r["python_source"] for r in builds["cuda"]["train"]}
    assert len(shared) < SMALL // 4  # only the very simplest kernels can repeat


@pytest.mark.parametrize(
    "argv, line",
    [
        (["build", "cdua", "--out", "x"], "unknown config 'cdua'; allowed configs are"),
        (
            ["sft", "nodata", "--config", "cpu", "--task", "python_to_fwd", "--out", "s"],
            "did you mean 'python_to_forward'?",
        ),
        (
            ["eval", "nodata", "--config", "cpu", "--baseline", "reference", "--out", "r"],
            "no build folder at nodata: run",
        ),
    ],
    ids=["config typo", "task typo", "missing folder"],
)
def test_a_mistake_on_the_command_line_is_one_line_with_the_closest_name(argv, line, tmp_path, monkeypatch, capsys):
    from generation import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert line in err and len(err.splitlines()) == 1, err
    if argv[1] == "cdua":
        assert err.endswith("did you mean 'cuda'?")
