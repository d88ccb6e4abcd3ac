"""Planning a build: which kernels each split gets. One planner per source of kernels
(``generated.py``: draws selected by structure digest; ``real.py``: harvested files dealt whole),
one plan model (``model.py``), and here the one place that picks the planner."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain

import numpy as np

from generation.pipeline import heap
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import generated, real
from generation.pipeline.plan.kept import KeptKernels
from generation.pipeline.plan.model import (
    GROUP_SIZE,
    MAX_SHARDS,
    SPLITS,
    Further,
    Group,
    Plan,
    PlannedKernel,
    shard,
    split_evenly,
)
from generation.real.harvest import Harvested

__all__ = [
    "GROUP_SIZE",
    "MAX_SHARDS",
    "SPLITS",
    "Further",
    "Group",
    "KeptKernels",
    "Plan",
    "PlannedKernel",
    "plan_splits",
    "planned_kernels",
    "shard",
    "split_evenly",
]


def plan_splits(
    options: BuildOptions,
    target: str,
    source: str = "generated",
    harvested: Harvested | None = None,
    scan: Callable[[Iterable[int]], Iterator[np.ndarray]] | None = None,
    kept: KeptKernels | None = None,
) -> Plan:
    """The plan of a build for ``target`` (``cpu``, ``cuda`` or ``ptx``: the code a length cap
    measures): generated configs select draws by structure (their digests from ``scan``, see
    ``generated.scanned_blocks``, the kernels scanned here kept in ``kept``), real ones deal
    harvested kernels."""
    if source == "real":
        return real.plan_real(options, harvested)
    with heap.frozen():
        generated.check_caps_reachable(options, target)
        generated.check_categories_run(options)
        blocks = generated.scanned_blocks(options, target, scan, kept)
        return generated.select(options, options.split_sizes(), blocks)


def planned_kernels(
    options: BuildOptions, target: str, group: Group, kept: KeptKernels | None = None
) -> tuple[Iterator[PlannedKernel], Iterator[PlannedKernel]]:
    """A group's kernels and its replacements (its reserve, then further draws of its split), one
    at a time: read back from ``kept`` where planning kept them, else generated again."""
    if group.source == "real":
        return iter(group.items), iter(group.reserve)

    def kernel(index: int) -> PlannedKernel:
        return (kept and kept.get(index)) or PlannedKernel(index, generated.kernel_at(options, target, index))

    made = lambda items: (kernel(i) for i in items)  # noqa: E731
    further = generated.further_draws(options, target, group.further) if group.further else ()
    return made(group.items), made(chain(group.reserve, further))
