"""warp-ir-pairs: pairs of NVIDIA Warp kernels and the C++/CUDA code Warp generates for them.

One subpackage per source of kernels and per stage, lowest first (``tests/import_graph.py``):
    source       what every stage reads from a kernel's source: spec, features, Warp type names
    backend      everything that touches Warp: codegen, PTX, compile and run checks, import mode's child
    generated    the seeded generator (no Warp import)
    real         the harvester of real files, static and import mode's parent (no Warp import)
    measure      how generated kernels compare with Warp's own, for the card
    pipeline     options, planning, checks, row assembly, building shards, statistics
    training     SFT formats
    hub          the ``datasets`` builder, publishing and the card
    distributed  task builds on datatrove
    cli          ``warp-ir-pairs``

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
