"""The ``run`` check: launch kernels on the CPU with seeded inputs, bounds checks on, in a child.
It builds each kernel as its launch does (Warp's debug build), so it is the ``compile`` check too:
a kernel that does not build is reported as failing that check (``Failure.check``).

Warp's debug mode checks every array access, but a failed check aborts the process, so the
launches run in a child process that prints one result line per kernel. When the child dies,
the first kernel without a result is the one that killed it; a new child takes the rest. The
child builds kernels in batches, one Clang run each, and launches them one at a time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from generation.backend import header
from generation.backend.children import child_environment
from generation.backend.launches import RunCheckError, launched, seeded_arguments, typed_kernel
from generation.source.features import launch_of
from generation.source.spec import Failure

logger = logging.getLogger(__name__)

RESULT = "WIRP_RESULT "
HEADER_LINE = "WIRP_HEADER "  # a child's first line: whether it reads the shared precompiled header
LAUNCH_BATCH = 16  # kernels built by one Clang run; a batch that fails to build is built one by one
CPU_MODE = header.MODE  # Warp's debug build checks every array access
HEADER_VARIABLE = "WIRP_PRECOMPILED_HEADER"  # the shared header a child reads, where Clang takes it


def launch_checked(kernel, python_source: str, seed: int, device: str = "cpu") -> None:
    """Launch an imported kernel on seeded inputs and require finite values in every float array."""
    import numpy as np
    import warp as wp

    from generation.backend import warp_api

    rng = np.random.default_rng([seed, zlib.crc32(python_source.encode())])
    launch = launch_of(python_source, kernel.key)
    typed = typed_kernel(kernel)
    objects: list = []  # meshes, grids, BVHs and volumes live until the launch is done
    args = seeded_arguments(typed, launch, rng, device, objects)
    launched(kernel, launch, args, device)
    for arg, value in zip(typed.adj.args, args, strict=True):
        if isinstance(value, wp.array) and value.dtype not in warp_api.INT_TYPES:
            if not np.isfinite(value.numpy()).all():
                raise RunCheckError(f"non-finite values in {arg.label} after the launch")


def _child() -> None:
    """Run the job on stdin, a batch of kernels per CPU build, printing one result line per kernel."""
    from generation.backend import warp_api
    from generation.backend.source_module import kernels_side_by_side

    warp_api.init_warp()
    if os.environ.get(HEADER_VARIABLE):  # read directly where Clang takes it; else made here, in Warp's way
        refused = header.read_directly(os.environ[HEADER_VARIABLE], Path("warm_up"))
        print(HEADER_LINE + (f"refused: {refused}" if refused else "read"), flush=True)
    job = json.load(sys.stdin)
    kernels = job["kernels"]
    for start in range(0, len(kernels), LAUNCH_BATCH):
        batch = kernels[start : start + LAUNCH_BATCH]
        with kernels_side_by_side(batch) as imported:
            together = warp_api.load_on_cpu_together(imported, CPU_MODE)
            for kernel, (source, _) in zip(imported, batch, strict=True):
                print(RESULT + json.dumps(_checked(kernel, source, job["seed"], built=together)), flush=True)


def _checked(kernel, source: str, seed: int, built: bool) -> dict | None:
    """A kernel's result line: None if it ran cleanly; a ``compile`` failure if Warp's build of it
    alone fails (a batch that fails to build is built one kernel at a time), else why it did not run."""
    from generation.backend import warp_api

    try:
        if not built:
            warp_api.load_on_cpu(kernel, CPU_MODE)
    except warp_api.CompileError as error:
        return {"check": "compile", "kind": "cpu", "message": str(error)}
    try:
        launch_checked(kernel, source, seed)
    except Exception as error:
        return {"kind": type(error).__name__, "message": f"{type(error).__name__}: {error}"}
    return None


def run_checks(kernels: list[tuple[str, str]], seed: int, timeout: float = 1800) -> list[Failure | None]:
    """For each ``(python_source, kernel_name)``, None if it ran cleanly, else why not (counted
    under the error's type, or ``crashed`` when the launch killed the process)."""
    with tempfile.TemporaryDirectory(prefix="wirp_run_cache_") as kernel_cache:
        # The children's builds go to a kernel cache of their own, removed after: Warp's default
        # cache would keep every row's module (about 350 KB each) in the user's home for good. Their
        # temporary files go in it too: a child that crashes leaves Warp's precompiled header behind.
        scratch = os.path.join(kernel_cache, "tmp")
        os.mkdir(scratch)
        env = child_environment(WARP_CACHE_PATH=kernel_cache, TMPDIR=scratch, **{HEADER_VARIABLE: _shared_header()})
        return _run_in_children(kernels, seed, env, timeout, scratch)


@functools.cache
def _shared_header() -> str:
    """The precompiled header every child reads (made once per Warp install and CPU; "": none)."""
    return header.shared_header()


def _run_in_children(
    kernels: list[tuple[str, str]], seed: int, env: dict, timeout: float, folder: str
) -> list[Failure | None]:
    """A child runs the pending kernels in order; if it dies, the kernel it was on is blamed."""
    results: list[Failure | None] = [None] * len(kernels)
    pending = list(range(len(kernels)))
    while pending:
        job = json.dumps({"seed": seed, "kernels": [kernels[k] for k in pending]})
        done = subprocess.run(
            [sys.executable, "-m", __name__],  # this module, run as the child
            input=job,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=folder,  # where a build that reads the shared header links it
        )
        said = done.stdout.splitlines()
        for line in (line for line in said if line.startswith(HEADER_LINE)):
            logger.debug("a run-check child's precompiled header: %s", line[len(HEADER_LINE) :])
        lines = [json.loads(line[len(RESULT) :]) for line in said if line.startswith(RESULT)]
        for position, line in enumerate(lines):
            results[pending[position]] = Failure(**line) if line else None
        if len(lines) == len(pending):
            break
        crashed = pending[len(lines)]
        tail = " | ".join(line for line in done.stderr.splitlines()[-4:] if "CUDA driver" not in line)
        results[crashed] = Failure("crashed", f"crashed (exit {done.returncode}): {tail}")
        pending = pending[len(lines) + 1 :]
    return results


if __name__ == "__main__":
    _child()
