"""Which scores can be measured for a task and config on this machine (the CUDA driver assembles
PTX, and runs CUDA code only on a GPU), shared by the harness and its workers."""

from __future__ import annotations

RESULT = "WIRP_EVAL "  # what starts a worker's result line on its stdout
PYTHON_TASK = "forward_to_python"  # the candidate is a Python module; the others are C++/CUDA/PTX


def launch_device(task: str, device: str, gpus: int = 0) -> str | None:
    """Where ``correct`` is measured: C++ candidates of ``cpu`` rows and Python candidates of every
    config (Warp's Python is device-independent) on the CPU; CUDA code on a GPU where there is one;
    PTX nowhere (None: not measured)."""
    if task == PYTHON_TASK or device == "cpu":
        return "cpu"
    return "cuda:0" if device == "cuda" and gpus else None


def compiles_here(task: str, device: str) -> bool:
    """Whether ``compiles`` is measured: PTX is assembled by the CUDA driver, not by Warp."""
    return task == PYTHON_TASK or device != "ptx"
