"""Shared fixtures: small real builds through ``load_dataset``, made once per test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from digest import rows_digest  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = str(REPO / "warp_ir_pairs.py")
SMALL = 24


def load(config: str, cache_dir: Path, **options):
    return datasets.load_dataset(SCRIPT, config, trust_remote_code=True, cache_dir=str(cache_dir), **options)


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> dict[str, datasets.DatasetDict]:
    cache = tmp_path_factory.mktemp("hf_cache")
    return {config: load(config, cache, num_examples=SMALL) for config in ("cpu", "cuda")}


def run_python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout (last line)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]
