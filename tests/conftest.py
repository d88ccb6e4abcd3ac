"""Shared fixtures: small real builds through ``load_dataset`` and one harvest of Warp's own
kernels, made once per test session. The network stays out: the Hugging Face clients run offline
(a test that needs a Hub starts its own on 127.0.0.1)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before datasets and huggingface_hub read it

import pickle  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import datasets  # noqa: E402
import pytest  # noqa: E402
from digest import rows_digest  # noqa: E402, F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[1]
# Text that names this machine: no row may hold it.
MACHINE_TEXT = re.compile(r"/tmp/|/home/|/root/|/work/|site-packages|[A-Za-z]:\\\\|\.venv")
SCRIPT = str(REPO / "warp_ir_pairs.py")
SMALL = 24
SUITE_TMP = pytest.StashKey[str]()  # the suite's own temporary folder
SUITE_LEFT = pytest.StashKey[list]()  # what the run left in it
PUBLISHED_ROWS = 12  # train rows of each config in the ``published`` build


def load(config: str, cache_dir: Path, **options):
    return datasets.load_dataset(SCRIPT, config, trust_remote_code=True, cache_dir=str(cache_dir), **options)


# What the suite may leave in its temporary folder, and why: nothing else.
LEFT_BY_DESIGN = {"ray_logs": "datatrove's RayExecutor logs each task into TMPDIR/ray_logs and leaves it there"}


def pytest_configure(config):
    """The suite runs with a temporary folder of its own (pytest's own folders stay where they
    were), so that whatever a test or the product leaves there is seen when the run ends."""
    if hasattr(config, "workerinput"):
        return  # pytest-xdist workers inherit the folder from the run that started them
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    config.stash[SUITE_TMP] = tempfile.mkdtemp(prefix="wirp-suite-")
    os.environ["TMPDIR"] = config.stash[SUITE_TMP]
    tempfile.tempdir = None  # asked again, with TMPDIR set


EXIT_SECONDS = 10  # how long what the workers remove as they exit may take to go


@pytest.hookimpl(trylast=True)  # after pytest-xdist has stopped its workers
def pytest_sessionfinish(session):
    """Fail the run if the tests or the product left anything in the temporary folder (given the
    workers' own exits a few seconds to remove what they hold until then)."""
    folder = session.config.stash.get(SUITE_TMP, None)
    if folder is None:
        return
    deadline = time.monotonic() + EXIT_SECONDS
    while True:
        left = sorted(
            name for name in set(os.listdir(folder)) - set(LEFT_BY_DESIGN) if not removed_at_exit(folder, name)
        )
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    shutil.rmtree(folder, ignore_errors=True)
    session.config.stash[SUITE_LEFT] = left
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def removed_at_exit(folder: str, name: str) -> bool:
    """Whether ``name`` is what this very process holds in the folder until it exits, and removes then
    (run without pytest-xdist, the tests run in the process that checks the folder): NVRTC's
    precompiled header, named by the process's id, and the temporary folders of its process pools."""
    if name.startswith(f"__nvrtc_auto_pch_{os.getpid()}_"):
        return True
    pools = [sys.modules.get(package) for package in ("multiprocessing.process", "multiprocess.process")]
    own = {getattr(pool.current_process(), "_config", {}).get("tempdir") for pool in pools if pool is not None}
    return os.path.join(folder, name) in own


def pytest_terminal_summary(terminalreporter, config):
    left = config.stash.get(SUITE_LEFT, [])
    if left:
        terminalreporter.write_line(
            f"FAILED: the tests left {len(left)} files or folders in the temporary folder: {', '.join(left[:10])}",
            red=True,
        )


def pytest_collection_modifyitems(items):
    """Long end-to-end checks (``@pytest.mark.long``) first: they start at once, and the workers run
    the short tests beside them instead of waiting for them at the end."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def shared_folder(tmp_path_factory, name: str) -> Path:
    """A folder every pytest-xdist worker of this run sees (the run's base temp folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


def made_once(tmp_path_factory, name: str, make) -> Path:
    """A folder ``make(folder)`` fills once per run, whichever pytest-xdist worker asks first (the
    others wait on its lock): tests share expensive builds and only read them."""
    from filelock import FileLock

    folder = shared_folder(tmp_path_factory, name)
    with FileLock(str(folder) + ".lock"):
        if not (folder / ".made").exists():
            make(folder)
            (folder / ".made").touch()
    return folder


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> dict[str, datasets.DatasetDict]:
    """Small cpu and cuda builds, prepared once per run: workers share the datasets cache (and its locks)."""
    cache = shared_folder(tmp_path_factory, "hf_cache")
    return {config: load(config, cache, num_examples=SMALL) for config in ("cpu", "cuda")}


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """Two configs built into one folder and its Hub layout written, once per run (tests only read them)."""

    from generation import cli

    def make(root: Path) -> None:
        data, hub = root / "data", root / "hub"
        assert cli.main(["build", "cuda", "--num-examples", str(PUBLISHED_ROWS), "--out", str(data)]) == 0
        rows = str(PUBLISHED_ROWS)
        assert (
            cli.main(["build", "cpu", "--num-examples", rows, "--tasks", "3", "--workers", "2", "--out", str(data)])
            == 0
        )
        assert cli.main(["push", "org/warp-ir-pairs", "--data", str(data), "--dry-run", str(hub)]) == 0

    root = made_once(tmp_path_factory, "published", make)
    return root / "data", root / "hub"


@pytest.fixture(scope="session")
def warp_harvest(tmp_path_factory):
    """Every top-level kernel of Warp's own examples and tests, harvested once per run for all tests."""
    from generation.pipeline.options import BuildOptions
    from generation.pipeline.plan.real import harvest_for

    def make(folder: Path) -> None:
        (folder / "harvest.pickle").write_bytes(pickle.dumps(harvest_for(BuildOptions())))

    return pickle.loads((made_once(tmp_path_factory, "warp_harvest", make) / "harvest.pickle").read_bytes())


def run_python(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout (last line)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]
