"""Which scores can be measured for a task and config on this machine (PTX is assembled where
nvJitLink is installed; CUDA and PTX code run only on a GPU), shared by the harness and its workers."""

from __future__ import annotations

RESULT = "WIRP_EVAL "  # what starts a worker's result line on its stdout
PYTHON_TASK = "forward_to_python"  # the candidate is a Python module; the others are C++/CUDA/PTX


def launch_device(task: str, device: str, gpus: int = 0) -> str | None:
    """Where ``correct`` is measured: C++ candidates of ``cpu`` rows and Python candidates of every
    config (Warp's Python is device-independent) on the CPU; CUDA and PTX code on a GPU where there
    is one, nowhere otherwise (None: not measured)."""
    if task == PYTHON_TASK or device == "cpu":
        return "cpu"
    return "cuda:0" if gpus else None


def compiles_here(task: str, device: str) -> bool:
    """Whether ``compiles`` is measured: PTX is assembled by nvJitLink, from the ``ptx`` extra."""
    from generation.backend import ptxas

    return task == PYTHON_TASK or device != "ptx" or ptxas.available()


FORWARD_TASK = "python_to_forward"  # the candidate replaces the row's forward only


def adjoints_compared(task: str, row_backward: bool) -> bool:
    """Whether a candidate's backward pass is built, run and compared. Not where the candidate
    replaces only the forward: the backward is then the row's own code, which recomputes the
    forward itself on inputs of its own launch, so its adjoints are the reference's whatever the
    candidate is, and building it (about a third of a unit's compile) would measure nothing."""
    return row_backward and task != FORWARD_TASK
