"""Building rows for one shard: every kernel either becomes a row or is counted as skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from generation.backend.targets import TargetCode, make_code
from generation.backend.warp_api import CompileError
from generation.pipeline import checks, heap
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import Group, KeptKernels, PlannedKernel, planned_kernels
from generation.pipeline.rows import assemble
from generation.pipeline.stats import BuildStats, Reason

logger = logging.getLogger(__name__)


def _stage(error: BaseException) -> str:
    """Making ``ptx`` code compiles it: a compiler error there fails ``compile``, anything else ``codegen``."""
    return "compile" if isinstance(error, CompileError) else "codegen"


TOO_LONG = Reason("codegen", "too_long")
# Code that depends on PYTHONHASHSEED (Warp 1.19, ``warp_api._watch_hash_order``): no row can be honest about it.
HASH_ORDER = Reason("codegen", "hash_ordered")
# Groups a build with checks to run takes together: their kernels are checked in one batch (one
# child process for ``run``), then their replacements in the next.
CHECKED_GROUPS = 16


def _code_for(planned: PlannedKernel, device: str, options: BuildOptions, stats: BuildStats) -> TargetCode | None:
    """The code Warp makes for one kernel; else None, and the reason counted (a broken kernel or
    one over a length cap is never fatal)."""
    spec = planned.spec
    try:
        made = make_code(spec.python_source, spec.name, device, options.arch)
    except Exception as error:
        stats.skip(
            Reason(_stage(error), type(error).__name__),
            f"{spec.name}: {type(error).__name__}: {error}",
            spec.package_key,
        )
        logger.debug("skipped %s", spec.name, exc_info=True)
        return None
    if made.hash_ordered:
        why = f"{spec.name}: Warp orders the loop copies of {list(made.hash_ordered)} by Python's string hashing"
        stats.skip(HASH_ORDER, why + ": another process generates other code for this source", spec.package_key)
        return None
    too_long = options.too_long(made.forward, made.code)
    if too_long:
        stats.skip(TOO_LONG, f"{spec.name}: {too_long}", spec.package_key)
        return None
    return made


# Kernels failing one after another, none giving a row, after which a build stops: the machine, not
# the kernels, is broken (replacements would be drawn from the split's stream without end).
FAILED_IN_A_ROW = 1000


class BuildBroken(RuntimeError):
    """Every kernel fails: Warp or its toolchain cannot work here."""


Place = tuple[int, int]  # (group, slot): where a kernel's row goes in a batch of groups
Made = dict[Place, tuple[PlannedKernel, TargetCode]]


def _passing(made: Made, check: str, device: str, options: BuildOptions, stats: BuildStats) -> Made:
    """The kernels of ``made`` that pass ``check``; the others counted under ``check:<kind>``."""
    places = sorted(made)
    kernels = [(made[place][0].spec.python_source, made[place][0].spec.name) for place in places]
    passing = {}
    for place, failure in zip(places, checks.run(check, kernels, device, options), strict=True):
        if failure:
            spec = made[place][0].spec
            reason = Reason(failure.check or check, failure.kind)  # a runner may report another check's failure
            stats.skip(reason, f"{spec.name}: {failure.message}", spec.package_key)
        else:
            passing[place] = made[place]
    return passing


def _replacement(reserve: Iterator[PlannedKernel], stats: BuildStats, replaceable: bool) -> PlannedKernel | None:
    """The group's next replacement, counted; None when none is left (``replaceable``: the group
    had replacements to run out of, as generated groups do and harvested ones never)."""
    planned = next(reserve, None)
    if planned is not None:
        stats.replaced += 1
    elif replaceable:
        logger.warning("a group ran out of replacements: a row is missing (counted)")
    return planned


def build_batch(
    groups: list[tuple[Iterable[PlannedKernel], Iterable[PlannedKernel]]],
    device: str,
    options: BuildOptions,
    stats: BuildStats,
    replaceable: bool = True,
) -> Iterator[dict[str, Any]]:
    """Rows for ``(kernels, reserve)`` groups, in order. A kernel that fails any stage (codegen, a
    length cap, a check) is counted under its reason and replaced, in its place, by its group's
    next reserve kernel (``replaceable``: see ``_replacement``), which goes through every stage in
    turn; so a group gets a row in every place until its reserve runs out. Checks run on all the
    batch's kernels of one round together."""
    pending = checks.checks_to_run(device, options.validate)
    validation = checks.PASSED_BY_MAKING[device] + checks.checks_to_pass(device, options.validate)
    reserves = [iter(reserve) for _, reserve in groups]
    todo = {(g, slot): planned for g, (kernels, _) in enumerate(groups) for slot, planned in enumerate(kernels)}
    done: Made = {}
    failed_in_a_row = 0  # kernels of rounds that made no row at all
    while todo:
        made = {}
        for place, planned in todo.items():
            if code := _code_for(planned, device, options, stats):
                made[place] = (planned, code)
        for check in pending:
            if made:
                made = _passing(made, check, device, options, stats)
        done.update(made)
        failed = sorted(set(todo) - set(made))
        failed_in_a_row = 0 if made else failed_in_a_row + len(failed)
        if failed_in_a_row >= FAILED_IN_A_ROW:
            raise BuildBroken(
                f"{failed_in_a_row} kernels in a row failed and none gave a row, so this machine cannot build any: "
                + "; ".join(f"{reason}: {text}" for reason, text in sorted(stats.first_error.items())[:3])
            )
        todo = {place: planned for place in failed if (planned := _replacement(reserves[place[0]], stats, replaceable))}
    for place in sorted(done):
        planned, code = done[place]
        stats.rows += 1
        yield assemble(planned.spec, code, device, options.seed, planned.index, validation, planned.features)


def build_rows(
    kernels: Iterable[PlannedKernel],
    device: str,
    options: BuildOptions,
    stats: BuildStats,
    reserve: Iterable[PlannedKernel] = (),
) -> Iterator[dict[str, Any]]:
    """Rows for ``kernels`` in order, as one group replacing from ``reserve`` (see ``build_batch``)."""
    return build_batch([(kernels, reserve)], device, options, stats)


def build_groups(
    groups: Iterable[Group], device: str, options: BuildOptions, stats: BuildStats, kept: KeptKernels | None = None
):
    """Rows for a plan's groups in order, each group replacing from its own reserve (kernels are
    read back from ``kept`` or generated again, one at a time). Without checks rows stream out a
    group at a time; with them, ``CHECKED_GROUPS`` groups are checked together."""
    together = CHECKED_GROUPS if checks.checks_to_run(device, options.validate) else 1
    groups = list(groups)
    with heap.frozen():
        for start in range(0, len(groups), together):
            chunk = groups[start : start + together]
            batch = [planned_kernels(options, device, group, kept) for group in chunk]
            yield from build_batch(batch, device, options, stats, any(group.source == "generated" for group in chunk))


def build_shard(
    groups: list[Group],
    device: str,
    options: BuildOptions,
    stats_file: str | None = None,
    kept_folder: str | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, row)`` for a shard of a plan and, when it is done, save its statistics."""
    stats = BuildStats()
    kept = KeptKernels(kept_folder) if kept_folder else None
    for row in build_groups(groups, device, options, stats, kept):
        yield row["metadata"]["index"], row
    if stats_file:
        stats.save(Path(stats_file))
