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
    package: str = ""  # a harvested kernel's distribution (``warp-lang``, ``skrl``); "" for generated ones and paths
    package_version: str = ""  # its exact version

    @property
    def package_key(self) -> str:
        """How statistics name the package: ``skrl==2.1.1`` ("" when none)."""
        return f"{self.package}=={self.package_version}" if self.package else ""


def kernel_origin(file: str, qualname: str, overload: str = "") -> str:
    """Where a harvested kernel came from, as rows name it: ``file.py::qualname[overload]``."""
    return f"{file}::{qualname}" + (f"[{overload}]" if overload else "")


def origin_file(origin: str) -> str:
    """The file of a ``kernel_origin`` (qualnames hold no ``::``; files may)."""
    return origin.rsplit("::", 1)[0]


class SkipError(Exception):
    """Raised where a kernel is found to give no row: ``kind`` is the reason it is counted under,
    the message names the file and the value (the static bundle and import mode's writer raise it)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Failure:
    """Why a kernel did not become a row: a kind to count it under (``SyntaxError``, ``crashed``,
    ``cpu``), never read back out of the message, and the message to show for it."""

    kind: str
    message: str
    package: str = ""  # the package it belongs to, ``name==version`` ("" when none)
    check: str = ""  # the check it failed, where a check's runner does another's work too ("": the one asked)
