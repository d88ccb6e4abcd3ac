"""Building rows for one shard: every kernel either becomes a row or is counted as skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from generation.backend.targets import TargetCode, make_code
from generation.backend.warp_api import CompileError
from generation.pipeline import checks
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import Group, PlannedKernel, planned_kernels
from generation.pipeline.rows import assemble
from generation.pipeline.stats import BuildStats, Reason

logger = logging.getLogger(__name__)


def _stage(error: BaseException) -> str:
    """Making ``ptx`` code compiles it: a compiler error there fails ``compile``, anything else ``codegen``."""
    return "compile" if isinstance(error, CompileError) else "codegen"


TOO_LONG = Reason("codegen", "too_long")


def _code_for(
    planned: PlannedKernel, device: str, options: BuildOptions, stats: BuildStats
) -> TargetCode | Reason | None:
    """The code Warp makes for one kernel; else the reason is counted (a broken kernel is never fatal)
    and the result is None, or ``TOO_LONG`` for code over a length cap."""
    spec = planned.spec
    try:
        made = make_code(spec.python_source, spec.name, device, options.arch)
    except Exception as error:
        stats.skip(Reason(_stage(error), type(error).__name__), f"{spec.name}: {type(error).__name__}: {error}")
        logger.debug("skipped %s", spec.name, exc_info=True)
        return None
    too_long = options.too_long(made.forward, made.code)
    if too_long:
        stats.skip(TOO_LONG, f"{spec.name}: {too_long}")
        return TOO_LONG
    return made


def _codes_replacing_long_ones(
    kernels: Iterable[PlannedKernel],
    device: str,
    options: BuildOptions,
    stats: BuildStats,
    reserve: Iterable[PlannedKernel] = (),
):
    """``(kernel, code)`` for each kernel whose code Warp made; the others counted by reason. A
    kernel over a length cap is replaced, in its place, by the next kernel of ``reserve``."""
    reserve = iter(reserve)
    for planned in kernels:
        made = _code_for(planned, device, options, stats)
        while made is TOO_LONG:
            planned = next(reserve, None)
            if planned is None:
                logger.warning("a group's reserve of replacements ran out: raise the length cap")
                break
            stats.replaced += 1
            made = _code_for(planned, device, options, stats)
        if isinstance(made, TargetCode):
            yield planned, made


def _passing(
    made: list[tuple[PlannedKernel, TargetCode]], check: str, device: str, options: BuildOptions, stats: BuildStats
) -> list[tuple[PlannedKernel, TargetCode]]:
    """The kernels that pass ``check``; the others counted under ``check:<kind>``."""
    kernels = [(planned.spec.python_source, planned.spec.name) for planned, _ in made]
    passing = []
    for item, failure in zip(made, checks.run(check, kernels, device, options), strict=True):
        if failure:
            stats.skip(Reason(check, failure.kind), f"{item[0].spec.name}: {failure.message}")
        else:
            passing.append(item)
    return passing


def build_rows(
    kernels: Iterable[PlannedKernel],
    device: str,
    options: BuildOptions,
    stats: BuildStats,
    reserve: Iterable[PlannedKernel] = (),
) -> Iterator[dict[str, Any]]:
    """Rows for ``kernels`` in order; each kernel that fails a stage is counted under its reason,
    and one over a length cap is replaced from ``reserve``.

    Without checks to run, rows stream out one by one; with them, a shard's kernels are checked
    together (compiled in batches, then run in a child process) before their rows are assembled.
    """
    pending = checks.checks_to_run(device, options.validate)
    validation = checks.PASSED_BY_MAKING[device] + pending
    made = _codes_replacing_long_ones(
        kernels, device, options, stats, reserve
    )  # lazy: without checks, each row streams out as it is made
    if pending:
        made = list(made)
        for check in pending:
            if made:
                made = _passing(made, check, device, options, stats)
    for planned, code in made:
        stats.rows += 1
        yield assemble(planned.spec, code, device, options.seed, planned.index, validation)


def build_groups(groups: Iterable[Group], device: str, options: BuildOptions, stats: BuildStats):
    """Rows for a plan's groups in order, each group replacing from its own reserve (kernels are
    regenerated here, one at a time)."""
    for group in groups:
        kernels, reserve = planned_kernels(options, group)
        yield from build_rows(kernels, device, options, stats, reserve)


def build_shard(
    groups: list[Group], device: str, options: BuildOptions, stats_file: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, row)`` for a shard of a plan and, when it is done, save its statistics."""
    stats = BuildStats()
    for row in build_groups(groups, device, options, stats):
        yield row["metadata"]["index"], row
    if stats_file:
        stats.save(Path(stats_file))
