"""A cheap prediction of how long Warp's code for a kernel will be, from its syntax tree alone.

Warp's code generator writes a few lines per operation of the source, so the length of ``forward``
(and of the whole ``code``) is close to a weighted count of the source's syntax nodes. A length cap
steers planning with it (``generated.drawn``): about 0.3 ms a kernel, against about 10 ms for
making the code. The weights are least squares over generated kernels of every category and
size; ``bench/length_prediction.py`` fits them again and prints this table and its accuracy.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

from generation.pipeline.options import BuildOptions

COLUMNS = ("forward", "code")

# Characters per syntax node of each kind, per target and column; "" is the constant term.
# Written by ``bench/length_prediction.py --write``.
WEIGHTS: dict[str, dict[str, dict[str, float]]] = json.loads(
    (Path(__file__).parent / "length_weights.json").read_text()
)


def node_counts(python_source: str) -> Counter[str]:
    """How many syntax nodes of each kind the source has."""
    return Counter(type(node).__name__ for node in ast.walk(ast.parse(python_source)))


def predicted(python_source: str, target: str) -> dict[str, int]:
    """The predicted length of each of ``COLUMNS`` for ``target``'s code, in characters."""
    counts = node_counts(python_source)
    return {
        column: round(weights[""] + sum(weights.get(kind, 0.0) * n for kind, n in counts.items()))
        for column, weights in WEIGHTS[target].items()
    }


def predicted_to_fit(python_source: str, target: str, options: BuildOptions) -> bool:
    """Whether the kernel's code is predicted to be within the build's length caps."""
    lengths = predicted(python_source, target)
    caps = {"forward": options.max_forward_chars, "code": options.max_code_chars}
    return all(cap is None or lengths[column] <= cap for column, cap in caps.items())
