"""What the kernels Warp ships look like: their builtin calls and their shapes, the card's yardstick.

Parsing Warp's examples and tests takes seconds, and they change only with the Warp release, so
the result is kept in the user's cache (``WARP_IR_PAIRS_CACHE``, else ``~/.cache/warp-ir-pairs``),
one file per Warp version.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version

from generation.cache import cache_dir
from generation.measure.realism import Realism, realism, shapes
from generation.real.harvest import source_files
from generation.source.features import warp_calls

FORMAT = 1  # bump when what is stored changes


@dataclass(frozen=True)
class WarpReference:
    calls: Counter  # every wp.NAME(...) call in the shipped kernels' bodies, by name
    shapes: dict[str, Realism]  # per folder (examples, tests)


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


def compute() -> WarpReference:
    calls: Counter = Counter()
    trees: dict[str, list] = {}
    for folder, tree in warp_kernel_files():
        calls.update(warp_calls(tree))
        trees.setdefault(folder, []).append(tree)
    return WarpReference(calls, {folder: realism(shapes(found)) for folder, found in sorted(trees.items())})


@functools.lru_cache(maxsize=1)
def warp_reference() -> WarpReference:
    """The reference for the installed Warp, from the cache when it holds it."""
    path = cache_dir() / f"warp-{version('warp-lang')}-reference-{FORMAT}.json"
    try:
        data = json.loads(path.read_text())
        return WarpReference(Counter(data["calls"]), {k: Realism(**v) for k, v in data["shapes"].items()})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    reference = compute()
    data = {"calls": reference.calls, "shapes": {k: dataclasses.asdict(v) for k, v in reference.shapes.items()}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        temporary.write_text(json.dumps(data, sort_keys=True))
        temporary.replace(path)
    except OSError:  # a read-only home: compute it each time
        pass
    return reference
