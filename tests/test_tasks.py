"""Task builds as a user runs them: the real CLI in its own process group, killed, stopped and
resumed; a real local Ray cluster bound to 127.0.0.1; and the Slurm job script (no cluster here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets
import pytest
from conftest import REPO, SMALL, made_once, rows_digest, run_python

CLI = [sys.executable, "-m", "generation.cli"]


def build_command(out: Path | str, *extra: str, config: str = "cpu", rows: int = 240) -> list[str]:
    return [*CLI, "build", config, "--num-examples", str(rows), "--seed", "4", "--out", str(out), *extra]


def start(command: list[str], tmp: Path, log: Path) -> subprocess.Popen:
    """The CLI in a session of its own (so every process it starts can be found), logging to a file."""
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(REPO))
    tmp.mkdir(exist_ok=True)
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


@pytest.fixture
def tmp() -> Path:
    """The build's TMPDIR, short: multiprocessing binds Unix sockets in it, whose paths hold at most
    107 bytes, and pytest's own folders (``.../pytest-123/popen-gw1/test_.../``) can be longer."""
    folder = Path(tempfile.mkdtemp(prefix="wirp-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def wait_for(condition, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the build ended before the moment the test waits for"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def session_processes(sid: int) -> list[str]:
    """Processes still alive in session ``sid`` (the CLI's own, and any child it left behind)."""
    ps = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True).stdout
    alive = []
    for line in ps.splitlines():
        pid, session, stat, args = line.split(None, 3)
        if int(session) == sid and not stat.startswith("Z"):
            alive.append(f"{pid} {args[:120]}")
    return alive


def shards(out: Path, config: str = "cpu") -> list[Path]:
    return sorted((out / config).glob("train-*.parquet")) if (out / config).is_dir() else []


def loaded(out: Path, config: str, cache: Path) -> datasets.DatasetDict:
    return datasets.load_dataset(str(out), config, cache_dir=str(cache))


# A build of four tasks on two workers: 120 rows, so that each task takes long enough to be interrupted.
TASK_BUILD = ("--tasks", "4", "--workers", "2")
TASK_ROWS = 120


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """A ``TASK_BUILD``, run to the end without interruption, once per run: the reference of the
    resumed build, and the finished folder that other tests copy and then damage or build again."""

    def make(root: Path) -> None:
        done = subprocess.run(
            build_command(root / "out", *TASK_BUILD, rows=TASK_ROWS), cwd=REPO, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]

    return made_once(tmp_path_factory, "finished", make) / "out"


@pytest.fixture
def finished_copy(finished, tmp_path) -> tuple[Path, list[str]]:
    """A copy of the ``finished`` build folder, and the command that built it (now into the copy)."""
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    return out, build_command(out, *TASK_BUILD, rows=TASK_ROWS)


@pytest.fixture(scope="session")
def uninterrupted(finished, tmp_path_factory):
    return loaded(finished, "cpu", tmp_path_factory.mktemp("uninterrupted_cache"))


@pytest.mark.long
def test_kill_9_halfway_then_rerun_gives_the_uninterrupted_rows(uninterrupted, tmp_path, tmp):
    out, command = tmp_path / "out", build_command(tmp_path / "out", *TASK_BUILD, rows=TASK_ROWS)
    process = start(command, tmp, tmp_path / "first.log")
    wait_for(lambda: len(shards(out)) >= 1, process)  # tasks 0 and 1 run first: 2 and 3 are still to come
    os.killpg(process.pid, signal.SIGKILL)  # the whole build at once, as a lost machine or job would be
    process.wait()
    assert 1 <= len(shards(out)) < 4, "not halfway"
    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    resumed = loaded(out, "cpu", tmp_path / "cache")
    assert rows_digest(resumed) == rows_digest(uninterrupted)
    ids = [row["id"] for split in resumed for row in resumed[split]]
    assert len(ids) == len(set(ids)) and len(resumed["train"]) == TASK_ROWS
    assert not list((out / "cpu").glob(".*")), "a killed task's temporary shard was left behind"


@pytest.mark.long
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_build_leaves_no_process_and_no_temporary_folder(signum, tmp_path, tmp):
    out = tmp_path / "out"
    # 400 rows: the build stage (two rounds of 100-row tasks) lasts seconds, so the signal lands while
    # workers build rows (the last assertion checks that it did)
    process = start(build_command(out, *TASK_BUILD, rows=400), tmp, tmp_path / "build.log")
    # a build task has started (its log is open): the signal lands inside a worker's task, which
    # must unwind and end without a traceback of its own
    wait_for(lambda: any((out / ".build" / "cpu" / "logs" / "build").glob("logs/task_*.log")), process)
    time.sleep(1.0)
    if signum == signal.SIGTERM:
        os.kill(process.pid, signum)  # the CLI alone, as `kill PID` would
    else:
        os.killpg(process.pid, signum)  # every process of the group, as Ctrl-C on a terminal does
    returncode = process.wait(timeout=60)
    time.sleep(1.0)
    assert session_processes(process.pid) == []
    assert list(tmp.iterdir()) == []
    assert returncode == 130
    log = (tmp_path / "build.log").read_text()
    assert "run the same command again to resume" in log and "Traceback" not in log, log[-3000:]
    assert len(shards(out)) < 4, "the build finished before the signal: nothing was tested"


# A task whose stop signal lands inside a ``__del__``: Python prints that KeyboardInterrupt and
# goes on, so the task runs to its end, and must stop then (a pool signals its workers once).
LOST_INTERRUPT = """
import sys, time
from generation.distributed.steps import Job, _Stage
from generation.pipeline.options import BuildOptions

class Slow:
    def __del__(self):
        print("inside", flush=True)
        time.sleep(3)

class Step(_Stage):
    name = "lost"

    def work(self, rank, world_size):
        Slow()
        print("work done", flush=True)

try:
    Step(Job("cpu", sys.argv[1], BuildOptions(), 1)).run(None)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_a_task_whose_interrupt_was_lost_still_stops_at_its_end(tmp_path):
    command = [sys.executable, "-c", LOST_INTERRUPT, str(tmp_path / "out")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "inside\n"
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert "Exception ignored" in err and "KeyboardInterrupt: signal 15" in err, err  # the interrupt was lost
    assert out.splitlines() == ["work done", "interrupted"], (out, err)


def test_a_build_logged_to_a_file_holds_lines_not_progress_bars(tmp_path, tmp):
    log = tmp_path / "build.log"
    process = start(build_command(tmp_path / "out", "--tasks", "2", rows=30), tmp, log)
    assert process.wait(timeout=300) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "\r" not in text and "it/s" not in text and "examples/s" not in text
    assert len(text.splitlines()) < 20, text
    # Each shard reports its own share of the split (train's 30 rows are groups of 16 and 14), never "of 0".
    shards = re.findall(r"cpu (\w+) shard (\d): \w+: (\d+) of (\d+) requested rows written", text)
    assert ("train", "0", "16", "16") in shards and ("train", "1", "14", "14") in shards, text
    assert "of 0 requested" not in text and "cpu test shard 1: no rows of test fall to this shard" in text, text


def test_a_file_as_out_is_a_one_line_error(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    done = subprocess.run(build_command(tmp_path / "out", rows=5), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        f"warp-ir-pairs: error: Not a directory ({tmp_path / 'out' / '.build'}): a path on the way is a file, "
        "not a folder: give --out a folder (new or existing)"
    )


def test_a_full_disk_is_a_one_line_error_and_the_rerun_resumes(tmp_path):
    """A 1 MB tmpfs as --out fills up mid-build; with room made (the same tmpfs, remounted bigger),
    the same command finishes the build."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]).returncode != 0:
        pytest.fail("needs `mount -t tmpfs` (root) to make a small disk")
    try:
        command = build_command(disk / "out", "--tasks", "2", rows=120)
        full = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-2000:]
        last = full.stderr.strip().splitlines()[-1]
        assert last.startswith("warp-ir-pairs: error: No space left on device") and "it resumes" in last, last
        assert not list((disk / "out" / "cpu").glob(".*")), "a temporary shard was left behind"
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        built = loaded(disk / "out", "cpu", tmp_path / "cache")
        ids = [row["id"] for split in built for row in built[split]]
        assert len(built["train"]) == 120 and len(ids) == len(set(ids))
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_one_build_of_a_config_into_a_folder_at_a_time(tmp_path):
    """Two builds of one config into one folder started together: the second is refused at once in
    one line naming the first's process, the first finishes with every row; a cuda build into the
    same folder at the same time finishes too, and the shared card lists both configs."""
    out = tmp_path / "out"
    runs = [
        subprocess.Popen(build_command(out, rows=20, config=config), cwd=REPO, stderr=subprocess.PIPE, text=True)
        for config in ("cpu", "cpu", "cuda")
    ]
    results = [(run.wait(timeout=600), run.stderr.read()) for run in runs]
    refused = [stderr for code, stderr in results[:2] if code == 2]
    assert len(refused) == 1 and "Traceback" not in refused[0], results
    assert re.fullmatch(
        rf"warp-ir-pairs: error: another build of cpu into {out} is running \(process \d+\); wait for it to "
        r"finish, or build into another --out",
        refused[0].strip().splitlines()[-1],
    ), refused[0]
    assert sorted(code for code, _ in results) == [0, 0, 2], results
    for config in ("cpu", "cuda"):
        assert len(loaded(out, config, tmp_path / "cache")["train"]) == 20
    card = (out / "README.md").read_text()
    assert "config_name: cpu" in card and "config_name: cuda" in card


