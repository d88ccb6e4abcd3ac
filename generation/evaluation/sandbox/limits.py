"""The resource limits of the sandbox: what each child may use, set on itself after ``fork``."""

from __future__ import annotations

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
    run_seconds: float = 60.0
    memory_mb: int = 4096
    file_mb: int = 256
    processes: int = 256
    scratch_mb: int = 4096


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
