"""Kernels planned, and kernels launched, directly rather than through a build: what tests and benches
share (benches put ``tests/`` on ``sys.path`` for it)."""

from __future__ import annotations

from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel, plan_splits, planned_kernels


def planned_split(
    options: BuildOptions, split: str = "train", source: str = "generated", target: str = "cuda"
) -> list[PlannedKernel]:
    """One split's kernels, planned and made for ``target``, in build order (reserves left out)."""
    plan = plan_splits(options, target, source)
    return [kernel for group in plan.groups(split) for kernel in planned_kernels(options, target, group)[0]]


def run_kernel(python_source: str, kernel_name: str, seed: int, device: str = "cpu") -> None:
    """Compile, launch on ``device`` in this process, and require finite values in every float array.

    On the CPU the kernel is built in debug mode, whose array accesses are bounds-checked; a GPU
    build stays in release mode (a failed device assert would poison the CUDA context). Builds use
    ``run_checks``, which launches in child processes."""
    from generation.backend.run_check import CPU_MODE, launch_checked
    from generation.backend.source_module import loaded_source

    with loaded_source(python_source) as module:
        kernel = getattr(module, kernel_name)
        if device == "cpu":
            kernel.module.options["mode"] = CPU_MODE
        launch_checked(kernel, python_source, seed, device)
