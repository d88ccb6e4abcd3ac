"""A kernel as the pipeline carries it, and why one can fail to become a row."""

from __future__ import annotations

from dataclasses import dataclass

# The licence of generated kernels and of the code Warp generates for them (Warp's own).
GENERATED_LICENSE = "Apache-2.0"


@dataclass(frozen=True)
class KernelSpec:
    """One kernel: a complete, importable Python module and what it computes."""

    name: str
    category: str
    description: str
    python_source: str
    difficulty: str = "medium"  # the level this kernel was drawn at ("" for harvested kernels)
    recipe: str = ""  # JSON: how to make it again (the generator call, or the file and kernel harvested)
    origin: str = "generated"  # or where a harvested kernel came from, ``path::kernel``
    license: str = GENERATED_LICENSE


@dataclass(frozen=True)
class Failure:
    """Why a kernel did not become a row: a kind to count it under (``SyntaxError``, ``crashed``,
    ``cpu``), never read back out of the message, and the message to show for it."""

    kind: str
    message: str
