"""The ``compile`` check for rows whose code is not itself compiled output (``cpu``, ``cuda``).

Rows are compiled in batches, one compiler run per batch; a batch that fails is split in
halves until each failing kernel is alone, so one broken kernel never costs its neighbours. The
``cpu`` check's Clang runs read a shared precompiled header directly (``header.CHECK``): in Warp's
own way each failing run was retried without one and deleted it, about 3.5 s a failing run with
the next run's header made again, against 0.15 s.
"""

from __future__ import annotations

import functools
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generation.backend import DEFAULT_CUDA_ARCH, header, warp_api
from generation.backend.source_module import kernels_side_by_side
from generation.source.spec import Failure

logger = logging.getLogger(__name__)

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


def compile_batch(
    kernels: list[tuple[str, str]], build: CheckBuild, arch: int = DEFAULT_CUDA_ARCH, read: str = ""
) -> None:
    """Compile ``(python_source, kernel_name)`` pairs as one module, reading the precompiled header
    ``read`` directly where given. Raises ``warp_api.CompileError``."""
    with kernels_side_by_side(kernels) as imported, tempfile.TemporaryDirectory() as build_dir:
        warp_api.compile_kernels_together(imported, build.target, build_dir, arch, build.optimization_level, read)


@functools.cache
def _shared_header() -> str:
    """The header the ``cpu`` check's runs read: ``header.CHECK``'s, once a compile of the warm-up
    kernel shows that Clang takes it; "" where none can be made or Clang refuses it (Warp's own way
    then, as before: a refused header would fail every kernel). A refused one is removed, so the
    next build makes it again."""
    path = header.shared_header(header.CHECK, maker=__name__)
    if path:
        try:
            compile_batch([(header.WARM_UP, "warm")], CHECK_BUILDS["cpu"], read=path)
        except warp_api.CompileError as error:
            logger.debug("the compile check's shared precompiled header is refused (Warp's own then): %s", error)
            Path(path).unlink(missing_ok=True)
            return ""
    return path


def compile_errors(
    kernels: list[tuple[str, str]], config: str, arch: int, build: CheckBuild | None = None
) -> list[Failure | None]:
    """For each ``(python_source, kernel_name)``, None if it compiles for ``config``, else why not
    (counted under the compiler's target: ``cpu`` or ``ptx``).

    ``build`` replaces the config's own ``CHECK_BUILDS`` entry (benchmarks compare levels with it).
    """
    build = build or CHECK_BUILDS[config]
    read = _shared_header() if build == CHECK_BUILDS["cpu"] else ""  # the header is of that build alone
    errors: list[Failure | None] = [None] * len(kernels)

    def check(start: int, stop: int) -> None:
        try:
            compile_batch(kernels[start:stop], build, arch, read)
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


def _build_warm_up(folder: Path) -> None:
    """Compile the warm-up kernel as a ``cpu`` batch is compiled, in Warp's way (``header.make``)."""
    compile_batch([(header.WARM_UP, "warm")], CHECK_BUILDS["cpu"])


if __name__ == "__main__":  # python -m generation.backend.compile_check PATH: make the check's header at PATH
    header.make(Path(sys.argv[1]), _build_warm_up)
