"""Planning a real build: harvested kernels cannot be regenerated from an index, so the plan carries
the kernels themselves, their files shuffled by the seed and dealt out to the splits whole."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from generation.pipeline.options import BuildOptions
from generation.pipeline.plan.model import SPLITS, Plan, PlannedKernel
from generation.pipeline.stats import BuildStats, Reason
from generation.real.harvest import Harvested, harvest
from generation.source.features import normalized_ast
from generation.source.spec import Failure, origin_file


def draw_real(options: BuildOptions, harvested: Harvested) -> tuple[list[list[PlannedKernel]], list[Failure]]:
    """Every distinct harvested kernel, grouped by the file it came from, the files shuffled by the
    seed (so splits are a random partition of files), and the harvest's skips with the repeats added.

    Files read statically repeat when their structure does (``normalized_ast``: a vendored copy, a
    kernel copied with other names). Kernels written out from a running package repeat only when
    their text does: a factory's products for other values are other kernels, one row each."""
    skipped = list(harvested.skipped)
    seen: set[str] = set()
    files: dict[str, list[PlannedKernel]] = {}
    exact = options.harvest != "static"
    for index, spec in enumerate(harvested.specs):
        key = spec.python_source if exact else normalized_ast(spec.python_source)
        if key in seen:
            skipped.append(Failure("duplicate", f"{spec.origin} repeats an earlier kernel", spec.package_key))
            continue
        seen.add(key)
        files.setdefault(origin_file(spec.origin), []).append(PlannedKernel(index, spec))
    shuffled = list(files.values())
    random.Random(options.seed).shuffle(shuffled)
    return shuffled, skipped


def deal_files(files: list[list[PlannedKernel]], sizes: dict[str, int], whole: bool) -> dict[str, list]:
    """Each file's kernels to one split: in order, a file goes to the first split it fits in
    (validation, test, train), so no file has rows in two splits and test rows have no siblings in
    train. Only ``train`` takes part of a file, to come out at its size; with ``whole`` (every
    kernel asked for) it takes every file the held-out splits do not."""
    dealt: dict[str, list] = {split: [] for split in SPLITS}
    order = ("validation", "test", "train")
    for kernels in files:
        split = next((s for s in order if len(dealt[s]) + len(kernels) <= sizes[s] or (whole and s == "train")), None)
        if split is None:  # train takes what fits of it; its other kernels are not asked for
            split, kernels = "train", kernels[: sizes["train"] - len(dealt["train"])]
        dealt[split] += kernels
    return dealt


def harvest_for(options: BuildOptions) -> Harvested:
    """The kernels of the files a real build names, each under its file's licence unless the build sets one."""
    return harvest(options.harvesting)


def no_rows_message(options: BuildOptions, stats: Iterable[BuildStats], source: str = "real") -> str:
    """Why a build has no rows at all: its skips by reason (of every split), and for a real build the
    paths it harvested."""
    skipped: Counter = Counter()
    for split in stats:
        skipped.update(split.skipped)
    why = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) or "no @wp.kernel in them"
    if source != "real":
        return f"no kernel gave a row (skipped: {why})"
    named = {"paths": options.paths, "packages": options.packages, "modules": options.modules}
    where = " and ".join(f"the {kind} {list(given)}" for kind, given in named.items() if given)
    where = where or "Warp's examples and tests"
    return f"{where} gave no rows ({options.harvest} harvest; skipped: {why})"


def plan_real(options: BuildOptions, harvested: Harvested | None = None) -> Plan:
    """Harvested kernels dealt out to the splits a whole file at a time (``deal_files``), with each
    split's statistics.

    When every harvested kernel is asked for (no ``num_examples``), each split asks for what it was
    dealt: held-out splits come out at or under their size, since they take whole files, and train
    takes the rest. The harvest's skips (files that do not parse, kernels nested in functions,
    repeats) are kernels asked for too: they count under ``train``. Otherwise each split asks for
    its size, and a shortfall is counted.
    """
    files, skipped = draw_real(options, harvest_for(options) if harvested is None else harvested)
    available = sum(len(kernels) for kernels in files)
    if not available:  # before any work: say so, rather than write an empty dataset
        harvested_stats = BuildStats()
        for failure in skipped:
            harvested_stats.skip_failure("harvest", failure)
        raise ValueError(no_rows_message(options, [harvested_stats]))
    sizes = options.split_sizes(available=available)
    whole = options.num_examples is None  # every kernel was asked for
    plan = Plan("real", deal_files(files, sizes, whole))
    short = f"the files hold {available} distinct kernels in {len(files)} files, and a split takes whole files"
    for split in SPLITS:
        requested = len(plan.items[split]) if whole else sizes[split]
        plan.stats[split] = BuildStats(requested=requested, found=whole)
        for _ in range(requested - len(plan.items[split])):
            plan.stats[split].skip(Reason("plan", "no_unique_kernel_left"), short)
    if whole:
        plan.stats["train"].requested += len(skipped)
        for failure in skipped:
            plan.stats["train"].skip_failure("harvest", failure)
    return plan
