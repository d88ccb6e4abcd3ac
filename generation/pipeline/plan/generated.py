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

A split's selected structures form one stream in draw order (``SplitStream``): its first rows are
the split's rows, the next ones its reserve, dealt to the groups in turn, and past the planned
reserve the stream goes on, scanned again where a group needs it. A kernel that fails any stage
is replaced by its group's next one, so replacement never runs dry while distinct kernels exist,
and every process derives the same replacements.

Under a length cap a draw is steered to fit (``generator.smaller_profiles``: its own size, then
smaller ones, by a predicted length, ``lengths.py``), and a draw predicted over the cap at the
smallest size is ``UNFIT``: selection passes it by.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import count

import numpy as np

from generation.backend.targets import make_code
from generation.generated.generator import draw_round, generate, smaller_profiles
from generation.pipeline import checks
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import lengths
from generation.pipeline.plan.kept import KeptKernels
from generation.pipeline.plan.model import BLOCK_SIZE, GROUP_SIZE, SPLITS, Further, Plan, PlannedKernel
from generation.pipeline.stats import BuildStats, Reason
from generation.source.features import kernel_features, structure_key
from generation.source.spec import KernelSpec

logger = logging.getLogger(__name__)

# Where a structure digest falls in [0, 1) picks its split: a fixed partition of all kernel
# structures, the same for every build (validation and test 5% each, as their default sizes).
SPLIT_BOUNDS = {"train": 0.90, "validation": 0.95, "test": 1.0}
# How many draws per requested row before a narrow category filter is declared exhausted.
MAX_DRAWS_PER_ROW = 20
# A split's stream is declared exhausted after this many draws in a row gave it nothing new.
EXHAUSTED_AFTER_DRAWS = 16384
# The digest a scan records for a draw predicted over a length cap even at the smallest size.
UNFIT = 2**64 - 1
# Replacements planned per group of GROUP_SIZE rows (more come from the stream when they run out):
# codegen fails about once in 5,000 draws; a cap or a check fails more often.
RESERVE_PER_GROUP = {"plain": 1, "capped": 8, "checked": 4}


# Under a cap, a draw that does not fit at the smallest size tries this many kernels of that size
# in all, the k-th being the kernel of index ``index + k * ATTEMPT_STRIDE`` (its recipe names it),
# so a category whose kernels are long still gives its share of rows.
SMALLEST_ATTEMPTS = 6
ATTEMPT_STRIDE = 2**40


def drawn(options: BuildOptions, target: str, index: int) -> tuple[KernelSpec, bool]:
    """The kernel of draw ``index`` for ``target``, and whether it is predicted to fit the build's
    length caps. Its recipe is the options' seed and filters and the index; under a cap, the
    first predicted to fit of: its own size, the ``smaller_profiles``, further attempts at the
    smallest (else the last of them)."""
    rounds = draw_round(options.categories)
    category = rounds[index % len(rounds)]
    if not options.capped:
        return generate(category, options.seed, index, options.generation), True
    *larger, smallest = smaller_profiles(options.generation)
    tries = [(profile, index) for profile in larger]
    tries += [(smallest, index + k * ATTEMPT_STRIDE) for k in range(SMALLEST_ATTEMPTS)]
    for profile, recipe_index in tries:
        spec = generate(category, options.seed, recipe_index, profile)
        if lengths.predicted_to_fit(spec.python_source, target, options):
            return spec, True
    return spec, False


def kernel_at(options: BuildOptions, target: str, index: int) -> KernelSpec:
    """The generated kernel of draw ``index`` of a build for ``target`` (see ``drawn``)."""
    return drawn(options, target, index)[0]


