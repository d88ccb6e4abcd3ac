"""Building rows for one shard: every kernel either becomes a row or is counted as skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generation.compile_check import compile_errors
from generation.options import BuildOptions
from generation.plan import PlannedKernel
from generation.rows import make_row
from generation.run_check import run_checks
from generation.stats import BuildStats
from generation.warp_backend import CompileError

logger = logging.getLogger(__name__)


def skip_reason(stage: str, error: BaseException | str) -> str:
    """Group failures by stage and kind, e.g. ``codegen:WarpCodegenError`` or ``run:crashed``."""
    if isinstance(error, str):
        return f"{stage}:{error.split(':', 1)[0].split(' ', 1)[0]}"
    return f"{stage}:{type(error).__name__}"


def _stage(error: BaseException) -> str:
    return "compile" if isinstance(error, CompileError) else "codegen"


def build_rows(
    kernels: list[PlannedKernel], device: str, options: BuildOptions, stats: BuildStats
) -> Iterator[dict[str, Any]]:
    """Rows for ``kernels`` in order; each kernel that fails a stage is counted under its reason.

    Without validation rows stream out one by one; with it, a shard's rows are checked together
    (compiled in batches, then run in a child process) before they are yielded.
    """
    rows = []
    for planned in kernels:
        try:
            row = make_row(planned.spec, device, options.seed, planned.index, options.include_backward, options.arch)
        except Exception as error:  # a broken kernel is counted, never fatal
            stats.skip(skip_reason(_stage(error), error), f"{planned.spec.name}: {type(error).__name__}: {error}")
            logger.debug("skipped %s", planned.spec.name, exc_info=True)
            continue
        if options.validate == "none" or device == "ptx" and options.validate == "compile":
            stats.rows += 1
            yield row
        else:
            rows.append(row)
    if rows and device != "ptx":
        rows = _keep_passing(rows, "compile", compile_errors(rows, device, options.arch), stats)
    if rows and options.validate == "run":
        errors = run_checks([(row["python_source"], row["kernel_name"]) for row in rows], options.seed)
        rows = _keep_passing(rows, "run", errors, stats)
    stats.rows += len(rows)
    yield from rows


def _keep_passing(rows: list[dict], check: str, errors: list[str | None], stats: BuildStats) -> list[dict]:
    """Rows whose check passed, marked with it; the others counted under ``check:<kind>``."""
    passing = []
    for row, error in zip(rows, errors, strict=True):
        if error:
            stats.skip(skip_reason(check, error), f"{row['kernel_name']}: {error}")
        else:
            row["metadata"]["validation"].append(check)
            passing.append(row)
    return passing


def build_shard(
    kernels: list[PlannedKernel], device: str, options: BuildOptions, stats_file: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, row)`` for a shard and, when it is done, save its statistics."""
    stats = BuildStats()
    for row in build_rows(kernels, device, options, stats):
        yield row["metadata"]["index"], row
    if stats_file:
        stats.save(Path(stats_file))
