"""Every check a row can pass, in one place: which checks a build runs, and running them.

``codegen`` is passed by making the row's code at all, and ``ptx`` code is NVRTC's output, so
it has compiled too; the ``validate`` level asks for the rest. Checks run on the kernels whose
code was made, before their rows are assembled, so a row is written once, with what it passed.
"""

from __future__ import annotations

from collections.abc import Callable

from generation.backend.compile_check import compile_errors
from generation.backend.run_check import run_checks
from generation.pipeline.options import BuildOptions
from generation.source.spec import Failure

CHECKS = ("codegen", "compile", "run")
# The checks a target's code passes by being made.
PASSED_BY_MAKING = {"cpu": ("codegen",), "cuda": ("codegen",), "ptx": ("codegen", "compile")}
# The checks each ``validate`` level asks for.
REQUESTED = {"none": ("codegen",), "compile": ("codegen", "compile"), "run": ("codegen", "compile", "run")}

Kernels = list[tuple[str, str]]  # (python_source, kernel_name)
RUNNERS: dict[str, Callable[[Kernels, str, BuildOptions], list[Failure | None]]] = {
    "compile": lambda kernels, device, options: compile_errors(kernels, device, options.arch),
    "run": lambda kernels, device, options: run_checks(kernels, options.seed),
}


# Checks whose runner, for a device's rows, does another's work too, reporting its failures under that
# check's name: the run check builds each kernel's CPU code as its launch does, which is what the
# compile check compiles for ``cpu`` rows (for ``cuda`` rows the compile check is NVRTC's, and runs).
DOES_TOO = {("run", "cpu"): ("compile",)}


def checks_to_pass(device: str, validate: str) -> tuple[str, ...]:
    """The checks a build's rows must pass besides making, in order: those asked for that making did not pass."""
    return tuple(check for check in REQUESTED[validate] if check not in PASSED_BY_MAKING[device])


def checks_to_run(device: str, validate: str) -> tuple[str, ...]:
    """The runners a build starts, in order: one per check to pass, but none for a check another does too."""
    asked = checks_to_pass(device, validate)
    done_too = {other for check in asked for other in DOES_TOO.get((check, device), ())}
    return tuple(check for check in asked if check not in done_too)


def run(check: str, kernels: Kernels, device: str, options: BuildOptions) -> list[Failure | None]:
    """For each kernel, None if it passes ``check``, else why not."""
    return RUNNERS[check](kernels, device, options)
