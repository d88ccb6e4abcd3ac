"""Which of Warp's builtins kernels call, against the calls in the kernels Warp ships.

The reference is every ``wp.NAME(...)`` call inside the ``@wp.kernel`` and ``@wp.func`` bodies of
Warp's examples and tests, parsed and never imported, keeping names in Warp's builtin table (given
by the caller: this module imports no Warp) and dropping the test-only ``expect_*`` and ``printf``.
"""

from __future__ import annotations

import ast
import functools
from collections import Counter
from collections.abc import Iterable

from generation.kernels.features import warp_calls
from generation.kernels.harvest import source_files


def is_counted(name: str, builtins: set[str]) -> bool:
    return name in builtins and not name.startswith("expect_") and name != "printf"


def calls_in(sources: Iterable[str | ast.AST], builtins: set[str]) -> Counter:
    """Builtin calls in the kernels and helpers of ``sources`` (texts, or parsed trees; texts that
    do not parse count none)."""
    calls: Counter = Counter()
    for source in sources:
        try:
            tree = source if isinstance(source, ast.AST) else ast.parse(source)
        except SyntaxError:
            continue
        calls.update({name: n for name, n in warp_calls(tree).items() if is_counted(name, builtins)})
    return calls


@functools.lru_cache(maxsize=1)
def warp_kernel_files() -> tuple[tuple[str, ast.Module], ...]:
    """``(folder, tree)`` of each file of Warp's examples and tests that parses, read once per
    process: the installed package does not change under it."""
    trees = []
    for source in source_files():
        try:
            trees.append((source.origin.split("/")[1], ast.parse(source.path.read_text(encoding="utf-8"))))
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue
    return tuple(trees)


def reference_calls(builtins: set[str]) -> Counter:
    """Builtin calls in the kernels Warp ships (examples and tests)."""
    from generation.kernels.reference import warp_reference

    return Counter({name: n for name, n in warp_reference().calls.items() if is_counted(name, builtins)})


def coverage(reference: Counter, emitted: Iterable[str]) -> float:
    """The share of the reference's calls whose builtin is among ``emitted``."""
    emitted = set(emitted)
    return sum(n for name, n in reference.items() if name in emitted) / sum(reference.values())
