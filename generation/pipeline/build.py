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
from generation.pipeline.plan import PlannedKernel, planned_kernels
from generation.pipeline.rows import assemble
from generation.pipeline.stats import BuildStats, Reason

logger = logging.getLogger(__name__)


def _stage(error: BaseException) -> str:
    """Making ``ptx`` code compiles it: a compiler error there fails ``compile``, anything else ``codegen``."""
    return "compile" if isinstance(error, CompileError) else "codegen"


def _made(kernels: Iterable[PlannedKernel], device: str, options: BuildOptions, stats: BuildStats):
    """``(kernel, code)`` for each kernel whose code Warp made; the others counted by error type."""
    for planned in kernels:
        spec = planned.spec
        try:
            yield planned, make_code(spec.python_source, spec.name, device, options.include_backward, options.arch)
        except Exception as error:  # a broken kernel is counted, never fatal
            stats.skip(Reason(_stage(error), type(error).__name__), f"{spec.name}: {type(error).__name__}: {error}")
            logger.debug("skipped %s", spec.name, exc_info=True)


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
    kernels: Iterable[PlannedKernel], device: str, options: BuildOptions, stats: BuildStats
) -> Iterator[dict[str, Any]]:
    """Rows for ``kernels`` in order; each kernel that fails a stage is counted under its reason.

    Without checks to run, rows stream out one by one; with them, a shard's kernels are checked
    together (compiled in batches, then run in a child process) before their rows are assembled.
    """
    pending = checks.checks_to_run(device, options.validate)
    validation = checks.PASSED_BY_MAKING[device] + pending
    made = _made(kernels, device, options, stats)  # lazy: without checks, each row streams out as it is made
    if pending:
        made = list(made)
        for check in pending:
            if made:
                made = _passing(made, check, device, options, stats)
    for planned, code in made:
        stats.rows += 1
        yield assemble(planned.spec, code, device, options.seed, planned.index, validation)


def build_shard(
    items: list, device: str, options: BuildOptions, stats_file: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, row)`` for a shard of a plan (its kernels regenerated here, one at a time)
    and, when it is done, save its statistics."""
    stats = BuildStats()
    for row in build_rows(planned_kernels(options, items), device, options, stats):
        yield row["metadata"]["index"], row
    if stats_file:
        stats.save(Path(stats_file))