def all_ids(built) -> list[str]:
    return [row["id"] for split in built for row in built[split]]


def test_a_rerun_rebuilds_a_damaged_shard_and_loading_names_it(finished_copy, tmp_path):
    """A finished shard truncated to 1,000 bytes: loading and ``push --dry-run`` name it in one line;
    the same build command builds it again, and the folder then holds the rows it held before."""
    out, command = finished_copy
    before = all_ids(loaded(out, "cpu", tmp_path / "c1"))
    shard = out / "cpu" / "train-00001-of-00004.parquet"
    shard.write_bytes(shard.read_bytes()[:1000])
    dry = subprocess.run(
        [*CLI, "push", "org/x", "--data", str(out), "--dry-run", str(tmp_path / "hub")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 2 and "Traceback" not in dry.stderr, dry.stderr[-2000:]
    assert dry.stderr.strip().splitlines()[-1] == (
        f"warp-ir-pairs: error: cpu/train-00001-of-00004.parquet is damaged (1,000 bytes, "
        f"{json.loads((out / '.build/cpu/shards/train-00001.json').read_text())['bytes']:,} written): "
        "run the same build command again, and it builds it again"
    )
    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "train-00001-of-00004.parquet is damaged" in rerun.stderr
    assert all_ids(loaded(out, "cpu", tmp_path / "c2")) == before


def test_a_cache_folder_that_is_not_writable_is_a_one_line_error(tmp_path):
    """Warp's kernel cache on a read-only file system: one line saying what to do, before any work."""
    cache = tmp_path / "cache"
    cache.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(cache)]).returncode != 0:
        pytest.fail("needs `mount -t tmpfs` (root) to make a read-only folder")
    try:
        env = {k: v for k, v in os.environ.items() if k != "WARP_CACHE_PATH"} | {"XDG_CACHE_HOME": str(cache)}
        done = subprocess.run(
            build_command(tmp_path / "out", rows=5), cwd=REPO, capture_output=True, text=True, env=env
        )
    finally:
        subprocess.run(["umount", "-l", str(cache)])
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        "warp-ir-pairs: error: Warp cannot make its kernel cache (Read-only file system; set WARP_CACHE_PATH to "
        f"another folder) ({cache / 'warp'}): the file system is read-only: give --out (or the cache folder) a "
        "writable place"
    )


