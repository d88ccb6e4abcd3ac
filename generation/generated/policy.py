"""Every distribution the generator draws with, one ``Policy`` per category (YARPGen's ``GenPolicy``).

The odds of the application layer (guards, launch dimensions, helpers, annotation form, loops,
atomics) come from ``fitted.json``, which ``bench/fit_policy.py`` fits to real Warp code; the
category's own choices (its types, its statement kinds, its optional extras) are named odds in
``ODDS`` and each category's overrides in ``CATEGORY_POLICIES``. No code holds a probability.

The layer runs only in the categories that host it (a tile or a CSR segment kernel is 1D by
nature), so the fitted share of a shape is spread over the draws that can have it: the odds a
hosting category draws with are the fitted share times all draws over the hosting draws.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

FITTED_TABLE = Path(__file__).with_name("fitted.json")

# The categories' own odds, by name: what varies between kernels of one category.
ODDS = {
    "extra": 0.35,  # an optional extra input (a scalar parameter, a module constant, a count)
    "neighbour": 0.85,  # a clamped neighbour of an input is read, as real kernels read them
    "second_neighbour": 0.5,  # both sides, as a central difference reads them
    "accumulate_tile": 0.25,  # a tile output is added atomically, not stored
    "second_vector": 0.7,  # a matrix kernel also reads a vector array
    "spatial": 0.3,  # a float32 geometry kernel also has spatial vectors and matrices
    "cf_return": 0.25,  # a control-flow kernel may write a fallback and return early
    "atomic_guarded": 0.3,  # an atomic kernel's atomic sits under a branch
    "reducible": 0.6,  # a multidimensional kernel sums an extra axis of an input
    "mixed_seeded": 0.2,  # a mixed kernel draws random numbers too
    "mixed_input": 0.7,  # each of a mixed kernel's extra types gets an array input
    "mixed_reducible": 0.3,
    "mixed_atomic": 0.3,
    "int_second_input": 0.4,  # an integer kernel also reads an int32 array
    "int_float_input": 0.25,
    "int_atomic": 0.3,
    "int_same_output": 0.7,  # an integer kernel writes its own width, else int32
    "tile_helper": 0.1,  # added to the helper odds: a scalar helper mapped over tiles
    "query_float_input": 0.4,
    "helper_struct": 0.6,  # a helper of a kernel with a struct argument reads the struct too
    "guard_load": 0.5,  # a mask or value guard reads its array into a named local first
    "load": 0.6,  # each per-element input is read into a named local before use
    "atomic": 0.15,  # an atomic accumulation beside the store, where the category has none of its own
    "constant": 0.2,  # a leaf of an expression is a constant, not an input or local
    "helper_constant": 0.25,  # the same, in a helper
    "early_leaf": 0.15,  # an expression stops at a leaf before its depth
    "constant_twice": 0.5,  # a module constant is also read doubled through wp.static
    "condition_constant": 0.6,  # a condition compares with a constant, not another expression
    "mask_equals": 0.7,  # a mask guard compares the flag with 0, not its low bit
    "bound_argument": 0.4,  # a loop that may unroll is bounded by an argument anyway
    "bound_static": 0.25,  # else by a wp.static module constant, else by a literal
    "augassign_atomic": 0.3,  # an atomic add is written a[i] += v
    "tile_2d": 0.5,  # a tile kernel works on 2D tiles, not rows
    "tile_indexed": 0.3,  # a row tile is read (and written back) through an index tile
    "tile_stack": 0.5,  # a block gathers its threads' values on a tile stack, not a scattered tile
    "tile_stack_clear": 0.3,
    "scatter_masked": 0.5,  # a scattered tile is also written through a mask
    "radius_argument": 0.5,  # a query's radius is an argument, not a literal
    "mesh_normal_offset": 0.5,  # a signed closest point is moved off the surface along its normal
    "hash_grid_sorted_id": 0.5,  # a hash-grid query reads points in the grid's sorted order
    "bvh_ray": 0.5,  # a BVH query casts a ray rather than a box
    "second_query": 1 / 3,  # a query kernel makes a second query
    # the idioms
    "literal_coefficient": 0.4,  # a coefficient is a literal, not a float argument
    "idiom_extra_input": 0.5,  # another per-element input
    "idiom_coefficient": 0.4,
    "gather_component": 0.5,  # a gathered vector's component is read
    "gather_own": 0.5,  # the thread's own element is read too
    "scatter_scaled": 0.5,
    "scatter_edges": 0.5,  # through an edge's two ends, not a target index
    "segment_float_values": 0.6,  # a CSR's values are floats, whatever it sums
    "segment_count": 0.5,  # the segment's length is read
    "integrate_rotation": 0.3,  # rotations, not particles
    "gravity": 0.5,
    "integrate_extra_force": 0.85,  # another force, a function of the state so far
}
BODY_STATEMENTS = 4  # about how many statements a category draws for its body
GUARD_FORMS = {"bounds": 2.0, "mask": 1.0, "value": 1.0}  # against a count or a shape, a mask, a value
ATOMIC_CATEGORIES = ("atomic", "scatter", "assemble")  # atomics are their core


@dataclass(frozen=True)
class Policy:
    """What one category's kernels are drawn with."""

    dims: dict[int, float]  # launch dimensions
    guard: float  # an early return at the top of the kernel
    guard_forms: dict[str, float]  # against a count or the array's shape, a mask, a value
    helper: float  # a @wp.func of its own, called by the kernel
    subscript_arrays: float  # arrays annotated wp.array[T], not wp.array(dtype=T)
    kinds: dict[str, float]  # block kinds the layer adds to the category's own: each statement's chance
    odds: dict[str, float] = field(default_factory=dict)  # named odds: the category's, and its helpers' (fitted)

    def chance(self, rng: random.Random, name: str) -> bool:
        """Whether the named event happens, at the policy's odds."""
        return rng.random() < self.odds[name]


