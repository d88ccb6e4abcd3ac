"""The ``compile`` check for rows whose code is not itself compiled output (``cpu``, ``cuda``).

Rows are compiled in batches, one compiler run per batch; a batch that fails is split in
halves until each failing kernel is alone, so one broken kernel never costs its neighbours.
"""

from __future__ import annotations

import contextlib
import tempfile
from typing import Any

from generation import warp_backend
from generation.source_module import kernels_in, loaded_source

BATCH_SIZE = 16
# What the compile check builds: Clang for CPU code, NVRTC (PTX) for CUDA code.
COMPILE_TARGET = {"cpu": "cpu", "cuda": "ptx"}


def _compile(rows: list[dict[str, Any]], target: str, arch: int) -> None:
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as build_dir:
        kernels = []
        for row in rows:
            # Imported side by side, so helpers keep distinct names (shade_0, shade_1, ...).
            module = stack.enter_context(loaded_source(row["python_source"], fresh_counters=False))
            kernels.append(next(k for k in kernels_in(module) if k.key == row["kernel_name"]))
        warp_backend.compile_kernels_together(kernels, target, build_dir, arch)


def compile_errors(rows: list[dict[str, Any]], config: str, arch: int) -> list[str | None]:
    """For each row, None if its kernel compiles for ``config``, else the compiler's error."""
    errors: list[str | None] = [None] * len(rows)

    def check(start: int, stop: int) -> None:
        try:
            _compile(rows[start:stop], COMPILE_TARGET[config], arch)
        except warp_backend.CompileError as error:
            if stop - start == 1:
                errors[start] = str(error)
                return
            middle = (start + stop) // 2
            check(start, middle)
            check(middle, stop)

    for start in range(0, len(rows), BATCH_SIZE):
        check(start, min(start + BATCH_SIZE, len(rows)))
    return errors
