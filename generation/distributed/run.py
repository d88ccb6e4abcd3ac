"""Running a task build on a datatrove executor: local processes, a Ray cluster, or Slurm jobs.

The stages run one after the other (scan with ``tasks`` tasks, select with one, build with
``tasks``, finish with one); each keeps datatrove's completion markers under
``PATH/.build/CONFIG/logs/STAGE``, so the same command run again skips finished tasks.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
from dataclasses import dataclass, field

from datatrove.executor.local import LocalPipelineExecutor
from datatrove.executor.ray import RayPipelineExecutor
from datatrove.executor.slurm import SlurmPipelineExecutor

from generation.distributed.steps import VERSIONS, BuildShards, FinishBuild, Job, ScanBlocks, SelectKernels
from generation.hub import layout

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "slurm", "ray")
# (stage, its step, whether it runs as the build's tasks or as one task)
PIPELINE_STAGES = (
    ("scan", ScanBlocks, True),
    ("select", SelectKernels, False),
    ("build", BuildShards, True),
    ("finish", FinishBuild, False),
)


class _LoggingStream(io.TextIOBase):
    """A text stream whose lines go to ``logging`` at debug level (datatrove's console output)."""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                datatrove_logger.debug(line)
        return len(text)


datatrove_logger = logging.getLogger("datatrove")


class _QuietConsole:
    """Datatrove gives each task a console logger at INFO (the pipeline drawn, statistics tables);
    here that console is ``logging`` at debug level. The task's own log file keeps everything."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        console, sys.stderr = sys.stderr, _LoggingStream()
        try:
            return super()._run_for_rank(rank, local_rank, node_rank)
        finally:
            sys.stderr = console


class LocalExecutor(_QuietConsole, LocalPipelineExecutor):
    pass


class RayExecutor(_QuietConsole, RayPipelineExecutor):
    pass


class SlurmExecutor(_QuietConsole, SlurmPipelineExecutor):
    pass


def route_datatrove_logs() -> None:
    """Datatrove logs with loguru: send the main process's records to ``logging`` (debug level)."""
    from loguru import logger

    logger.remove()
    logger.add(_LoggingStream(), level="DEBUG", format="{level}: {message}")


class BuildError(RuntimeError):
    """A task build that cannot go on, with a message meant for the user."""


@dataclass(frozen=True)
class Slurm:
    """What a Slurm cluster needs beyond the build: where and how long each task may run."""

    partition: str = "cpu"
    time: str = "04:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 4
    venv_path: str | None = None  # ``source``d before each task: the environment holding warp-ir-pairs
    sbatch_args: dict = field(default_factory=dict)


def check_resumable(job: Job) -> None:
    """A rerun into the same folder must be the same build; record it on the first run."""
    out = layout.folder(job.out)
    path = layout.state(job.config, "job.json")
    if out.exists(path):
        earlier = layout.read_json(out, path)
        if earlier != job.describe():
            changed = sorted(
                key
                for key in {**earlier["options"], **job.describe()["options"]}
                if earlier["options"].get(key) != job.describe()["options"].get(key)
            )
            if earlier["tasks"] != job.tasks:  # --tasks defaults to --workers: say what the first run used
                changed.append(f"tasks (the first run used --tasks {earlier['tasks']})")
            for key in VERSIONS:
                if earlier.get(key) != job.describe()[key]:
                    what = key.replace("_", " ")
                    changed.append(f"{what} (the first run wrote {earlier.get(key) or 'an older one'})")
            raise BuildError(
                f"{job.out} already holds a {job.config} build with other settings (changed: {', '.join(changed)}); "
                f"rerun it with the same settings to resume, or build into another --out"
            )
    else:
        layout.write_json(out, path, job.describe())


def rebuild_damaged_shards(job: Job) -> None:
    """A rerun checks what it keeps: the build task of a shard that is missing or not as it was
    written, and the finish stage after it, are marked unfinished, so they run again."""
    out = layout.folder(job.out)
    for record, why in layout.damaged_shards(out, job.config).items():
        rank = int(record.rsplit("-", 1)[1].removesuffix(".json"))
        logger.warning("%s: building it again", why)
        for stage, marker in (("build", rank), ("finish", 0)):
            completion = layout.state(job.config, "logs", stage, "completions", f"{marker:05d}")
            if out.exists(completion):
                out.rm(completion)


def executor_for(job: Job, stage: str, step, tasks: int, kind: str, workers: int, slurm: Slurm | None, depends=None):
    logging_dir = layout.folder(job.out).resolve_paths(layout.state(job.config, "logs", stage))
    pipeline = [step(job)]
    workers = min(workers, tasks)
    if kind == "local":
        return LocalExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir)
    if kind == "ray":
        return RayExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir, mem_per_cpu_gb=1)
    if kind == "slurm":
        slurm = slurm or Slurm()
        return SlurmExecutor(
            pipeline,
            tasks=tasks,
            workers=workers,
            time=slurm.time,
            partition=slurm.partition,
            cpus_per_task=slurm.cpus_per_task,
            mem_per_cpu_gb=slurm.mem_per_cpu_gb,
            job_name=f"warp-ir-pairs-{job.config}-{stage}",
            venv_path=slurm.venv_path,
            sbatch_args=slurm.sbatch_args,
            logging_dir=logging_dir,
            depends=depends,
        )
    raise ValueError(f"unknown executor {kind!r}; choose from {list(EXECUTORS)}")