# What each category keeps from the layer: launch dimensions it can take, and the layer's parts it
# hosts (a tile kernel has no guard: every thread of a block must reach its tile operations).
LAYER_PARTS = ("guard", "helper", "dims", "body", "atomic")
ONE_D = {1: 1.0}
IDIOM_ODDS = {"constant": 0.15}
CATEGORY_POLICIES: dict[str, dict] = {
    "math": {"odds": {"constant": 0.1}},
    "tile": {"dims": ONE_D, "hosts": ("helper",), "odds": {"constant": 0.15}},
    "query": {"dims": ONE_D, "hosts": ("guard", "helper", "body")},
    "multidim": {"dims": {2: 2.0, 3: 1.0}},
    "atomic": {"hosts": ("guard", "helper", "dims", "body")},
    "func": {"hosts": ("guard", "dims", "body")},  # helpers are its core
    "control_flow": {"hosts": ("guard", "helper", "dims", "atomic")},
    **{
        idiom: {"dims": ONE_D, "hosts": ("guard",), "odds": IDIOM_ODDS}
        for idiom in ("gather", "scatter", "segment", "assemble")
    },
    "integrate": {"dims": ONE_D, "hosts": ("guard", "helper"), "odds": IDIOM_ODDS},
    "stencil": {"dims": ONE_D, "hosts": (), "odds": IDIOM_ODDS},  # its own dimensions and border guard
}


@functools.cache
def fitted_table() -> dict:
    """The fitted choice table (``bench/fit_policy.py``)."""
    try:
        return json.loads(FITTED_TABLE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeError(
            f"the generator's choice table {FITTED_TABLE} is missing: python bench/fit_policy.py"
        ) from None


def hosts(category: str) -> tuple[str, ...]:
    return CATEGORY_POLICIES.get(category, {}).get("hosts", LAYER_PARTS)


def _spread(share: float, part: str, weights: dict[str, float]) -> float:
    """The odds a hosting category draws a part with so that the build has ``share`` of it."""
    hosting = sum(w for category, w in weights.items() if part in hosts(category))
    return min(0.95, share * sum(weights.values()) / max(hosting, 1e-9))


def policies(category_weights: dict[str, float], table: dict | None = None) -> dict[str, Policy]:
    """One policy per category of ``category_weights`` (its draws per round), filled from the
    fitted table (``fitted.json`` unless given)."""
    table = fitted_table() if table is None else table
    shares, helpers, all_draws = table["shares"], table["helpers"], sum(category_weights.values())
    fitted_dims = {int(d): w for d, w in table["dims"].items()}
    multi = _spread(1 - fitted_dims[1], "dims", category_weights)
    dims = {1: 1 - multi} | {d: multi * w / (1 - fitted_dims[1]) for d, w in fitted_dims.items() if d > 1}
    # Atomics: what the categories that are about them (ATOMIC_CATEGORIES) leave of the share.
    own = sum(w for category, w in category_weights.items() if category in ATOMIC_CATEGORIES) / all_draws
    odds = ODDS | {
        "helper_early_return": helpers["early_return"],
        "helper_loop": helpers["for"],
        "atomic": _spread(max(0.0, shares["atomics"] - own), "atomic", category_weights),
    }
    # The layer's block kinds, as each statement's chance of being one: the corpus's share of such
    # statements, or more where the share of kernels with one asks for more over the statements a
    # hosting category draws (about ``BODY_STATEMENTS``); guards are the other ifs.
    asked = {"if": shares["if"] - shares["early_return"], "for": shares["for"], "while": 0.0}
    kinds = {}
    for kind, share in asked.items():
        per_kernel = _spread(share, "body", category_weights) if share > 0 else 0.0
        kinds[kind] = round(max(table["kinds"][kind], 1 - (1 - per_kernel) ** (1 / BODY_STATEMENTS)), 4)
    base = Policy(
        dims=dims,
        guard=_spread(shares["early_return"], "guard", category_weights),
        guard_forms=GUARD_FORMS,
        helper=_spread(shares["own_func"], "helper", category_weights),
        subscript_arrays=table["subscript_arrays"],
        kinds=kinds,
        odds=odds,
    )
    found = {}
    for category in category_weights:
        declared = CATEGORY_POLICIES.get(category, {})
        overrides = {k: v for k, v in declared.items() if k not in ("hosts", "odds")}
        policy = replace(base, **overrides, odds=base.odds | declared.get("odds", {}))
        parts = hosts(category)
        found[category] = replace(
            policy,
            guard=policy.guard if "guard" in parts else 0.0,
            helper=policy.helper if "helper" in parts else 0.0,
            dims=policy.dims if "dims" in parts or "dims" in overrides else ONE_D,
            kinds=policy.kinds if "body" in parts else {},
            odds=policy.odds | ({} if "atomic" in parts else {"atomic": 0.0}),
        )
    return found
