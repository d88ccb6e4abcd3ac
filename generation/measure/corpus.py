"""The reference corpus the generator's odds are fitted to: Warp's own examples and tests, and the
application packages of ``corpus.txt``, each read from its wheel (parsed, never imported).

A corpus is a list of sources; a source is the trees that share helpers and structs (one file of
Warp's examples or tests, or all the files of one package). Generated kernels are one source each.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from generation.measure.shapes import HelperShapes, KernelShapes, helper_shapes, source_shapes
from generation.real.harvest import package_group, source_files, warp_group
from generation.real.packages import fetch_package, read_requirements_file

CORPUS_FILE = Path(__file__).resolve().parents[2] / "corpus.txt"
WARP_CORPUS = "Warp examples + tests"


def _parsed(paths: Iterable[Path]) -> list[ast.Module]:
    trees = []
    for path in paths:
        try:
            trees.append(ast.parse(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
    return trees


@dataclass
class Source:
    """One corpus's kernels and helpers."""

    kernels: list[KernelShapes] = field(default_factory=list)
    helpers: list[HelperShapes] = field(default_factory=list)


def warp_source() -> Source:
    """Every kernel and helper of Warp's examples and tests, each file its own source."""
    found = Source()
    for file in source_files(warp_group()):
        trees = _parsed([file.path])
        found.kernels += source_shapes(trees)
        found.helpers += helper_shapes(trees)
    return found


def package_source(requirement: str) -> Source:
    """Every kernel and helper of a package (a pip requirement, fetched into the cache once)."""
    roots = fetch_package(requirement)
    if roots.failure is not None:
        raise ValueError(f"{requirement}: {roots.failure.detail}")
    trees = _parsed(file.path for file in source_files(package_group(roots)))
    return Source(source_shapes(trees), helper_shapes(trees))


def corpus_packages(path: Path = CORPUS_FILE) -> list[str]:
    """The pinned requirements of ``corpus.txt``."""
    return list(read_requirements_file(path).requirements)


def reference_sources(packages: list[str] | None = None) -> dict[str, Source]:
    """The corpus: Warp's own and each package's, by name (a package by its distribution name)."""
    found = {WARP_CORPUS: warp_source()}
    for requirement in corpus_packages() if packages is None else packages:
        found[requirement.split("==")[0].strip()] = package_source(requirement)
    return found


def generated_kernels(sources: Iterable[str]) -> list[KernelShapes]:
    """The kernels of generated modules, each module its own source."""
    return [k for text in sources for k in source_shapes([ast.parse(text)])]
