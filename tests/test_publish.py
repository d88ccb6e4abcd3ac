"""Publishing: CLI builds, the push_to_hub layout written locally, loading it back on the pinned
and the newest ``datasets``, the generated card, and clear failures without a token or Hub.
The only "Hub" a test talks to is a server it starts on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import datasets
import pytest
import yaml
from conftest import PUBLISHED_ROWS, REPO, load, rows_digest

from generation import cli

LATEST_PYTHON = REPO / ".venv-latest" / "bin" / "python"
N = PUBLISHED_ROWS


def built(data: Path, config: str) -> datasets.DatasetDict:
    """One config of a build folder, loaded as a user loads it."""
    return datasets.load_dataset(str(data), config, cache_dir=str(data.parent / "hf_cache"))


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
    assert "README.md" in files and {"images/lengths.png", "images/categories.png"} <= set(files)


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
        ds = built(data, config)
        assert f"| `{config}` | {len(ds['train'])} | {len(ds['validation'])} | {len(ds['test'])} | 0 |" in text
        categories = [row["category"] for split in ds for row in ds[split]]
        for category in set(categories):
            row = re.search(rf"^\| {category} \| (\d+) \| (\d+) \|$", text, re.M)
            assert row and int(row.group(1 if config == "cpu" else 2)) == categories.count(category)
        assert f"- `{config}` / train: {N} of {N} rows (none skipped)" in text
        rows = sum(len(ds[split]) for split in ds)
        assert f"| `{config}` | none | {rows} | {rows} | 100.0% | {rows} | 0 | 0 |" in text
    from generation.backend import warp_api
    from generation.measure.vocabulary import calls_in

    for config in ("cpu", "cuda"):
        ds = built(data, config)
        called = calls_in((row["python_source"] for split in ds for row in ds[split]), warp_api.builtin_names())
        rows = sum(len(ds[split]) for split in ds)  # a small build: every row parsed
        assert re.search(rf"^\| `{config}` \| {len(called)} \| 0\.\d{{3}} \| {rows} \|$", text, re.M), config
        kernels = sum(len(ds[split]) for split in ds)  # the shape table: one kernel per row
        assert re.search(rf"^\| `{config}` \| {kernels} \| [\d.]+% \| [\d.]+ \| [\d.]+% \| [\d.]+% \|$", text, re.M)
    assert re.search(r"^\| Warp's examples \| 170 \| ", text, re.M)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images == ["images/categories.png", "images/lengths.png"]
    assert all((hub / image).read_bytes().startswith(b"\x89PNG") for image in images)
    for config in ("cpu", "cuda"):  # the length table's median and maximum, from the rows themselves
        ds = built(data, config)
        forward = sorted(len(row["forward"]) for split in ds for row in ds[split])
        median = forward[math.ceil(len(forward) / 2) - 1]
        assert re.search(
            rf"^\| `{config}` \| `forward` \| {median:,} \| [\d,]+ \| [\d,]+ \| {forward[-1]:,} \|", text, re.M
        )


def test_folder_loads_back_with_plain_load_dataset(published, tmp_path):
    data, hub = published
    for config in ("cpu", "cuda"):
        loaded = datasets.load_dataset(str(hub), config, cache_dir=str(tmp_path))
        assert rows_digest(loaded) == rows_digest(built(data, config))
    default = datasets.load_dataset(str(hub), cache_dir=str(tmp_path))
    assert default["train"][0]["device"] == "cuda"


def test_build_folder_loads_one_config_at_a_time(published, tmp_path):
    """The CLI's folder holds cpu and cuda: a plain load gives the default config, never a mix."""
    data, _ = published
    default = datasets.load_dataset(str(data), cache_dir=str(tmp_path))
    assert {row["device"] for split in default for row in default[split]} == {"cuda"}
    assert len(default["train"]) == N
    assert {row["device"] for split in built(data, "cpu") for row in built(data, "cpu")[split]} == {"cpu"}


def test_a_config_the_folder_does_not_hold_is_named_with_those_it_does(published):
    """eval and the reward read a build folder: a config never built there is an error naming the
    built ones, not datasets' complaint about a BuilderConfig."""
    from generation.evaluation import harness

    data, _ = published
    with pytest.raises(ValueError, match=r"config 'ptx' is not built in .*; built configs are \['cpu', 'cuda'\]"):
        harness.load_splits(data, "ptx")


