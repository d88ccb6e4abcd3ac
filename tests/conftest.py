"""Shared fixtures: small real builds through ``load_dataset`` and one harvest of Warp's own
kernels, made once per test session. The network stays out: the Hugging Face clients run offline
(a test that needs a Hub starts its own on 127.0.0.1)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before datasets and huggingface_hub read it

import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import datasets  # noqa: E402
import pytest  # noqa: E402
from digest import rows_digest  # noqa: E402, F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[1]
# Text that names this machine: no row may hold it.
MACHINE_TEXT = re.compile(r"/tmp/|/home/|/root/|/work/|site-packages|[A-Za-z]:\\\\|\.venv")
SCRIPT = str(REPO / "warp_ir_pairs.py")
SMALL = 24


def load(config: str, cache_dir: Path, **options):
    return datasets.load_dataset(SCRIPT, config, trust_remote_code=True, cache_dir=str(cache_dir), **options)


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> dict[str, datasets.DatasetDict]:
    cache = tmp_path_factory.mktemp("hf_cache")
    return {config: load(config, cache, num_examples=SMALL) for config in ("cpu", "cuda")}


@pytest.fixture(scope="session")
def warp_harvest():
    """Every top-level kernel of Warp's own examples and tests, harvested once for all tests."""
    from generation.pipeline.options import BuildOptions
    from generation.pipeline.plan.real import harvest_for

    return harvest_for(BuildOptions())


def run_python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout (last line)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]
