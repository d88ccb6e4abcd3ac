"""Publishing: CLI builds, the push_to_hub layout written locally, loading it back on the pinned
and the newest ``datasets``, the generated card, and clear failures without a token or Hub."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
import yaml
from conftest import REPO, rows_digest

from generation import cli

LATEST_PYTHON = REPO / ".venv-latest" / "bin" / "python"
N = 12


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("publish")
    data, hub = root / "data", root / "hub"
    assert cli.main(["build", "cuda", "--num-examples", str(N), "--out", str(data)]) == 0
    assert cli.main(["build", "cpu", "--num-examples", str(N), "--num-proc", "2", "--out", str(data)]) == 0
    assert cli.main(["push", "org/warp-ir-pairs", "--data", str(data), "--dry-run", str(hub)]) == 0
    return data, hub


def card_yaml(hub: Path) -> dict:
    text = (hub / "README.md").read_text()
    front = text.split("---\n")[1]
    return yaml.safe_load(front)


def test_layout_is_what_push_to_hub_uploads(published):
    _, hub = published
    files = sorted(str(p.relative_to(hub)) for p in hub.rglob("*") if p.is_file())
    parquet = [f for f in files if f.endswith(".parquet")]
    assert parquet == [
        f"{config}/{split}-00000-of-00001.parquet"
        for config in ("cpu", "cuda")
        for split in ("test", "train", "validation")
    ]
    assert "README.md" in files and any(f.startswith("images/") and f.endswith(".svg") for f in files)


def test_card_yaml_maps_every_config_to_its_files(published):
    _, hub = published
    meta = card_yaml(hub)
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"cpu", "cuda"}
    assert configs["cuda"].get("default") is True
    assert {f["split"]: f["path"] for f in configs["cpu"]["data_files"]} == {
        "train": "cpu/train-*",
        "validation": "cpu/validation-*",
        "test": "cpu/test-*",
    }
    assert {info["config_name"] for info in meta["dataset_info"]} == {"cpu", "cuda"}
    assert meta["license"] == "apache-2.0"


def test_card_numbers_match_the_data(published):
    data, hub = published
    text = (hub / "README.md").read_text()
    for config in ("cpu", "cuda"):
        ds = datasets.load_from_disk(str(data / config))
        assert f"| `{config}` | {len(ds['train'])} | {len(ds['validation'])} | {len(ds['test'])} | 0 |" in text
        categories = [row["category"] for split in ds for row in ds[split]]
        for category in set(categories):
            row = re.search(rf"^\| {category} \| (\d+) \| (\d+) \|$", text, re.M)
            assert row and int(row.group(1 if config == "cpu" else 2)) == categories.count(category)
        assert f"- `{config}` / train: {N} of {N} rows (none skipped)" in text
        rows = sum(len(ds[split]) for split in ds)
        assert f"| `{config}` | none | {rows} | {rows} | 100.0% | {rows} | 0 | 0 |" in text
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (hub / image).read_text().startswith("<svg")


def test_folder_loads_back_with_plain_load_dataset(published, tmp_path):
    data, hub = published
    for config in ("cpu", "cuda"):
        loaded = datasets.load_dataset(str(hub), config, cache_dir=str(tmp_path))
        assert rows_digest(loaded) == rows_digest(datasets.load_from_disk(str(data / config)))
    default = datasets.load_dataset(str(hub), cache_dir=str(tmp_path))
    assert default["train"][0]["device"] == "cuda"


def run_latest(code: str, *args: str) -> str:
    if not LATEST_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{LATEST_PYTHON} is missing: setup.sh creates it")
        pytest.skip("no .venv-latest: run setup.sh to test the newest datasets")
    done = subprocess.run([str(LATEST_PYTHON), "-c", code, *args], capture_output=True, text=True, cwd=str(REPO))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


LATEST_LOAD = """
import sys, datasets
sys.path.insert(0, "tests")
from digest import rows_digest
assert int(datasets.__version__.split(".")[0]) >= 4, datasets.__version__
print(rows_digest(datasets.load_dataset(sys.argv[1], "cuda", cache_dir=sys.argv[2])))
"""

LATEST_BUILDER = """
import sys, datasets
sys.path.insert(0, "tests")
from digest import rows_digest
from generation.builder import WarpIRPairs
builder = WarpIRPairs(config_name="cuda", cache_dir=sys.argv[1], num_examples=int(sys.argv[2]))
builder.download_and_prepare()
print(rows_digest(builder.as_dataset()))
"""


def test_newest_datasets_loads_the_published_folder(published, tmp_path):
    data, hub = published
    expected = rows_digest(datasets.load_from_disk(str(data / "cuda")))
    assert run_latest(LATEST_LOAD, str(hub), str(tmp_path)) == expected


def test_newest_datasets_builds_the_same_rows_with_the_builder_class(published, tmp_path):
    data, _ = published
    expected = rows_digest(datasets.load_from_disk(str(data / "cuda")))
    assert run_latest(LATEST_BUILDER, str(tmp_path), str(N)) == expected


def push_cli(data: Path, home: Path, token: str | None):
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env |= {"HF_HOME": str(home), "PYTHONPATH": str(REPO)}
    if token:
        env["HF_TOKEN"] = token
    command = [sys.executable, "-m", "generation.cli", "push", "org/warp-ir-pairs", "--data", str(data)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_push_without_a_token_says_how_to_log_in(published, tmp_path):
    data, _ = published
    done = push_cli(data, tmp_path, token=None)
    assert done.returncode == 2
    assert "no Hugging Face token: run `hf auth login` or set HF_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_push_to_an_unreachable_hub_fails_in_one_line_and_keeps_the_build(published, tmp_path):
    data, _ = published
    before = sorted((p.name, p.stat().st_size) for p in data.rglob("*"))
    done = push_cli(data, tmp_path, token="hf_not_a_real_token")
    assert done.returncode == 2
    assert "could not publish to the Hugging Face Hub" in done.stderr and "is untouched" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted((p.name, p.stat().st_size) for p in data.rglob("*")) == before


def test_cli_rejects_bad_options_before_building(tmp_path, capsys):
    assert cli.main(["build", "cuda", "--num-examples", "0", "--out", str(tmp_path)]) == 2
    assert "num_examples must be between 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert cli.main(["push", "org/x", "--data", str(tmp_path), "--dry-run", str(tmp_path / "o")]) == 2
    assert "no built configs in" in capsys.readouterr().err