def executors(job: Job, kind: str = "local", workers: int = 1, slurm: Slurm | None = None) -> list:
    """One executor per stage, in order (Slurm's each depending on the one before)."""
    chain = []
    for stage, step, parallel in PIPELINE_STAGES:
        depends = chain[-1] if chain and kind == "slurm" else None
        tasks = job.tasks if parallel else 1
        chain.append(executor_for(job, stage, step, tasks, kind, workers, slurm, depends))
    return chain


def connect_ray() -> None:
    """Join the cluster ``RAY_ADDRESS`` names, or start a local one. Ray 2.60 resolves 127.0.0.1 to
    the machine's address and listens on every interface whatever it is asked (the test keeps its
    cluster in a network namespace that has only loopback)."""
    try:
        import ray
    except ImportError as error:
        raise BuildError("the ray executor needs Ray: pip install 'warp-ir-pairs[ray]'") from error
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
    else:
        logger.info("RAY_ADDRESS is not set: starting a local Ray cluster on this machine")
        ray.init(include_dashboard=False, log_to_driver=False)


def run_build(job: Job, kind: str = "local", workers: int = 1, slurm: Slurm | None = None) -> None:
    """Build ``job`` on ``kind`` executors. Local and Ray builds return when the build is done;
    Slurm submits the four stages as dependent jobs and returns. One build of a config into a
    folder at a time: a second is refused at once, naming the first's process."""
    if kind == "slurm":
        return _run_stages(job, kind, workers, slurm)
    with layout.locked(layout.folder(job.out), layout.state(job.config, "build.lock"), wait=False) as holder:
        if holder is not None:
            raise BuildError(
                f"another build of {job.config} into {job.out} is running (process {holder}); wait for it to finish, "
                f"or build into another --out"
            )
        _run_stages(job, kind, workers, slurm)


# What the local pool's workers import before their first task: the fork server imports it once, and
# each worker forks from it ready (without, each imported it anew, 2 s of CPU a worker in every stage).
WORKER_PRELOAD = ("generation.distributed.steps", "warp")


def start_fork_server() -> None:
    """Start the fork server the local pool's workers come from, with the build's modules imported
    (``WORKER_PRELOAD``) and Ctrl-C ignored, so that the workers inherit both: a Ctrl-C on the
    terminal reaches every process of the group, and a worker would print a traceback of its own;
    the build's process stops them instead, cleanly."""
    import multiprocess.forkserver

    multiprocess.forkserver.set_forkserver_preload(list(WORKER_PRELOAD))
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocess.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, ignored)


def _run_stages(job: Job, kind: str, workers: int, slurm: Slurm | None) -> None:
    check_resumable(job)
    rebuild_damaged_shards(job)
    if kind == "local" and workers > 1:
        start_fork_server()
    if kind == "ray":
        connect_ray()
    chain = executors(job, kind, workers, slurm)
    if kind == "slurm":
        chain[-1].run()  # launches its dependencies first, each with --dependency on the one before
        return
    for (stage, _, _), executor in zip(PIPELINE_STAGES, chain, strict=True):
        executor.run()
        if missing := executor.get_incomplete_ranks(skip_completed=True):
            raise BuildError(
                f"{len(missing)} of {executor.world_size} {stage} tasks failed (ranks {missing[:10]}); "
                f"their logs are in {executor.logging_dir.resolve_paths('logs')}; run the same command again to resume"
            )