def test_out_can_be_an_fsspec_url(tmp_path):
    """--out takes what fsspec takes; here a file:// URL, the same code path as s3:// or hf://."""
    url = (tmp_path / "out").as_uri()
    done = subprocess.run(build_command(url, "--tasks", "2", rows=10), cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(loaded(tmp_path / "out", "cpu", tmp_path / "cache")["train"]) == 10
    assert not (tmp_path / "out" / ".build" / "cpu" / "kernels").exists()  # what the scan kept, used and removed
    assert sorted(p.name for p in (tmp_path / "out" / "cpu").iterdir()) == [
        f"{split}-0000{k}-of-00002.parquet" for split in ("test", "train", "validation") for k in (0, 1)
    ]


def test_rerunning_with_other_options_is_refused_and_names_them(finished_copy):
    out, command = finished_copy
    other = subprocess.run(
        build_command(out, "--tasks", "2", rows=TASK_ROWS) + ["--seed", "5"], cwd=REPO, capture_output=True, text=True
    )
    assert other.returncode == 2
    assert "changed: seed, tasks (the first run used --tasks 4)" in other.stderr
    assert "Traceback" not in other.stderr
    # A folder a version before 4.0 wrote (no dataset_version in its job.json) is not resumed with 4.0's rows.
    job_file = out / ".build" / "cpu" / "job.json"
    job = json.loads(job_file.read_text())
    job_file.write_text(json.dumps({key: value for key, value in job.items() if key != "dataset_version"}))
    older = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert older.returncode == 2 and "changed: dataset version (the first run wrote an older one)" in older.stderr
    # Nor a folder another generator wrote: its draw indices name other kernels.
    job_file.write_text(json.dumps({**job, "generator_version": "3.2.0"}))
    older = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert older.returncode == 2 and "changed: generator version (the first run wrote 3.2.0)" in older.stderr


RAY_BUILD = """
set -e
ip link set lo up
ray start --head --port=0 --num-cpus=2 --include-dashboard=false --disable-usage-stats --temp-dir="$RAY_TEMP" >/dev/null
export RAY_ADDRESS="$(cat "$RAY_TEMP/ray_current_cluster")"
echo "cluster at $RAY_ADDRESS"
trap 'ray stop --force >/dev/null 2>&1' EXIT
"$@"
ss -ltnH | awk '{print "listening on " $4}'
"""


@pytest.mark.long
def test_a_build_on_a_local_ray_cluster_gives_the_local_rows(builds, tmp_path):
    """A real Ray cluster (head, raylet, workers) in a network namespace that has only the
    loopback interface, so every Ray service is bound to 127.0.0.1 whatever Ray picks."""
    pytest.importorskip("ray")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.fail("needs `unshare -n` (root, util-linux) to keep the Ray cluster on 127.0.0.1")
    out = tmp_path / "out"
    # The rows of the shared small build (load_dataset, one process): 2 tasks, 2 workers, on Ray (each
    # task of each stage is a Ray actor of its own, a process that imports the build's modules).
    command = [*CLI, "build", "cpu", "--num-examples", str(SMALL), "--out", str(out), "--tasks", "2", "--workers", "2"]
    command += ["--executor", "ray"]
    script = ["unshare", "-n", "bash", "-c", RAY_BUILD, "ray-build", *command]
    with tempfile.TemporaryDirectory(prefix="wirp-ray-", dir="/tmp") as ray_temp:  # Ray's socket paths must be short
        # HOME of its own: a token file left in ~/.ray by another Ray would be sent to this cluster
        env = dict(os.environ, RAY_TEMP=ray_temp, HOME=ray_temp, PYTHONPATH=str(REPO))
        env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # this environment's `ray`
        done = subprocess.run(script, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "cluster at 127.0.0.1:" in done.stdout
    listening = [line.split()[-1] for line in done.stdout.splitlines() if line.startswith("listening on ")]
    assert listening and all(re.match(r"(\[::ffff:)?127\.0\.0\.1\]?:\d+$", a) for a in listening), listening
    assert rows_digest(loaded(out, "cpu", tmp_path / "cache")) == rows_digest(builds["cpu"])
    assert (out / ".build" / "cpu" / "logs" / "build" / "completions").is_dir()


def test_slurm_gets_a_job_script_per_stage_chained_by_dependencies(tmp_path):
    """No cluster here: check the scripts datatrove would submit, not a faked run."""
    from generation.distributed.run import Slurm, executors
    from generation.distributed.steps import Job
    from generation.pipeline.options import parse_options

    job = Job("ptx", str(tmp_path / "out"), parse_options("ptx", {"num_examples": 1_000_000}), 512)
    slurm = Slurm(partition="gpu-cpu", time="02:00:00", venv_path="/opt/venv/bin/activate")
    chain = executors(job, "slurm", workers=64, slurm=slurm)
    assert [e.job_name for e in chain] == [f"warp-ir-pairs-ptx-{s}" for s in ("scan", "select", "build", "finish")]
    assert [e.tasks for e in chain] == [512, 1, 512, 1]
    assert all(later.depends is earlier for earlier, later in zip(chain, chain[1:], strict=False))
    build = chain[2]
    script = build.get_launch_file_contents(build.get_sbatch_args(max_array=512), "launch_pickled_pipeline EXECUTOR")
    for line in (
        "#SBATCH --partition=gpu-cpu",
        "#SBATCH --time=02:00:00",
        "#SBATCH --array=0-511%64",
        "#SBATCH --job-name=warp-ir-pairs-ptx-build",
        "source /opt/venv/bin/activate",
        "launch_pickled_pipeline EXECUTOR",
    ):
        assert line in script, line
    assert build.logging_dir.resolve_paths("").endswith("out/.build/ptx/logs/build")


def test_pool_workers_leave_ctrl_c_to_the_build_and_start_with_its_modules():
    """A Ctrl-C on a terminal reaches every process of the group: the local pool's workers ignore it
    (the build's own process stops them), so none prints a traceback of its own. They fork from a
    server that imported the build's modules once, so none imports them again."""
    code = (
        "import signal, multiprocess\n"
        "from generation.distributed.run import WORKER_PRELOAD, start_fork_server\n"
        "start_fork_server()\n"
        "with multiprocess.get_context('forkserver').Pool(1) as pool:\n"
        "    ignored = pool.apply(signal.getsignal, (signal.SIGINT,)) == signal.SIG_IGN\n"
        "    loaded = pool.apply(eval, (f'all(m in __import__(\"sys\").modules for m in {WORKER_PRELOAD})',))\n"
        "    print(ignored, loaded)\n"
    )
    assert run_python(code) == "True True"
