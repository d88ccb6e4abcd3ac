"""Which of Warp's builtins kernels call, against the calls in the kernels Warp ships.

The reference is every ``wp.NAME(...)`` call inside the ``@wp.kernel`` and ``@wp.func`` bodies of
Warp's examples and tests, parsed and never imported, keeping names in Warp's builtin table (given
by the caller: this module imports no Warp) and dropping the test-only ``expect_*`` and ``printf``.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable

from generation.measure.reference import warp_reference
from generation.source.features import warp_calls


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


def reference_calls(builtins: set[str]) -> Counter:
    """Builtin calls in the kernels Warp ships (examples and tests)."""
    return Counter({name: n for name, n in warp_reference().calls.items() if is_counted(name, builtins)})


def coverage(reference: Counter, emitted: Iterable[str]) -> float:
    """The share of the reference's calls whose builtin is among ``emitted``."""
    emitted = set(emitted)
    return sum(n for name, n in reference.items() if name in emitted) / sum(reference.values())
