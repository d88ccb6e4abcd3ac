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


def reference_phases(row: dict, input_sets: int = 2, salt: str = "", fresh_process: bool = False) -> dict:
    """A row's own Python compiled and run by the evaluation's phases, in a spawner's child (no
    sandbox layers; ``fresh_process``: the run in a fresh interpreter, as a GPU's is); its saved
    forward arrays. The spawner is forked from this process for the call and closed after it."""
    import dataclasses
    import sys
    import tempfile
    from pathlib import Path

    import numpy as np

    from generation.evaluation import execute
    from generation.evaluation.sandbox.children import Spawner
    from generation.evaluation.sandbox.layers import Plan, confine_child
    from generation.evaluation.sandbox.limits import Limits

    work = execute.Work(
        row_id=row["id"],
        kernel_name=row["kernel_name"],
        device="cpu",
        arch=0,
        task="forward_to_python",
        code=row["python_source"],
        backward=False,
        input_sets=input_sets,
        python_source=row["python_source"],
        is_reference=True,
        facts=execute.launch_facts(row["python_source"], row["kernel_name"]),
        input_salt=salt,
    )
    process = [sys.executable, "-m", "generation.evaluation.execute"] if fresh_process else []
    spawner = Spawner(
        execute.PHASES, lambda folder, seconds, limits: confine_child(folder, seconds, limits, Plan(), ())
    )
    try:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            assert spawner.run("compile", dataclasses.asdict(work), folder, 120, Limits()).failure == ""
            outcome = spawner.run("run", dataclasses.asdict(work), folder, 60, Limits(), process)
            assert outcome.failure == "", outcome.error
            with np.load(folder / "forward.npz") as arrays:
                return {key: arrays[key] for key in arrays.files}
    finally:
        spawner.close()
