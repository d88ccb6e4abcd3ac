"""The shape counter's definitions on handwritten kernels, and the fitted table reaching the generator."""

from __future__ import annotations

import ast

from generation.generated.generator import CATEGORY_WEIGHTS, POLICIES
from generation.generated.policy import fitted_table, policies
from generation.measure.corpus import generated_kernels
from generation.measure.shapes import SHAPES, source_shapes

APPLICATION = """
import warp as wp

@wp.struct
class Params:
    gain: float

@wp.func
def blend(a: float, b: float):
    if a > b:
        return a
    return b

@wp.kernel
def update(x: wp.array2d[float], idx: wp.array(dtype=int), p: Params, out: wp.array(dtype=wp.vec3), n: int):
    i, j = wp.tid()
    if i >= n:
        return
    k = idx[i]
    v = x[k, j]
    w = x[idx[j], 0]
    for s in range(3):
        v += blend(v, w) * p.gain
    wp.atomic_add(out, i, wp.vec3(v, w, 0.0))
    out[i] = wp.normalize(out[i])
"""

PLAIN = """
import warp as wp

@wp.kernel
def scale(a: wp.array(dtype=float), b: wp.array(dtype=float)):
    i = wp.tid()
    b[i] = a[i] * 2.0 + wp.sin(a[wp.min(i + 1, a.shape[0] - 1)] + 1.0)
"""


def _has(source: str) -> dict[str, bool]:
    [kernel] = source_shapes([ast.parse(source)])
    return kernel.has


def test_each_shape_is_seen_where_it_is_and_only_there():
    application, plain = _has(APPLICATION), _has(PLAIN)
    assert {s for s, yes in application.items() if yes} == set(SHAPES) - {"over_10_statements", "tile"}, application
    # a neighbour's clamped index reads a shape, not an array; f(g(x) + 1) is not a nested call
    assert {s for s, yes in plain.items() if yes} == {"array_call"}, plain


def test_statements_count_at_any_depth():
    [kernel] = source_shapes([ast.parse(APPLICATION)])
    assert kernel.statements == 10 and kernel.dims == 2
    assert kernel.kinds["if"] == 1 and kernel.kinds["for"] == 1 and kernel.kinds["augassign"] == 1


def test_generated_kernels_have_their_helpers():
    [kernel] = generated_kernels([APPLICATION])
    assert kernel.has["own_func"] and kernel.calls["atomic_add"] == 1


def test_the_fitted_table_fills_the_policies():
    """The generator's odds come from fitted.json: a table that asks for no early returns and no
    helpers gives policies without them, and the checked-in table gives the ones in use."""
    weights = {category: CATEGORY_WEIGHTS.get(category, 1) for category in POLICIES}
    assert policies(weights) == POLICIES
    table = fitted_table() | {"shares": fitted_table()["shares"] | {"early_return": 0.0, "own_func": 0.0}}
    changed = policies(weights, table)
    assert all(p.guard == 0.0 and p.helper == 0.0 for p in changed.values())
    assert POLICIES["arithmetic"].guard > 0.2 and POLICIES["arithmetic"].helper > 0.4
    assert POLICIES["tile"].dims == {1: 1.0} and POLICIES["tile"].guard == 0.0  # a tile kernel hosts neither


def test_the_table_was_fitted_to_the_installed_warp():
    """A Warp release changes its examples and tests (and the annotation form they use): the table
    names the version it was fitted to, which must be the one installed, else refit."""
    from importlib.metadata import version

    fitted = fitted_table()["fitted_from"]
    assert fitted["warp-lang"] == version("warp-lang"), "refit with: python bench/fit_policy.py"
    assert fitted["packages"] == [line for line in fitted["packages"] if "==" in line]  # pinned, so refits agree
