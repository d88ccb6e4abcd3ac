"""Planning a build: which kernels each split gets, without holding the kernels.

A generated kernel is fully named by its draw index: ``(seed, category, index)`` regenerates it,
and the category follows from the index (``draw_round``). Planning therefore keeps one 64-bit
structure digest per draw and nothing else:

1. **scan** (parallel, in blocks of ``BLOCK_SIZE`` draws): generate each kernel and take the
   digest of its normalized syntax tree (names and constants canonicalised);
2. **select** (one pass in draw order): the digest picks the split (``split_of``), so the same
   structure lands in the same split in every config, at every size, with any worker count; a
   split takes its first unseen structures until it has its size (repeats drop out, the lowest
   draw index wins);
3. **build** (parallel): a shard is a run of draw indices; the worker regenerates its kernels.

Real configs harvest a few thousand kernels that cannot be regenerated from an index: their
plan carries the kernels themselves, shuffled by the seed and dealt out in order.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import count

import numpy as np

from generation.generated.generator import draw_round, generate
from generation.pipeline.options import BuildOptions
from generation.pipeline.stats import BuildStats, Reason
from generation.real.harvest import Harvest, harvest
from generation.source.features import normalized_ast, structure_key
from generation.source.spec import Failure, KernelSpec

SPLITS = ("train", "validation", "test")
# Where a structure digest falls in [0, 1) picks its split: a fixed partition of all kernel
# structures, the same for every build (validation and test 5% each, as their default sizes).
SPLIT_BOUNDS = {"train": 0.90, "validation": 0.95, "test": 1.0}
BLOCK_SIZE = 256  # draws scanned together: the unit of parallel planning and of its files
MAX_SHARDS = 64
# A build with a length cap replaces each kernel over it by a further distinct draw. Planning keeps
# a reserve of RESERVE_PER_GROUP draws for each GROUP_SIZE rows, and a group replaces from its own
# reserve, so the rows never depend on how groups are dealt to shards, tasks or workers. Scanning a
# draw costs about 0.4 ms, building one about 10 ms: a deep reserve is cheap. It keeps a build exact
# unless about half its kernels are over the cap; past that the shortfall is counted and logged.
GROUP_SIZE = 16
RESERVE_PER_GROUP = 32
# How many draws per requested row before a narrow category filter is declared exhausted.
MAX_DRAWS_PER_ROW = 20


@dataclass(frozen=True)
class PlannedKernel:
    index: int  # the draw that produced it: (seed, category, index) regenerates it
    spec: KernelSpec


@dataclass(frozen=True)
class Group:
    """Rows built together: the planned kernels, and the reserve that replaces those over a cap."""

    items: list
    reserve: list


@dataclass
class Plan:
    """Per split, the rows to build (draw indices, or whole harvested kernels) and the counts so far."""

    items: dict[str, list] = field(default_factory=dict)
    stats: dict[str, BuildStats] = field(default_factory=dict)
    draws: int = 0  # draws scanned to fill the generated splits
    reserve: dict[str, list] = field(default_factory=dict)  # per split: replacements for kernels over a cap

    def groups(self, split: str) -> list[Group]:
        """The split's rows in groups of ``GROUP_SIZE``, each with its share of the reserve."""
        items, reserve = self.items[split], self.reserve.get(split, [])
        starts = range(0, len(items), GROUP_SIZE)
        return [
            Group(items[start : start + GROUP_SIZE], reserve[k * RESERVE_PER_GROUP : (k + 1) * RESERVE_PER_GROUP])
            for k, start in enumerate(starts)
        ]

    def to_json(self) -> dict:
        """The plan as JSON: draw indices as numbers, harvested kernels whole."""

        def item(value):
            return value if isinstance(value, int) else {"index": value.index, "spec": asdict(value.spec)}

        return {
            "draws": self.draws,
            "items": {split: [item(value) for value in items] for split, items in self.items.items()},
            "reserve": {split: [item(value) for value in items] for split, items in self.reserve.items()},
            "stats": {split: stats.as_dict() for split, stats in self.stats.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        def item(value):
            return value if isinstance(value, int) else PlannedKernel(value["index"], KernelSpec(**value["spec"]))

        return cls(
            {split: [item(value) for value in items] for split, items in data["items"].items()},
            {split: BuildStats.from_dict(stats) for split, stats in data["stats"].items()},
            data["draws"],
            {split: [item(value) for value in items] for split, items in data.get("reserve", {}).items()},
        )


def kernel_at(options: BuildOptions, index: int) -> KernelSpec:
    """The generated kernel of draw ``index``: its recipe is the options' seed and filters and the index."""
    rounds = draw_round(options.categories)
    return generate(
        rounds[index % len(rounds)],
        options.seed,
        index,
        options.include_backward,
        options.difficulty,
        options.max_depth,
        options.max_statements,
    )


def structure_digest(python_source: str) -> int:
    """64 bits of the normalized syntax tree: kernels that differ only in names or constants agree."""
    digest = hashlib.blake2b(structure_key(python_source), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def split_of(digest: int) -> str:
    """The split a structure belongs to, from its digest alone."""
    position = digest / 2**64
    return next(split for split, bound in SPLIT_BOUNDS.items() if position < bound)


def scan_block(options: BuildOptions, block: int) -> np.ndarray:
    """The structure digests of the draws of ``block``, in draw order."""
    start = block * BLOCK_SIZE
    digests = [structure_digest(kernel_at(options, index).python_source) for index in range(start, start + BLOCK_SIZE)]
    return np.array(digests, dtype=np.uint64)


def draws_needed(sizes: dict[str, int]) -> float:
    """Draws that fill the slowest split on average: each split gets its share of all structures."""
    lower, needed = 0.0, 0.0
    for split, bound in SPLIT_BOUNDS.items():
        needed = max(needed, sizes.get(split, 0) / (bound - lower))
        lower = bound
    return needed


def max_draws(sizes: dict[str, int]) -> int:
    """Draws after which a split still short is declared exhausted (a narrow category filter)."""
    return math.ceil(draws_needed(sizes) * MAX_DRAWS_PER_ROW) + BLOCK_SIZE


def reserve_size(options: BuildOptions, size: int) -> int:
    """Replacements planned for a split of ``size`` rows: none without a length cap."""
    return math.ceil(size / GROUP_SIZE) * RESERVE_PER_GROUP if options.capped else 0


def with_reserve(options: BuildOptions, sizes: dict[str, int]) -> dict[str, int]:
    """Kernels each split of a generated build selects: its rows and their reserve."""
    return {split: size + reserve_size(options, size) for split, size in sizes.items()}


def planned_sizes(options: BuildOptions) -> dict[str, int]:
    return with_reserve(options, options.split_sizes())


def expected_blocks(sizes: dict[str, int]) -> int:
    """Blocks that usually fill every split, with a margin for repeats."""
    return math.ceil(draws_needed(sizes) * 1.05 / BLOCK_SIZE) + 1


def select(options: BuildOptions, sizes: dict[str, int], blocks: Iterable[np.ndarray]) -> Plan:
    """Each split's first ``size`` distinct structures in draw order, then its reserve (the next
    ones), from the digests of consecutive blocks (``blocks`` yields block 0, 1, ...; it may be endless)."""
    wanted = with_reserve(options, sizes)
    plan = Plan({split: [] for split in SPLITS}, {split: BuildStats(requested=sizes[split]) for split in SPLITS})
    seen: dict[str, set[int]] = {split: set() for split in SPLITS}
    limit = max_draws(wanted)
    short = {split for split in SPLITS if wanted[split] > 0}
    for block, digests in enumerate(blocks):
        if not short or plan.draws >= limit:
            break
        for offset, digest in enumerate(digests.tolist()):
            split = split_of(digest)
            if split in short and digest not in seen[split]:
                seen[split].add(digest)
                plan.items[split].append(block * BLOCK_SIZE + offset)
                if len(plan.items[split]) == wanted[split]:
                    short.discard(split)
        plan.draws += len(digests)
    exhausted = f"categories {list(options.categories)} gave too few distinct kernels in {plan.draws} draws"
    for split in SPLITS:
        plan.items[split], plan.reserve[split] = plan.items[split][: sizes[split]], plan.items[split][sizes[split] :]
        for _ in range(sizes[split] - len(plan.items[split])):
            plan.stats[split].skip(Reason("plan", "no_unique_kernel_left"), exhausted)
    return plan


def scanned_blocks(options: BuildOptions, scan: Callable[[Iterable[int]], Iterator[np.ndarray]] | None = None):
    """Digests of block 0, 1, 2, ... for ``select``; ``scan`` maps block numbers to digests
    (in order), for example through a process pool; by default in this process."""
    if scan is None:
        return (scan_block(options, block) for block in count())
    return scan(count())


def pooled_scan(options: BuildOptions, pool, ahead: int) -> Callable[[Iterable[int]], Iterator[np.ndarray]]:
    """A ``scan`` for ``plan_splits`` that scans blocks in ``pool`` (a ``multiprocessing`` pool),
    at most ``ahead`` blocks ahead of the one selection is reading, and yields them in order."""

    def scan(blocks: Iterable[int]) -> Iterator[np.ndarray]:
        pending: deque = deque()
        for block in blocks:
            pending.append(pool.apply_async(scan_block, (options, block)))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    return scan


def draw_real(options: BuildOptions, harvested: Harvest) -> tuple[list[list[PlannedKernel]], list[Failure]]:
    """Every distinct harvested kernel, grouped by the file it came from, the files shuffled by the
    seed (so splits are a random partition of files), and the harvest's skips with the repeats added."""
    skipped = list(harvested.skipped)
    seen: set[str] = set()
    files: dict[str, list[PlannedKernel]] = {}
    for index, spec in enumerate(harvested.specs):
        key = normalized_ast(spec.python_source)
        if key in seen:
            skipped.append(Failure("duplicate", f"{spec.origin} repeats an earlier kernel"))
            continue
        seen.add(key)
        files.setdefault(spec.origin.rsplit("::", 1)[0], []).append(PlannedKernel(index, spec))
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


def harvest_for(options: BuildOptions) -> Harvest:
    """The kernels of the files a real build names, each under its file's licence unless the build sets one."""
    return harvest(
        options.paths,
        options.license,
        options.include_backward,
        options.harvest,
        options.import_timeout,
        options.import_setup,
    )


def nothing_built(options: BuildOptions, stats: Iterable[BuildStats]) -> str:
    """Why a real build has no rows at all: the paths it harvested and its skips by reason (of every split)."""
    skipped: Counter = Counter()
    for split in stats:
        skipped.update(split.skipped)
    where = list(options.paths) if options.paths else "Warp's examples and tests"
    why = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) or "no @wp.kernel in them"
    return f"the paths {where} gave no rows ({options.harvest} harvest; skipped: {why})"


def plan_real(options: BuildOptions, harvested: Harvest | None = None) -> Plan:
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
        raise ValueError(nothing_built(options, [harvested_stats]))
    sizes = options.split_sizes(available=available)
    whole = options.num_examples is None  # every kernel was asked for
    plan = Plan(deal_files(files, sizes, whole))
    short = f"the files hold {available} distinct kernels in {len(files)} files, and a split takes whole files"
    for split in SPLITS:
        requested = len(plan.items[split]) if whole else sizes[split]
        plan.stats[split] = BuildStats(requested=requested)
        for _ in range(requested - len(plan.items[split])):
            plan.stats[split].skip(Reason("plan", "no_unique_kernel_left"), short)
    if whole:
        plan.stats["train"].requested += len(skipped)
        for failure in skipped:
            plan.stats["train"].skip_failure("harvest", failure)
    return plan


def plan_splits(
    options: BuildOptions,
    source: str = "generated",
    harvested: Harvest | None = None,
    scan: Callable[[Iterable[int]], Iterator[np.ndarray]] | None = None,
) -> Plan:
    """The plan of a build: generated configs select draws by structure, real ones deal harvested kernels."""
    if source == "real":
        return plan_real(options, harvested)
    return select(options, options.split_sizes(), scanned_blocks(options, scan))


def planned_kernels(options: BuildOptions, items: Iterable) -> Iterator[PlannedKernel]:
    """The kernels of a plan's items, one at a time: draw indices are regenerated here."""
    for item in items:
        yield item if isinstance(item, PlannedKernel) else PlannedKernel(item, kernel_at(options, item))


def planned_split(options: BuildOptions, split: str = "train", source: str = "generated") -> list[PlannedKernel]:
    """One split's kernels, planned and made (for benches and tests that build a few rows directly)."""
    return list(planned_kernels(options, plan_splits(options, source).items[split]))


def shard(groups: list[Group], max_shards: int = MAX_SHARDS) -> list[list[Group]]:
    """Deal ``groups`` out to at most ``max_shards`` contiguous shards (a group to a shard at least)."""
    return split_evenly(groups, max(1, min(max_shards, len(groups))))


def split_evenly(items: list, count: int) -> list[list]:
    """``items`` cut into ``count`` contiguous runs whose lengths differ by at most one (some may be empty)."""
    size, extra = divmod(len(items), count)
    bounds = [k * size + min(k, extra) for k in range(count + 1)]
    return [items[bounds[k] : bounds[k + 1]] for k in range(count)]
