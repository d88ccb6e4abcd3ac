"""Planning a build: unique kernels for every split, cut into shards that workers can build alone.

Planning runs once, in the main process, before any code is generated: it draws kernels in a
fixed order, drops repeats across all splits (so no kernel is in two splits), and hands out
contiguous slices. Each row's code then depends only on its own kernel, so ``num_proc`` never
changes the rows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from datasets.utils import tqdm

from generation.kernels.features import normalized_ast
from generation.kernels.generator import draw_round, generate
from generation.kernels.harvest import Harvest, harvest
from generation.kernels.spec import Failure, KernelSpec
from generation.pipeline.options import BuildOptions
from generation.pipeline.stats import BuildStats, Reason

SPLITS = ("train", "validation", "test")  # in the order kernels are dealt to them
MIN_SHARD_SIZE = 16
MAX_SHARDS = 64
# How many draws per requested row before a narrow category filter is declared exhausted.
MAX_DRAWS_PER_ROW = 20
PROGRESS_FROM = 2000  # planning shows a progress bar from this many kernels (a few seconds)


@dataclass(frozen=True)
class PlannedKernel:
    index: int  # the draw that produced it: (seed, category, index) regenerates it
    spec: KernelSpec


def dedup_key(spec: KernelSpec) -> str:
    """Two kernels that differ only in names or constants are the same kernel."""
    return normalized_ast(spec.python_source)


def draw_generated(options: BuildOptions, wanted: int) -> tuple[list[PlannedKernel], str]:
    """Draw unique kernels round-robin over the categories (each as often as its weight) until
    ``wanted`` or the draw limit."""
    seen: set[str] = set()
    kernels: list[PlannedKernel] = []
    draws = 0
    max_draws = wanted * MAX_DRAWS_PER_ROW + 100
    progress = tqdm(total=wanted, desc="Planning kernels", unit=" kernels", disable=wanted < PROGRESS_FROM)
    rounds = draw_round(options.categories)
    while len(kernels) < wanted and draws < max_draws:
        category = rounds[draws % len(rounds)]
        spec = generate(
            category,
            options.seed,
            draws,
            options.include_backward,
            options.difficulty,
            options.max_depth,
            options.max_statements,
        )
        key = dedup_key(spec)
        if key not in seen:
            seen.add(key)
            kernels.append(PlannedKernel(draws, spec))
            progress.update()
        draws += 1
    progress.close()
    exhausted = f"categories {list(options.categories)} gave only {len(kernels)} distinct kernels in {draws} draws"
    return kernels, exhausted


def draw_real(options: BuildOptions, harvested: Harvest) -> tuple[list[PlannedKernel], list[Failure], str]:
    """Every distinct harvested kernel, shuffled by the seed (so splits are a random partition),
    and the harvest's skips with the repeats added."""
    skipped = list(harvested.skipped)
    seen: set[str] = set()
    kernels = []
    for index, spec in enumerate(harvested.specs):
        key = dedup_key(spec)
        if key in seen:
            skipped.append(Failure("duplicate", f"{spec.origin} repeats an earlier kernel"))
            continue
        seen.add(key)
        kernels.append(PlannedKernel(index, spec))
    random.Random(options.seed).shuffle(kernels)
    return kernels, skipped, f"the files hold only {len(kernels)} distinct kernels"


def harvest_for(options: BuildOptions) -> Harvest:
    """The kernels of the files a real build names, under the build's licence."""
    return harvest(options.paths, options.license_for("real"), options.include_backward)


def plan_splits(
    options: BuildOptions, source: str = "generated", harvested: Harvest | None = None
) -> tuple[dict[str, list[PlannedKernel]], dict[str, BuildStats]]:
    """Unique kernels dealt out to the splits, with each split's statistics: what it asked for,
    and the kernels it will miss (a shortfall, counted as ``plan:no_unique_kernel_left``).

    Real configs harvest the files (or take ``harvested``). When every harvested kernel is asked
    for (no ``num_examples``), the harvest's skips (files that do not parse, kernels nested in
    functions, repeats) are kernels asked for too: they count under ``train``, the split they
    would have gone to first. Otherwise the rows asked for come from the kernels that remain.
    """
    skipped: list[Failure] = []
    if source == "real":
        kernels, skipped, exhausted = draw_real(options, harvest_for(options) if harvested is None else harvested)
        sizes = options.split_sizes(available=len(kernels))
    else:
        sizes = options.split_sizes()
        kernels, exhausted = draw_generated(options, sum(sizes.values()))
    plans: dict[str, list[PlannedKernel]] = {}
    stats: dict[str, BuildStats] = {}
    start = 0
    for split in SPLITS:
        plans[split] = kernels[start : start + sizes[split]]
        start += sizes[split]
        stats[split] = BuildStats(requested=sizes[split])
        for _ in range(sizes[split] - len(plans[split])):
            stats[split].skip(Reason("plan", "no_unique_kernel_left"), exhausted)
    if source == "real" and options.num_examples is None:  # every kernel was asked for
        stats["train"].requested += len(skipped)
        for failure in skipped:
            stats["train"].skip_failure("harvest", failure)
    return plans, stats


def shard(items: list, max_shards: int = MAX_SHARDS, min_size: int = MIN_SHARD_SIZE) -> list[list]:
    """Cut ``items`` into contiguous shards of at least ``min_size`` (one shard if fewer)."""
    count = max(1, min(max_shards, math.ceil(len(items) / min_size)))
    size = math.ceil(len(items) / count) if items else 0
    return [items[k * size : (k + 1) * size] for k in range(count) if items[k * size : (k + 1) * size]] or [[]]
