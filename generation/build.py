"""Building rows for one shard: every kernel either becomes a row or is counted as skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generation.options import BuildOptions
from generation.plan import PlannedKernel
from generation.rows import make_row
from generation.stats import BuildStats

logger = logging.getLogger(__name__)


def skip_reason(error: BaseException) -> str:
    """Group failures by stage and exception type, e.g. ``codegen:WarpCodegenError``."""
    return f"codegen:{type(error).__name__}"


def build_rows(
    kernels: list[PlannedKernel], device: str, options: BuildOptions, stats: BuildStats
) -> Iterator[dict[str, Any]]:
    for planned in kernels:
        try:
            row = make_row(planned.spec, device, options.seed, planned.index, options.include_backward)
        except Exception as error:  # a broken kernel is counted, never fatal
            stats.skip(skip_reason(error), f"{planned.spec.name}: {type(error).__name__}: {error}")
            logger.debug("skipped %s", planned.spec.name, exc_info=True)
            continue
        stats.rows += 1
        yield row


def build_shard(
    kernels: list[PlannedKernel], device: str, options: BuildOptions, stats_file: str | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(index, row)`` for a shard and, when it is done, save its statistics."""
    stats = BuildStats()
    for row in build_rows(kernels, device, options, stats):
        yield row["metadata"]["index"], row
    if stats_file:
        stats.save(Path(stats_file))