def test_a_task_build_gives_the_rows_of_load_dataset(published, tmp_path):
    """cpu was built by 3 tasks on 2 workers: the same rows, in the same order, as the dataset script."""
    data, _ = published
    assert rows_digest(built(data, "cpu")) == rows_digest(load("cpu", tmp_path, num_examples=N))


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
from generation.hub.builder import WarpIRPairs
builder = WarpIRPairs(config_name="cuda", cache_dir=sys.argv[1], num_examples=int(sys.argv[2]))
builder.download_and_prepare()
print(rows_digest(builder.as_dataset()))
"""


def test_newest_datasets_loads_the_published_folder(published, tmp_path):
    data, hub = published
    expected = rows_digest(built(data, "cuda"))
    assert run_latest(LATEST_LOAD, str(hub), str(tmp_path)) == expected


def test_newest_datasets_builds_the_same_rows_with_the_builder_class(published, tmp_path):
    data, _ = published
    expected = rows_digest(built(data, "cuda"))
    assert run_latest(LATEST_BUILDER, str(tmp_path), str(N)) == expected


def push_cli(data: Path, home: Path, token: str | None, endpoint: str):
    """``warp-ir-pairs push`` in a fresh process, online, against the Hub at ``endpoint`` (a local one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE")}
    env |= {"HF_HOME": str(home), "PYTHONPATH": str(REPO), "HF_ENDPOINT": endpoint, "NO_PROXY": "127.0.0.1"}
    if token:
        env["HF_TOKEN"] = token
    command = [sys.executable, "-m", "generation.cli", "push", "org/warp-ir-pairs", "--data", str(data)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


class RefusingHub(http.server.BaseHTTPRequestHandler):
    """A Hub that refuses every token, as the real one refuses a made-up token."""

    def _refuse(self) -> None:
        body = json.dumps({"error": "Invalid credentials in Authorization header"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _refuse

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def refusing_hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> str:
    """An address on this machine where nothing listens: an unreachable Hub."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_push_without_a_token_says_how_to_log_in(published, tmp_path):
    data, _ = published
    done = push_cli(data, tmp_path, token=None, endpoint=closed_port())
    assert done.returncode == 2
    assert "no Hugging Face token: run `hf auth login` or set HF_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("hub", ["refusing", "unreachable"])
def test_push_to_a_failing_hub_fails_in_one_line_and_keeps_the_build(published, tmp_path, hub):
    data, _ = published
    before = sorted((p.name, p.stat().st_size) for p in data.rglob("*"))
    with refusing_hub() if hub == "refusing" else contextlib.nullcontext(closed_port()) as endpoint:
        done = push_cli(data, tmp_path, token="hf_not_a_real_token", endpoint=endpoint)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "could not publish to the Hugging Face Hub" in done.stderr and "is untouched" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted((p.name, p.stat().st_size) for p in data.rglob("*")) == before


def test_cli_rejects_bad_options_before_building(tmp_path, capsys):
    assert cli.main(["build", "cuda", "--num-examples", "0", "--out", str(tmp_path)]) == 2
    assert "num_examples must be between 1" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert cli.main(["push", "org/x", "--data", str(tmp_path), "--dry-run", str(tmp_path / "o")]) == 2
    assert "no built configs in" in capsys.readouterr().err


def test_licence_follows_the_build_into_rows_card_text_and_yaml(tmp_path):
    """A harvested build told its files are MIT publishes MIT everywhere, not Warp's Apache-2.0."""
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    (kernels / "axpy.py").write_text(
        "import warp as wp\n\n\n@wp.kernel\ndef axpy(a: float, x: wp.array(dtype=float), y: wp.array(dtype=float)):\n"
        "    i = wp.tid()\n    y[i] = a * x[i] + y[i]\n"
    )
    data, hub = tmp_path / "data", tmp_path / "hub"
    build = ["build", "real_cpu", "--paths", str(kernels), "--license", "MIT", "--num-validation", "0"]
    assert cli.main([*build, "--num-test", "0", "--out", str(data)]) == 0
    assert cli.main(["push", "org/mit-kernels", "--data", str(data), "--dry-run", str(hub)]) == 0
    rows = built(data, "real_cpu")["train"]
    assert [row["metadata"]["license"] for row in rows] == ["MIT"]
    assert card_yaml(hub)["license"] == card_yaml(data)["license"] == "mit"
    text = (hub / "README.md").read_text().split("---\n", 2)[2]
    licence_section = text.split("## Licence", 1)[1].split("##", 1)[0]
    assert "rows per licence: MIT: 1." in licence_section
    assert "Apache" not in licence_section, licence_section
    # The card names the harvested folder as rows do, never where it was on the building machine.
    assert str(tmp_path) not in text and '"paths": ["kernels"]' in text


def test_build_stats_account_for_every_kernel(published):
    """Each split's statistics: every kernel asked for is a row or a skip counted by reason."""
    data, _ = published
    for config in ("cpu", "cuda"):
        stats = json.loads((data / ".build" / config / "build_stats.json").read_text())
        for split, counts in stats["splits"].items():
            skipped = sum(counts["skipped"].values())
            assert counts["rows"] + skipped == counts["requested"] + counts["replaced"], (config, split)
            assert counts["rows"] == len(built(data, config)[split])


def test_a_folder_of_an_older_dataset_version_is_refused_in_one_line(published, tmp_path, capsys):
    """Rows made before 4.0 lack `metadata.lengths`: push names the config and says to rebuild, no traceback."""
    import shutil

    data, _ = published
    old = tmp_path / "old"
    shutil.copytree(data, old)
    job_file = old / ".build" / "cpu" / "job.json"
    job = json.loads(job_file.read_text())
    job_file.write_text(json.dumps({key: value for key, value in job.items() if key != "dataset_version"}))
    assert cli.main(["push", "org/warp-ir-pairs", "--data", str(old), "--dry-run", str(tmp_path / "hub")]) == 2
    error = capsys.readouterr().err
    assert "cpu in " in error and "holds rows of dataset version before 4.0, not 4.1.0" in error
    assert "Traceback" not in error
