"""Which scores can be measured for a task and config on this machine (no GPU here, nor the CUDA
driver that assembles PTX), shared by the harness and its workers."""

from __future__ import annotations

RESULT = "WIRP_EVAL "  # what starts a worker's result line on its stdout
PYTHON_TASK = "forward_to_python"  # the candidate is a Python module; the others are C++/CUDA/PTX


def runs_on_cpu(task: str, device: str) -> bool:
    """Whether ``correct`` is measured: C++ candidates of ``cpu`` rows, and Python candidates of
    every config (Warp's Python is device-independent). CUDA and PTX code need a GPU."""
    return task == PYTHON_TASK or device == "cpu"


def compiles_here(task: str, device: str) -> bool:
    """Whether ``compiles`` is measured: PTX is assembled by the CUDA driver, not by Warp."""
    return task == PYTHON_TASK or device != "ptx"
