"""The ``compile`` check for rows whose code is not itself compiled output (``cpu``, ``cuda``).

Rows are compiled in batches, one compiler run per batch; a batch that fails is split in
halves until each failing kernel is alone, so one broken kernel never costs its neighbours.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from generation.backend import warp_api
from generation.backend.source_module import kernels_side_by_side
from generation.source.spec import Failure

BATCH_SIZE = 16


@dataclass(frozen=True)
class CheckBuild:
    """What the compile check builds for a config's code, and at which optimization level."""

    target: str  # "cpu": Warp's Clang, "ptx": Warp's NVRTC
    optimization_level: int | None  # None: Warp's own (-O2 for Clang, -O3 for NVRTC)


# Clang at -O0 runs the same front end, where code fails to compile, in a third of the time of
# -O2 (bench/compile_levels.py: same failures on generated and harvested kernels). NVRTC's time
# is in NVVM, which Warp's optimization level does not shorten for PTX, so it keeps Warp's level.
CHECK_BUILDS = {"cpu": CheckBuild("cpu", 0), "cuda": CheckBuild("ptx", None)}


def _compile(kernels: list[tuple[str, str]], build: CheckBuild, arch: int) -> None:
    with kernels_side_by_side(kernels) as imported, tempfile.TemporaryDirectory() as build_dir:
        warp_api.compile_kernels_together(imported, build.target, build_dir, arch, build.optimization_level)


def compile_errors(
    kernels: list[tuple[str, str]], config: str, arch: int, build: CheckBuild | None = None
) -> list[Failure | None]:
    """For each ``(python_source, kernel_name)``, None if it compiles for ``config``, else why not
    (counted under the compiler's target: ``cpu`` or ``ptx``).

    ``build`` replaces the config's own ``CHECK_BUILDS`` entry (benchmarks compare levels with it).
    """
    build = build or CHECK_BUILDS[config]
    errors: list[Failure | None] = [None] * len(kernels)

    def check(start: int, stop: int) -> None:
        try:
            _compile(kernels[start:stop], build, arch)
        except warp_api.CompileError as error:
            if stop - start == 1:
                errors[start] = Failure(build.target, str(error))
                return
            middle = (start + stop) // 2
            check(start, middle)
            check(middle, stop)

    for start in range(0, len(kernels), BATCH_SIZE):
        check(start, min(start + BATCH_SIZE, len(kernels)))
    return errors
