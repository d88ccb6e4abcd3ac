"""The four stages of a task build, as datatrove pipeline steps: scan, select, build, finish.

Every stage writes its results under their final names only when they are complete, and skips
what an earlier run already finished, so a rerun after a crash resumes where it stopped. Each
stage is a pure function of the build's ``Job``: rows never depend on the task or worker count.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import sys
from dataclasses import dataclass

import multiprocess
import numpy as np
from datatrove.pipeline.base import PipelineStep
from fsspec.implementations.local import LocalFileSystem
from tqdm import tqdm

from generation.backend.children import peak_rss_mb
from generation.distributed.signals import unwinding
from generation.generated.generator import GENERATOR_VERSION
from generation.hub import layout
from generation.hub.publish import write_layout_card
from generation.pipeline import heap
from generation.pipeline.build import build_groups
from generation.pipeline.options import CONFIGS, BuildOptions
from generation.pipeline.plan import SPLITS, Plan, plan_splits, split_evenly
from generation.pipeline.plan.generated import expected_blocks, planned_sizes, scan_block
from generation.pipeline.plan.kept import KeptKernels
from generation.pipeline.plan.model import PLAN_VERSION
from generation.pipeline.rows import DATASET_VERSION
from generation.pipeline.stats import BuildStats

logger = logging.getLogger(__name__)


# What else makes shards of one folder the same build: shards of two schema versions, of two ways of
# turning a plan into rows, or of two generators (the kernels a draw index names) never share a folder.
VERSIONS = {"dataset_version": DATASET_VERSION, "plan_version": PLAN_VERSION, "generator_version": GENERATOR_VERSION}


@dataclass(frozen=True)
class Job:
    """One config built into the Hub layout at ``out`` by ``tasks`` tasks."""

    config: str
    out: str
    options: BuildOptions
    tasks: int

    @property
    def source(self) -> str:
        return CONFIGS[self.config].source

    @property
    def device(self) -> str:
        return CONFIGS[self.config].device

    def describe(self) -> dict:
        """What makes two runs the same build (a rerun must match it to resume)."""
        described = {"config": self.config, "tasks": self.tasks, "options": dataclasses.asdict(self.options)}
        described |= VERSIONS
        return json.loads(json.dumps(described))  # as it reads back from job.json (tuples become lists)


def sigterm_unwinds():
    """While a task works, SIGTERM (a pool's terminate, a scheduler) unwinds like Ctrl-C, so its
    temporary files and child processes are cleaned up. Outside its work the pool's own handling
    stands: a worker with its handler still in place would not let ``Pool.terminate`` end it."""
    return unwinding(signal.SIGTERM)


class _Stage(PipelineStep):
    type = "warp-ir-pairs"

    def __init__(self, job: Job):
        super().__init__()
        self.job = job

    def run(self, data, rank: int = 0, world_size: int = 1):
        self.out = layout.folder(self.job.out)
        try:
            with sigterm_unwinds() as stop:
                self.work(rank, world_size)
            if stop.signum is not None:  # its interrupt was lost on the way: the work is done, the build is not
                raise KeyboardInterrupt(f"signal {stop.signum}")
        except KeyboardInterrupt:
            if multiprocess.parent_process() is None:  # the build's own process says it was interrupted
                raise
            # A pool's worker, stopped with its pool: unwound, it ends quietly (one traceback a
            # worker would bury the build's own line saying how to resume). It must end: the pool
            # signals it once, then waits for it, holding the lock a worker takes its next task under.
            raise SystemExit(130) from None
        # The process's peak so far (a pool worker runs several tasks): what a machine must hold.
        self.stat_update("peak_rss_mb", value=peak_rss_mb())
        return iter(())

    def work(self, rank: int, world_size: int) -> None:
        raise NotImplementedError


def block_file(job: Job, block: int) -> str:
    return layout.state(job.config, "blocks", f"{block:07d}.npy")


def kept_kernels(stage: _Stage) -> KeptKernels | None:
    """Where the scan keeps the kernels it made, for the build tasks to read back; None (they are
    generated again) when the output is not on a local file system."""
    if not isinstance(stage.out.fs, LocalFileSystem):
        return None
    return KeptKernels(stage.out.resolve_paths(layout.state(stage.job.config, "kernels")))


class ScanBlocks(_Stage):
    """Structure digests of the draws a build will most likely need, ``expected_blocks`` of them,
    dealt round-robin to the tasks (generated configs only); their kernels are kept for the build."""

    name = "scan"

    def work(self, rank: int, world_size: int) -> None:
        if self.job.source != "generated":
            return
        kept = kept_kernels(self)
        with heap.frozen():
            self.scan(rank, world_size, kept)

    def scan(self, rank: int, world_size: int, kept: KeptKernels | None) -> None:
        for block in range(rank, expected_blocks(planned_sizes(self.job.options), world_size), world_size):
            if not self.out.exists(block_file(self.job, block)):
                scanned_block(self, block, kept)
                self.stat_update("blocks")


def scanned_block(stage: _Stage, block: int, kept: KeptKernels | None) -> np.ndarray:
    """Scan ``block``, keep its kernels in ``kept`` and save its digests (a rerun reads them back)."""
    digests = scan_block(stage.job.options, stage.job.device, block, kept)
    with layout.written_in_place(stage.out, block_file(stage.job, block)) as file:
        np.save(file, digests)
    return digests


def load_block(stage: _Stage, block: int) -> np.ndarray:
    """A scanned block's digests, or the block scanned here when no task scanned it."""
    path = block_file(stage.job, block)
    if stage.out.exists(path):
        with stage.out.open(path, "rb") as file:
            return np.load(file)
    return scanned_block(stage, block, kept_kernels(stage))


class SelectKernels(_Stage):
    """The plan: each split's draws (or harvested kernels), from the scanned digests in order."""

    name = "select"

    def work(self, rank: int, world_size: int) -> None:
        loaded = lambda blocks: (load_block(self, block) for block in blocks)  # noqa: E731  (what the scan stage wrote)
        plan = plan_splits(self.job.options, self.job.device, self.job.source, scan=loaded)
        layout.write_json(self.out, layout.state(self.job.config, "plan.json"), plan.to_json())


def task_stats_file(job: Job, split: str, rank: int) -> str:
    """Where build task ``rank`` keeps its statistics for ``split`` (written after its shard)."""
    return layout.state(job.config, "stats", f"{split}-{rank:05d}.json")


class BuildShards(_Stage):
    """Task ``rank`` writes shard ``rank`` of every split, and its statistics next to the plan."""

    name = "build"

    def work(self, rank: int, world_size: int) -> None:
        job = self.job
        plan = Plan.from_json(layout.read_json(self.out, layout.state(job.config, "plan.json")), job.source)
        kept = kept_kernels(self)
        for split in SPLITS:
            if plan.stats[split].requested == 0:
                continue
            data_file = layout.shard_name(job.config, split, rank, world_size)
            stats_file = task_stats_file(job, split, rank)
            record = layout.shard_record(job.config, split, rank)
            finished = self.out.exists(data_file) and self.out.exists(stats_file)
            if finished and not (self.out.exists(record) and layout.shard_damage(self.out, record)):
                continue  # finished by an earlier run, and as it was written
            groups = split_evenly(plan.groups(split), world_size)[rank]
            stats = BuildStats(found=plan.stats[split].found)
            rows = build_groups(groups, job.device, job.options, stats, kept)
            total = sum(len(group.items) for group in groups)
            rows = terminal_progress(rows, total, f"{job.config} {split} {rank + 1}/{world_size}")
            written = layout.write_parquet(self.out, data_file, rows)
            assert written == stats.rows
            layout.record_shard(self.out, job.config, split, rank, data_file, written)
            layout.write_json(self.out, stats_file, stats.as_dict())
            self.stat_update("rows", value=stats.rows)
            self.stat_update("skipped", value=stats.total_skipped)
            level = logging.INFO if world_size > 1 else logging.DEBUG  # one shard: the split's count says it
            if total:
                logger.log(level, "%s %s shard %d: %s", job.config, split, rank, stats.summary(split, requested=total))
            else:  # fewer groups than tasks
                logger.log(level, "%s %s shard %d: no rows of %s fall to this shard", job.config, split, rank, split)


def terminal_progress(rows, total: int, desc: str):
    """A progress bar on the terminal, and nothing at all when the output is a file or a pipe."""
    terminal = sys.__stderr__
    return tqdm(rows, total=total, desc=desc, unit=" rows", file=terminal, disable=not terminal.isatty(), leave=False)


class FinishBuild(_Stage):
    """Merge the plan's and the tasks' statistics, then write the card for every config in ``out``."""

    name = "finish"

    def work(self, rank: int, world_size: int) -> None:
        job = self.job
        plan = Plan.from_json(layout.read_json(self.out, layout.state(job.config, "plan.json")), job.source)
        splits = {}
        for split in SPLITS:
            stats = plan.stats[split]
            if stats.requested == 0:
                continue
            for k in range(job.tasks):
                stats.merge(BuildStats.from_dict(layout.read_json(self.out, task_stats_file(job, split, k))))
            splits[split] = stats.as_dict()
            logger.info("%s %s", job.config, stats.summary(split))  # the build's one line per split
        summary = {"options": dataclasses.asdict(job.options), "splits": splits, "tasks": job.tasks}
        layout.write_json(self.out, layout.state(job.config, layout.STATS_FILE), summary)
        kept = layout.state(job.config, "kernels")
        if self.out.exists(kept):  # the rows are written: what the scan made is no longer needed
            self.out.rm(kept, recursive=True)
        if any(split["rows"] for split in splits.values()):  # else ``build`` reports it, and there is no card
            with layout.locked(self.out, f"{layout.STATE}/card.lock"):  # builds of other configs write it too
                write_layout_card(self.out)
