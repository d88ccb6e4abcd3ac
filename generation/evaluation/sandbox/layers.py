"""Which layers of the sandbox are in force on this machine, and applying a child's.

The harness asks ``layers_here`` once per evaluation: it starts its workers inside the namespaces
where they are available, tells each worker which child layers to apply (``Plan``), says once which
layer is missing and why, refuses to run without one when asked to (``require_sandbox``), and lists
the layers in force in the report.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import site
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generation.backend.children import PACKAGE_ROOT
from generation.evaluation.sandbox import files, namespaces, syscalls
from generation.evaluation.sandbox.limits import Limits, limit_self

# Packages a worker and its children import, beside the standard library.
PACKAGES = ("warp", "numpy", "landlockpy", "pyseccomp", "nvidia")
WORKER = "generation.evaluation.worker"  # the module a worker runs
PLAN_VARIABLE = "WIRP_SANDBOX_PLAN"  # the layers a worker applies to its children, for its fresh processes
PRELOAD_VARIABLE = "WIRP_SANDBOX_PRELOAD"  # the trusted modules a worker imported before its children, for them too
# Variables of the user's environment a worker keeps: which GPUs it may use, where libraries are.
KEPT_VARIABLES = ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


@dataclass(frozen=True)
class Layer:
    """One layer of the sandbox: what it confines, and why it is missing ("" when in force)."""

    name: str
    confines: str
    missing: str = ""


@dataclass(frozen=True)
class Plan:
    """What a worker applies to each child: Landlock, seccomp, and the process limit (only inside
    the namespaces, where the user's process count is the sandbox's own)."""

    landlock: bool = False
    seccomp: bool = False
    namespaces: bool = False

    @classmethod
    def of(cls, layers: tuple[Layer, ...]) -> Plan:
        return cls(**{layer.name: not layer.missing for layer in layers if layer.name in cls.__dataclass_fields__})

    def to_argument(self) -> str:
        return ",".join(name for name in self.__dataclass_fields__ if getattr(self, name))

    @classmethod
    def from_argument(cls, text: str) -> Plan:
        return cls(**{name: True for name in text.split(",") if name})

    @classmethod
    def from_environment(cls) -> Plan:
        return cls.from_argument(os.environ.get(PLAN_VARIABLE, ""))


@functools.cache
def runtime_paths() -> tuple[str, ...]:
    """What a worker and its children read: the interpreter, the standard library, the installed
    packages, and this package (its ``generation`` folder alone, not what lies beside it)."""
    paths = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    paths += [sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    paths += site.getsitepackages()
    for name in PACKAGES:  # where a package lies outside the site folders
        spec = importlib.util.find_spec(name)
        if spec is not None:
            paths += list(spec.submodule_search_locations or [os.path.dirname(spec.origin or "")])
    paths.append(os.path.join(PACKAGE_ROOT, "generation"))
    return tuple(dict.fromkeys(path for path in paths if path and os.path.exists(path)))


def worker_environment(scratch: str) -> dict[str, str]:
    """A worker's whole environment: none of the user's variables (tokens, keys) but the kept ones."""
    kept = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    return kept | {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": PACKAGE_ROOT,
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": scratch,
        "TMPDIR": scratch,
        "WARP_CACHE_PATH": os.path.join(scratch, "warp"),
        "OPENBLAS_NUM_THREADS": "1",  # a candidate's run is single-threaded: workers run side by side
        "LANG": "C.UTF-8",
    }


@functools.cache
def layers_here() -> tuple[Layer, ...]:
    """Every layer, with why it is missing on this machine."""
    level = files.abi()
    parts = [part for part, first in files.ABI_FOR.items() if level >= first]
    landlock_missing = "" if level else "the kernel has no Landlock (Linux 5.13 or newer, with landlock enabled)"
    return (
        Layer(
            "namespaces",
            "workers in their own user, PID, network and mount namespaces: no network, no file of the user's",
            namespaces.available(runtime_paths(), tuple(worker_environment(namespaces.SCRATCH).items()), WORKER),
        ),
        Layer("landlock", f"each child's {', '.join(parts) or 'files'} (Landlock ABI {level})", landlock_missing),
        Layer("seccomp", "each child's system calls: no program, process, signal or ptrace", syscalls.available()),
        Layer("limits", "time, memory, CPU, file size, processes, core dumps"),
    )


def load(plan: Plan, modules: Sequence[str] = ()) -> None:
    """Import what the plan's layers use, and the trusted ``modules`` the rows import
    (``harness.PRELOADABLE``), before any child is forked or confined: ``pyseccomp`` finds the
    system's libseccomp by running ``ldconfig``, which a confined child may not, and so do Warp's
    test utilities. A module that fails is logged; its rows' children fail as they would have."""
    if plan.landlock:
        import landlockpy  # noqa: F401
    if plan.seccomp:
        import pyseccomp  # noqa: F401
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 (logged: the rows that import it fail on their own)
            print(f"could not preload {module}: {error!r}", file=sys.stderr, flush=True)


def confine_child(folder: Path, seconds: float, limits: Limits, plan: Plan, reads: tuple[str, ...]) -> None:
    """Apply ``plan``'s layers to this (forked) process, which will work in ``folder`` for at
    most ``seconds`` and read ``reads`` beside it."""
    limit_self(seconds, limits, processes=plan.namespaces)
    if plan.landlock:
        files.confine_files(str(folder), reads)
    if plan.seccomp:
        syscalls.forbid_syscalls()
