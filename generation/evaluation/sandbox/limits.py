"""The resource limits of the sandbox: what each child may use, set on itself after ``fork``."""

from __future__ import annotations

import dataclasses
import resource
from dataclasses import dataclass

from generation.backend.children import address_space


@dataclass(frozen=True)
class Limits:
    """What each child may use: wall-clock seconds per phase, memory beyond the worker's own
    address space, CPU seconds (the wall limit plus one), the size of any file it writes, the
    processes and threads of its user (Linux does not apply this one to root: there the seccomp
    layer, which lets a child start no process, holds alone), and the size of a worker's whole
    scratch folder (in the namespaces layer)."""

    compile_seconds: float = 120.0
    run_seconds: float = 60.0  # the reference's; a candidate's is ``for_candidates``'s, at most this
    memory_mb: int = 4096
    file_mb: int = 256
    processes: int = 256
    scratch_mb: int = 4096


# A candidate runs on its row's inputs for at most RUN_FACTOR times as long as the reference ran on
# them, and at least RUN_FLOOR_SECONDS (a reference runs in a fraction of a second, and a loaded
# machine varies): one that loops for ever costs seconds, not the minute a reference may take.
RUN_FACTOR = 10
RUN_FLOOR_SECONDS = 5.0


def for_candidates(limits: Limits, reference_run_seconds: float) -> Limits:
    """The limits of a row's candidates, once its reference ran in ``reference_run_seconds``."""
    seconds = max(RUN_FLOOR_SECONDS, RUN_FACTOR * reference_run_seconds)
    return dataclasses.replace(limits, run_seconds=min(limits.run_seconds, round(seconds, 1)))


def run_limit(limits: Limits) -> str:
    """The run limit, in words, for a report."""
    return f"{RUN_FACTOR}x the reference's run, at least {RUN_FLOOR_SECONDS:g} s, at most {limits.run_seconds:g} s"


def limit_self(seconds: float, limits: Limits, memory: bool = True, processes: bool = True) -> None:
    """Apply ``limits`` to this process for a phase of at most ``seconds``. ``memory`` False leaves
    the address space alone: a CUDA driver reserves far more of it than it uses. ``processes`` only
    in a user namespace of the sandbox's own: elsewhere Linux counts every process of the user."""
    if memory:
        size = address_space() + limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    size = limits.file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
