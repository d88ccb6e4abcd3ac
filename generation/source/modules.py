"""How Python names a file, and which packages a row may import: one rule for the static harvest
(which follows imports between files) and import mode (whose child imports each file by name)."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

BUILTIN_NAMES = frozenset(dir(builtins))
# What a row's module may import: Warp builds the row; numpy, math and the standard library are
# what declarations and kernels read besides Warp.
ALLOWED_PACKAGES = frozenset({"warp", "numpy", "math"} | set(sys.stdlib_module_names))


def package_prefix(folder: Path) -> list[str]:
    """The dotted package a folder is, from the ``__init__.py`` files above it ([] for a plain folder)."""
    parts: list[str] = []
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return parts


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The dotted name of a file under ``root`` (which is a package, or a folder on ``sys.path``)."""
    relative = path.relative_to(root).with_suffix("").parts
    parts = package_prefix(root) + list(relative)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package