def structure_digest(source: str | ast.Module) -> int:
    """64 bits of the normalized syntax tree (of a source, or its parsed tree): kernels that differ
    only in names or constants agree."""
    digest = hashlib.blake2b(structure_key(source), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def split_of(digest: int) -> str:
    """The split a structure belongs to, from its digest alone."""
    position = digest / 2**64
    return next(split for split, bound in SPLIT_BOUNDS.items() if position < bound)


def scan_block(options: BuildOptions, target: str, block: int, kept: KeptKernels | None = None) -> np.ndarray:
    """The structure digests of the draws of ``block``, in draw order (``UNFIT`` for a draw
    predicted over a length cap); the kernels themselves go to ``kept``, for the build to read back,
    with their features read from the same parse as the digest."""
    digests, kernels = [], []
    for index in range(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE):
        spec, fits = drawn(options, target, index)
        if not fits:
            digests.append(UNFIT)
            kernels.append(PlannedKernel(index, spec))
            continue
        tree = ast.parse(spec.python_source)
        digests.append(structure_digest(tree))
        features = tuple(kernel_features(spec.python_source, tree)) if kept is not None else None
        kernels.append(PlannedKernel(index, spec, features))
    if kept is not None:
        kept.put(block, kernels)
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
    """Replacements planned for a split of ``size`` rows: ``RESERVE_PER_GROUP`` per group."""
    kind = "capped" if options.capped else "checked" if options.validate != "none" else "plain"
    return math.ceil(size / GROUP_SIZE) * RESERVE_PER_GROUP[kind]


def with_reserve(options: BuildOptions, sizes: dict[str, int]) -> dict[str, int]:
    """Kernels each split of a generated build selects: its rows and their reserve."""
    return {split: size + reserve_size(options, size) for split, size in sizes.items()}


def planned_sizes(options: BuildOptions) -> dict[str, int]:
    return with_reserve(options, options.split_sizes())


def expected_blocks(sizes: dict[str, int], tasks: int = 2) -> int:
    """Blocks that usually fill every split. Several tasks scan them side by side, with a margin for
    repeats: a block selection finds missing is scanned there, alone. One task scans no margin: it
    would scan a missing block no faster than selection does, and the margin is rarely all used."""
    if tasks == 1:
        return math.ceil(draws_needed(sizes) / BLOCK_SIZE)
    return math.ceil(draws_needed(sizes) * 1.05 / BLOCK_SIZE) + 1


def new_structure(digest: int, seen: dict[str, set[int]], splits: set[str]) -> str | None:
    """The split of ``splits`` a scanned draw adds a structure to, recorded in ``seen``; None for a
    draw predicted over a cap, of another split, or repeating a structure. The one rule both
    ``select`` and ``SplitStream`` follow, so a stream extends exactly what selection took."""
    split = split_of(digest) if digest != UNFIT else None
    if split not in splits or digest in seen[split]:
        return None
    seen[split].add(digest)
    return split


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
            split = new_structure(digest, seen, short)
            if split:
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


class SplitStream:
    """One split's distinct structures in draw order, as ``select`` takes them, scanned again in
    this process on demand: a group's replacements past its planned reserve come from here."""

    def __init__(self, options: BuildOptions, target: str, split: str):
        self.options, self.target, self.split = options, target, split
        self.items: list[int] = []
        self._seen: dict[str, set[int]] = {split: set()}
        self._blocks = count()
        self._idle_blocks = 0  # blocks in a row that gave the split nothing new

    def at(self, position: int) -> int | None:
        """The draw at ``position`` of the stream; None once the split's structures run out."""
        while len(self.items) <= position:
            if self._idle_blocks * BLOCK_SIZE >= EXHAUSTED_AFTER_DRAWS:
                return None
            block = next(self._blocks)
            before = len(self.items)
            for offset, digest in enumerate(scan_block(self.options, self.target, block).tolist()):
                if new_structure(digest, self._seen, {self.split}):
                    self.items.append(block * BLOCK_SIZE + offset)
            self._idle_blocks = 0 if len(self.items) > before else self._idle_blocks + 1
        return self.items[position]


@functools.cache
def split_stream(options: BuildOptions, target: str, split: str) -> SplitStream:
    """This process's stream of a split (built once, extended as groups need it)."""
    return SplitStream(options, target, split)


def further_draws(options: BuildOptions, target: str, further: Further) -> Iterator[int]:
    """A group's replacements past its planned reserve: every ``step``-th draw of its split's stream."""
    stream = split_stream(options, target, further.split)
    for position in count(further.position, further.step):
        index = stream.at(position)
        if index is None:
            logger.warning("%s: no distinct kernel left to replace a skipped one", further.split)
            return
        yield index


def scanned_blocks(
    options: BuildOptions,
    target: str,
    scan: Callable[[Iterable[int]], Iterator[np.ndarray]] | None = None,
    kept: KeptKernels | None = None,
):
    """Digests of block 0, 1, 2, ... for ``select``; ``scan`` maps block numbers to digests
    (in order), for example through a process pool; by default in this process, keeping the
    kernels in ``kept``."""
    if scan is None:
        return (scan_block(options, target, block, kept) for block in count())
    return scan(count())


def pooled_scan(
    options: BuildOptions, target: str, pool, ahead: int, kept: KeptKernels | None = None
) -> Callable[[Iterable[int]], Iterator[np.ndarray]]:
    """A ``scan`` for ``plan_splits`` that scans blocks in ``pool`` (a ``multiprocessing`` pool),
    at most ``ahead`` blocks ahead of the one selection is reading, and yields them in order."""

    def scan(blocks: Iterable[int]) -> Iterator[np.ndarray]:
        pending: deque = deque()
        for block in blocks:
            pending.append(pool.apply_async(scan_block, (options, target, block, kept)))
            if len(pending) >= ahead:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    return scan


# A cap is checked against the smallest profile: this many draws per category, made for real in
# order of predicted length until one fits, at most this many (the prediction ranks them roughly).
CAP_PROBE_DRAWS = 48
CAP_PROBE_MADE = 8


@functools.cache  # the command line checks before its stages start, and select again
def check_caps_reachable(options: BuildOptions, target: str) -> None:
    """Fail before a build whose length cap no kernel of some asked-for category meets, even at the
    smallest size a cap steers to, naming the cap, the categories and the smallest cap that works."""
    if not options.capped:
        return
    smallest = smaller_profiles(options.generation)[-1]
    shortest: dict[str, dict[str, int]] = {}  # category: the lengths of its shortest probe, when none fits
    for category in options.categories:
        probes = [generate(category, options.seed, index, smallest) for index in range(CAP_PROBE_DRAWS)]
        probes.sort(key=lambda spec: lengths.predicted(spec.python_source, target)["forward"])
        made = []
        for spec in probes[:CAP_PROBE_MADE]:
            try:
                made.append(make_code(spec.python_source, spec.name, target, options.arch))
            except Exception:  # counted where the build meets it; a probe only measures
                logger.debug("cap probe %s failed", spec.name, exc_info=True)
                continue
            if not options.too_long(made[-1].forward, made[-1].code):
                break
        else:
            shortest[category] = {
                column: min(len(getattr(code, column)) for code in made) if made else 0 for column in lengths.COLUMNS
            }
    if shortest:
        raise ValueError(cap_message(options, target, shortest))


def cap_message(options: BuildOptions, target: str, shortest: dict[str, dict[str, int]]) -> str:
    """Which caps the categories cannot meet, and the smallest values that work."""
    parts = []
    for column in lengths.COLUMNS:
        cap = getattr(options, f"max_{column}_chars")
        over = {category: sizes[column] for category, sizes in shortest.items() if cap and sizes[column] > cap}
        if over:
            named = ", ".join(
                f"{category} (shortest {length:,} characters)" for category, length in sorted(over.items())
            )
            parts.append(
                f"no {target} kernel of {named} has a {column} within max_{column}_chars={cap}, even at the smallest "
                f"size; use max_{column}_chars={max(over.values())} or more, or leave out {', '.join(sorted(over))}"
            )
    return "; ".join(parts) or f"no kernel of {sorted(shortest)} could be made for {target} to measure the caps"


# A run-validated build first launches a few kernels of each asked-for category: this many, and
# this many more for a category none of whose first ones passed.
RUN_PROBES = (2, 4)


@functools.cache  # the command line checks before its stages start, and select again
def check_categories_run(options: BuildOptions) -> None:
    """Fail before a ``validate="run"`` build when no probed kernel of some asked-for category passes
    the run check, naming the categories and why their kernels failed."""
    if options.validate != "run":
        return
    failing = {category: [] for category in options.categories}
    start = 0
    for probes in RUN_PROBES:
        kernels = [
            (category, generate(category, options.seed, index, options.generation))
            for category in failing
            for index in range(start, start + probes)
        ]
        results = checks.run("run", [(spec.python_source, spec.name) for _, spec in kernels], "cpu", options)
        for (category, _), failure in zip(kernels, results, strict=True):
            if category in failing:
                if failure is None:
                    del failing[category]
                else:
                    failing[category].append(f"{failure.check}:{failure.kind}" if failure.check else failure.kind)
        start += probes
        if not failing:
            return
    named = ", ".join(
        f"{category} ({len(kinds)} of {len(kinds)} failed: {', '.join(sorted(set(kinds)))})"
        for category, kinds in sorted(failing.items())
    )
    raise ValueError(
        f"validate='run': no probed kernel of {named} passed the run check; leave out {', '.join(sorted(failing))}, "
        "or validate='compile'"
    )
