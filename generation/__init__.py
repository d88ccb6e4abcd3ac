"""warp-ir-pairs: pairs of NVIDIA Warp kernels and the C++/CUDA code Warp generates for them.

The stages, one subpackage each:
    kernels   where kernels come from: the seeded generator and the harvester (no Warp import)
    backend   everything that touches Warp: codegen, PTX, compile and run checks
    pipeline  options, planning, checks, row assembly, building shards, statistics
    hub       the ``datasets`` builder, the ``warp-ir-pairs`` CLI, publishing and the card

``from generation import extract_ir`` loads Warp only when it is first used.
"""

from importlib import import_module

# Public names and the modules that define them, imported on first use.
_LAZY = {"extract_ir": "generation.backend.extract", "WarpIRPairs": "generation.hub.builder"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'generation' has no attribute {name!r}")
