"""Garbage collection during a build: skip the heap that was there before it.

A build allocates many short-lived objects (syntax trees, code strings), so Python runs a dozen
full collections per thousand rows, and each walks the whole heap: Warp, ``datasets``, the plan.
That was about 8% of a build. Freezing the objects alive when the build starts (``gc.freeze``)
leaves them out of every collection; what the build itself makes is collected as before, and the
frozen objects go back to the oldest generation when the outermost build ends.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_depth = 0  # builds that froze the heap and have not ended (planning inside a build, nested stages)


@contextlib.contextmanager
def frozen() -> Iterator[None]:
    """Collections inside skip every object that was alive on entry (the outermost entry unfreezes)."""
    global _depth
    if _depth == 0:
        gc.freeze()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            gc.unfreeze()
