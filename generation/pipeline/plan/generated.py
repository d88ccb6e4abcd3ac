"""Planning a generated build: which draws of the generator each split gets, without holding kernels.

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
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import count

import numpy as np

from generation.generated.generator import draw_round, generate
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan.model import GROUP_SIZE, RESERVE_PER_GROUP, SPLITS, Plan
from generation.pipeline.stats import BuildStats, Reason
from generation.source.features import structure_key
from generation.source.spec import KernelSpec

# Where a structure digest falls in [0, 1) picks its split: a fixed partition of all kernel
# structures, the same for every build (validation and test 5% each, as their default sizes).
SPLIT_BOUNDS = {"train": 0.90, "validation": 0.95, "test": 1.0}
BLOCK_SIZE = 256  # draws scanned together: the unit of parallel planning and of its files
# How many draws per requested row before a narrow category filter is declared exhausted.
MAX_DRAWS_PER_ROW = 20


def kernel_at(options: BuildOptions, index: int) -> KernelSpec:
    """The generated kernel of draw ``index``: its recipe is the options' seed and filters and the index."""
    rounds = draw_round(options.categories)
    return generate(rounds[index % len(rounds)], options.seed, index, options.generation)


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
    plan = Plan("generated", {split: [] for split in SPLITS}, {s: BuildStats(requested=sizes[s]) for s in SPLITS})
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
