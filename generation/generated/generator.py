"""Seeded kernel program generator: category policies over one typed grammar and one statement builder.

A kernel is fully determined by ``(seed, category, difficulty, index)``: each index draws from
its own ``random.Random``, so any slice of a build can be generated in any process. Each category
function picks its types, operations and statement kinds with the odds of its ``Policy``
(``policy.py``, filled from the fitted table); a difficulty ``Profile`` sets the sizes;
``KernelBuilder`` (``builder.py``) wraps the category's core in the application layer and emits
the statements.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from generation.generated import expressions, operations
from generation.generated.builder import KernelBuilder
from generation.generated.idioms import IDIOMS
from generation.generated.operations import FLOAT, Op
from generation.generated.parts import (
    ATOMIC_TYPES,
    BLOCK_STATEMENTS,
    TID_NAMES,
    Block,
    KernelParts,
    Profile,
    indent,
)
from generation.generated.policy import Policy, policies
from generation.generated.queries import QUERIES, draw_idioms
from generation.source.edits import WARP_IMPORT, without_backward
from generation.source.spec import KernelSpec
from generation.source.warp_types import TILE_SHAPES, TYPES, tile

GENERATOR_VERSION = "4.10.0"


def capped(profile: Profile, max_depth: int | None, max_statements: int | None) -> Profile:
    """``profile`` with its expression depth and statement counts capped."""
    depth = profile.depth if max_depth is None else tuple(min(v, max_depth) for v in profile.depth)
    statements = profile.statements
    if max_statements is not None:
        statements = tuple(min(v, max_statements) for v in profile.statements)
    return replace(profile, depth=depth, statements=statements)


# Sizes only (the odds are the policies'): expressions stay shallow, and a harder kernel has more
# statements and blocks rather than deeper expressions.
PROFILES = {
    "easy": Profile(depth=(1, 2), statements=(1, 2), nesting=1),
    "medium": Profile(depth=(1, 2), statements=(2, 4), nesting=2),
    "hard": Profile(depth=(1, 3), statements=(3, 6), nesting=3),
}
# "mixed" draws a difficulty per kernel with these weights.
MIXED_WEIGHTS = {"easy": 0.3, "medium": 0.4, "hard": 0.3}
DIFFICULTIES = (*PROFILES, "mixed")
ALL_STATEMENTS = {"assign": 3, "if": 2, "for": 2, "while": 1, "reduce": 2, "atomic": 1, "return": 0.5}


def _program(
    kb: KernelBuilder, prefix: str, out_type: str, kinds: dict, root_groups=None, min_statements=0
) -> KernelParts:
    """The shape of most categories: the application layer's prologue, a neighbour or two,
    statements drawn from ``kinds`` and the layer's own kinds, then a final store that reads every
    local of the kernel's top block."""
    kb.sink = out_type
    kb.prologue()
    if kb.chance("neighbour") and not kb.profile.compact:
        kb.emit_neighbour()
        if kb.chance("second_neighbour"):  # both sides, as a central difference reads them
            kb.emit_neighbour()
    count = max(min_statements, kb.rng.randint(*kb.profile.statements))
    kb.statements(count, kb.profile.nesting, kb.with_layer(kinds))
    result = kb.use_all_locals(kb.rooted(out_type, None, root_groups), out_type)
    return kb.finish(prefix, result, out_type)


# -- category policies ------------------------------------------------------------------------

SCALAR_WEIGHTS = {"float32": 4, "float64": 1.5, "float16": 1, "int32": 1.5, "int64": 1}
INTEGER_WEIGHTS = {"uint32": 3, "int16": 2, "uint8": 2, "int8": 1, "uint16": 1, "uint64": 1.5, "int64": 1, "int32": 1.5}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def arithmetic_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    t = _pick(rng, SCALAR_WEIGHTS)
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "int"), {t}), policy)
    kb.array_inputs(t, rng.randint(1, 3))
    if kb.chance("extra"):
        kb.scalar_param(t)
    return _program(kb, f"arith_{t}", t, {"assign": 1}, ("arith", "int"))


def math_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    t = _pick(rng, {"float32": 4, "float64": 1.5, "float16": 1})
    ops = [
        replace(o, weight=o.weight * (3.0 if len(o.args) == 1 else 1.0))
        for o in operations.ops_for(("arith", "math"), {t})
    ]
    kb = KernelBuilder(rng, profile, ops, policy)
    kb.array_inputs(t, rng.randint(1, 2))
    if kb.chance("extra") and t == FLOAT:
        kb.module_constant(t)
    return _program(kb, "math", t, {"assign": 1}, ("math",))


def vector_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 2})
    n = rng.choice((2, 3, 3, 4, 6)) if f == FLOAT else rng.choice((2, 3, 4))
    types = {operations.vec(n, f), f} | ({"vec3"} if n == 6 else set())
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "vector"), types), policy)
    kb.array_inputs(operations.vec(n, f), rng.randint(1, 3))
    if kb.chance("extra"):
        kb.array_inputs(f, 1)
    kinds = {"assign": 4, "for": 1}  # real vector code also sums over a loop
    return _program(kb, f"vec{n}", kb.rooted_type(types, ("vector",)), kinds, ("vector",))


def matrix_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    f = _pick(rng, {"float32": 1, "float64": 1})
    n = rng.choice((2, 3, 4, 6)) if f == FLOAT else rng.choice((2, 3, 4))
    types = {operations.mat(n, f), operations.vec(n, f), f}
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "vector", "matrix"), types), policy)
    kb.array_inputs(operations.mat(n, f), rng.randint(1, 2))
    if kb.chance("second_vector"):
        kb.array_inputs(operations.vec(n, f), 1)
    kinds = {"assign": 4, "unpack": 1}
    return _program(kb, f"mat{n}", kb.rooted_type(types, ("matrix",)), kinds, ("matrix",))


def geometry_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 2})
    q, t, v = operations.quat(f), operations.transform(f), operations.vec(3, f)
    types = {q, t, v, operations.mat(3, f), f}
    if f == FLOAT and policy.chance(rng, "spatial"):  # spatial vectors and their algebra
        types |= {"spatial_vector", "spatial_matrix"}
    ops = operations.ops_for(("arith", "vector", "matrix", "geometry"), types)
    kb = KernelBuilder(rng, profile, ops, policy)
    kb.array_inputs(rng.choice((q, t)), rng.randint(1, 2))
    kb.array_inputs(v, 1)
    if "spatial_vector" in types:
        kb.array_inputs("spatial_vector", 1)
    kinds = {"assign": 4, "unpack": 1}
    return _program(kb, "geom", kb.rooted_type({q, t, v, f}, ("geometry",)), kinds, ("geometry",))


def control_flow_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    t = _pick(rng, {"float32": 4, "float64": 1, "int32": 1})
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "int"), {t}), policy)
    kb.array_inputs(t, rng.randint(1, 3))
    if kb.chance("extra"):
        kb.count_param()
    out = kb.output(t)
    kb.outputs_written.append((out, t))
    kb.sink = t
    kb.prologue()
    kinds = {"if": 3, "for": 2, "while": 1, "assign": 1}
    if kb.chance("cf_return"):
        kb.emit_return(1, kinds)
    nesting = max(1, profile.nesting)
    kb.statements(1, nesting, {k: w for k, w in kinds.items() if k in BLOCK_STATEMENTS})
    kb.statements(rng.randint(*profile.statements) - 1, nesting, kinds)
    result = kb.use_all_locals(kb.expr(t), t)
    return kb.finish("cf", result, t, out=out)


def atomic_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    t = _pick(rng, {"float32": 4, "int32": 1.5, "vec3": 1, "vec2": 0.5, "vec4": 0.5, "float64": 0.5})
    scalar = TYPES[t].scalar
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "int", "vector"), {t, scalar}), policy)
    kb.array_inputs(scalar, rng.randint(1, 2))
    if t != scalar:
        kb.array_inputs(t, rng.randint(1, 2))
    kb.atomic_target(("total", "acc", "bins", "hist"), t)
    kb.prologue()
    kb.statements(rng.randint(*profile.statements), 1, kb.with_layer({"assign": 2, "if": 1}))
    if kb.chance("atomic_guarded"):
        body = Block()
        with kb.emitting_into(body):
            kb.emit_atomic(0, {})
        cond = kb.condition()
        kb.emit(f"if {cond.code}:", cond, kind="if")
        kb.block.nest(body)
        kb.say(body.phrases[-1] + f" when {cond.phrase}")
    else:
        kb.emit_atomic(0, {})
    return kb.parts(f"{kb.atomics[0]}_{t}", kb.summary())


def struct_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 1})
    types = {f, operations.vec(3, f), "int32"}
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "vector", "convert"), types), policy)
    vec3 = operations.vec(3, f)
    fields = [f, rng.choice((f, vec3)), *rng.sample([f, vec3, "int32"], rng.randint(0, 2))]
    kb.struct_input(fields)
    kb.array_inputs(rng.choice((f, operations.vec(3, f))), rng.randint(1, 2))
    out_type = rng.choice(sorted(types - {"int32"}))
    kinds = {"assign": 2, "for": 1, "if": 1}
    return _program(kb, "struct", out_type, kinds)


def func_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    t = _pick(rng, {"float32": 3, "float64": 1, "vec3": 1})
    scalar = TYPES[t].scalar
    types = {t, scalar}
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "math", "vector"), types), policy)
    kb.array_inputs(t, rng.randint(1, 2))
    if t != scalar:
        kb.array_inputs(scalar, 1)
    kb.prologue()
    for _ in range(rng.randint(1, 1 + profile.nesting)):
        arg_types = tuple(rng.choice(sorted(types)) for _ in range(rng.randint(1, 3)))
        op = kb.helper(rng.choice(sorted(types)), arg_types, kb.depth(), statements=rng.randint(0, profile.nesting))
        kb.bind(expressions.apply(rng, kb.scope, op, depth=2), op.result)
    kb.statements(rng.randint(0, 1), profile.nesting, kb.with_layer({}))
    result = kb.use_all_locals(kb.rooted(t, None, ("helper",)), t)
    return kb.finish("func", result, t)


def multidim_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    t = _pick(rng, {"float32": 3, "float64": 1, "vec3": 1})
    scalar = TYPES[t].scalar
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "vector"), {t, scalar}), policy)
    kb.array_inputs(t, rng.randint(1, 2))
    if kb.chance("reducible"):
        kb.reducible_input(scalar)
    kinds = {"assign": 2, "reduce": 3, "if": 1, "for": 1}
    return _program(kb, f"grid{kb.dims}d", t, kinds, min_statements=1 if kb.reducible else 0)


def mixed_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Everything at once: several types, helpers, structs, constants, blocks and atomics."""
    main = _pick(rng, {"float32": 4, "float64": 1, "int32": 1})
    extra = rng.sample(MIXED_EXTRA_TYPES, rng.randint(1, 3))
    types = {main, FLOAT, *extra}
    if "quat" in types or "transform" in types:
        types |= {"vec3"}
    seeded = policy.chance(rng, "mixed_seeded")  # random draws too
    groups = GROUPS + ("random", "noise") if seeded else GROUPS
    kb = KernelBuilder(rng, profile, operations.ops_for(groups, types), policy)
    if seeded:  # and one draw at least, so the state is read (float32 reaches every main type)
        kb.emit_random_init()
        kb.bind(kb.rooted(FLOAT, 1, ("random",)), FLOAT)
    for t in sorted(types - {FLOAT} | {main}):
        if kb.chance("mixed_input") or t == main:
            kb.array_inputs(t, 1)
    if kb.chance("extra"):
        kb.struct_input([FLOAT, rng.choice(("vec3", "int32", FLOAT))])
    if kb.chance("extra"):
        kb.module_constant()
    if kb.chance("extra"):
        kb.count_param()
    if kb.chance("mixed_reducible"):
        kb.reducible_input(FLOAT)
    if kb.chance("mixed_atomic"):
        kb.atomic_target(("total", "acc", "hist"), FLOAT)
    return _program(kb, "mixed", main, ALL_STATEMENTS, min_statements=2)


def integer_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Integers of every width: wrapping arithmetic, bit operations, masked shifts, conversions."""
    t = _pick(rng, INTEGER_WEIGHTS)
    types = {t, "int32", FLOAT}
    kb = KernelBuilder(rng, profile, operations.ops_for(("bits", "convert"), types), policy)
    kb.array_inputs(t, rng.randint(1, 3))
    if t != "int32" and kb.chance("int_second_input"):
        kb.array_inputs("int32", 1)
    if kb.chance("int_float_input"):
        kb.array_inputs(FLOAT, 1)
    if t in ATOMIC_TYPES and kb.chance("int_atomic"):
        kb.atomic_target(("bins", "flags", "masks"), t)
    out_type = t if kb.chance("int_same_output") else "int32"
    kinds = {"assign": 3, "if": 1, "for": 1, "atomic": 1}
    return _program(kb, f"int_{t}", out_type, kinds, ("bits",) if out_type == t else None)


def random_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Random numbers: a generator seeded from an argument and the thread, then draws, noise, samples."""
    types = {FLOAT, "vec2", "vec3"}
    ops = operations.ops_for(("arith", "math", "vector", "random", "noise"), types)
    kb = KernelBuilder(rng, profile, ops, policy)
    kb.array_inputs(rng.choice((FLOAT, FLOAT, "vec3")), rng.randint(1, 2))
    if kb.chance("extra"):
        kb.scalar_param(FLOAT)
    kb.emit_random_init()
    draw = rng.choice(sorted(types))
    kb.bind(kb.rooted(draw, 1, ("random",)), draw)
    out_type = _pick(rng, {FLOAT: 3, "vec3": 1.5, "vec2": 1})
    # The store is a function of the kernel's data and its draws: noise at, or a draw around, a value.
    return _program(kb, "rand", out_type, {"assign": 3, "if": 1, "for": 1}, ("noise",))


def _tile_helper(kb: KernelBuilder, tile_types: set[str], bound: str) -> None:
    """A scalar ``@wp.func`` mapped over tiles: ``wp.tile_map(helper, t0, t1)``, offered for every
    type of ``tile_types`` and called at once for ``bound`` (so no helper goes unused)."""
    arity = kb.rng.randint(1, 2)
    scalar_ops = operations.ops_for(("arith", "math"), {FLOAT})  # a function of each element, nothing block-wide
    helper = kb.helper(FLOAT, (FLOAT,) * arity, kb.rng.randint(1, 2), kb.rng.randint(0, 1), scalar_ops)
    kb.scope.remove_op(helper)  # called only through tile_map, never on scalars
    placeholders = ", ".join(f"{{{k}}}" for k in range(arity))
    for t in sorted(tile_types):
        template = f"wp.tile_map({helper.base}, {placeholders})"
        phrase = f"{helper.base} of each element of {placeholders}"
        kb.scope.add_op(
            Op(f"tile_map:{helper.base}:{t}", "tile_map", t, (t,) * arity, template, phrase, "tile", None, 2)
        )
    mapped = next(op for op in kb.scope.ops if op.key == f"tile_map:{helper.base}:{bound}")
    kb.bind(expressions.apply(kb.rng, kb.scope, mapped, depth=2), bound)


def tile_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Block-cooperative tiles: rows or slices loaded, mapped, reduced, multiplied, stored."""
    two_d = policy.chance(rng, "tile_2d")
    shapes = [s for s in TILE_SHAPES if len(s) == (2 if two_d else 1)]
    loaded = {tile(s) for s in rng.sample(shapes, rng.randint(1, 2 if two_d else 1))}
    types = {tile(s) for s in shapes} | {FLOAT}  # products and transposes reach the other shapes
    kb = KernelBuilder(rng, profile, operations.ops_for(("tile",), types), replace(policy, helper=0.0))
    for t in sorted(loaded):
        kb.array_inputs(t, rng.randint(1, 2))
        kb.load_inputs(t)
    if kb.chance("extra"):
        kb.scalar_param(FLOAT)
    out_type = rng.choice(sorted(loaded))
    if rng.random() < policy.helper + policy.odds["tile_helper"] and not profile.compact:
        _tile_helper(kb, loaded, out_type)
    parts = _program(kb, "tile", out_type, {"assign": 4, "tile_update": 1, "tile_scatter": 0.5}, ("tile",))
    parts.name = parts.name.replace("_tile_", "_")  # tile_map_add, not tile_tile_map_add
    return parts


def query_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Spatial queries on meshes, hash grids, BVHs and volumes passed as ``wp.uint64`` handles."""
    types = {FLOAT, "vec3"}
    kb = KernelBuilder(rng, profile, operations.ops_for(("arith", "math", "vector"), types), policy)
    kb.array_inputs("vec3", 1, names=("points", "positions", "particles"))
    points = kb.inputs[-1][0]
    compact = profile.compact  # one query, nothing else
    if kb.chance("query_float_input") and not compact:
        kb.array_inputs(FLOAT, 1)
    idioms = draw_idioms(rng, policy)[:1] if compact else draw_idioms(rng, policy)
    for idiom in idioms:
        QUERIES[idiom](kb, points)
    out_type = rng.choice((FLOAT, "vec3"))
    return _program(kb, f"query_{idioms[0]}", out_type, {"assign": 2, "if": 1})


GROUPS = ("arith", "math", "int", "bits", "bool", "convert", "select", "vector", "matrix", "geometry")
MIXED_EXTRA_TYPES = ["vec3", "mat33", "quat", "float16", "int32", "bool", "vec2", "transform", "uint32", "int16"]

# Each category's policy: what it draws, with one KernelBuilder.
CATEGORIES: dict[str, Callable[[random.Random, Profile, Policy], KernelParts]] = {
    "arithmetic": arithmetic_kernel,
    "vector": vector_kernel,
    "matrix": matrix_kernel,
    "control_flow": control_flow_kernel,
    "math": math_kernel,
    "atomic": atomic_kernel,
    "geometry": geometry_kernel,
    "struct": struct_kernel,
    "func": func_kernel,
    "multidim": multidim_kernel,
    "mixed": mixed_kernel,
    "integer": integer_kernel,
    "random": random_kernel,
    "tile": tile_kernel,
    "query": query_kernel,
    **IDIOMS,  # shaped like real kernels: stencil, gather, scatter, segment, integrate, assemble
}
# How many times a category comes up in each round of a default build's draws (others once):
# tiles, the GPU-specific half of Warp, and the idioms about where data comes from take more.
CATEGORY_WEIGHTS = {"tile": 4, "stencil": 3, "gather": 3, "scatter": 3, "segment": 3, "assemble": 3}
# The families that hold the vector, matrix, quaternion, transform and spatial types, in both float
# widths, drawn often enough that each type is in at least 0.5% of default rows (bench/generator_stats.py).
CATEGORY_WEIGHTS |= {"vector": 2, "matrix": 3, "geometry": 2}


# Each category's policy: every distribution it draws with, the application layer's fitted.
POLICIES = policies({category: CATEGORY_WEIGHTS.get(category, 1) for category in CATEGORIES})


def policy_of(category: str) -> Policy:
    """The category's policy (a category added to ``CATEGORIES`` later gets the layer's defaults)."""
    return POLICIES.get(category) or policies({category: 1})[category]


def draw_round(categories) -> list[str]:
    """One round of a build's draws: each category, in order, as often as its weight."""
    return [category for category in categories for _ in range(CATEGORY_WEIGHTS.get(category, 1))]


def render(parts: KernelParts, include_backward: bool = True) -> str:
    """The complete module: imports, module options, constants, structs, helpers and the kernel."""
    text = WARP_IMPORT
    signature = ", ".join(f"{name}: {type_}" for name, type_ in parts.inputs + parts.outputs)
    tid = f"    {', '.join(TID_NAMES[: parts.dims])} = wp.tid()"
    kernel = ["@wp.kernel", f"def {parts.name}({signature}):", tid, *indent(parts.body)]
    for block in [*parts.module_blocks, "\n".join(kernel) + "\n"]:
        text += "\n\n" + block
    return text if include_backward else without_backward(text)


def check_choice(kind: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; choose from {sorted(allowed)}")


@dataclass(frozen=True)
class GenerationOptions:
    """How a build shapes every kernel it draws: the generator's options, travelling together."""

    include_backward: bool = True  # False: the source sets ``enable_backward: False``
    difficulty: str = "mixed"  # a level of ``PROFILES``, or "mixed" (one drawn per kernel)
    max_depth: int | None = None  # caps on the level's expression depth and statements per block
    max_statements: int | None = None


# The size profiles a length cap steers a draw to, in order, after its own: each replaces the
# draw's difficulty and caps (a user's own caps still hold). A draw takes the first that fits.
SMALLER = (
    {"difficulty": "easy"},
    {"difficulty": "easy", "max_depth": 1, "max_statements": 1},
    {"difficulty": "easy", "max_depth": 1, "max_statements": 0},
)


def smaller_profiles(options: GenerationOptions) -> list[GenerationOptions]:
    """``options``, then the ``SMALLER`` profiles under its caps, largest first, without repeats."""
    ladder = [options]
    for step in SMALLER:
        capped_step = {
            key: value if getattr(options, key) is None or key == "difficulty" else min(value, getattr(options, key))
            for key, value in step.items()
        }
        smaller = replace(options, **capped_step)
        if smaller not in ladder:
            ladder.append(smaller)
    return ladder


def generate(category: str, seed: int, index: int, options: GenerationOptions = GenerationOptions()) -> KernelSpec:
    """The kernel at ``index`` of ``category`` for ``seed``: the same inputs give the same kernel."""
    difficulty = options.difficulty
    check_choice("category", category, CATEGORIES)
    check_choice("difficulty", difficulty, DIFFICULTIES)
    rng = random.Random(f"warp-ir-pairs/{GENERATOR_VERSION}/{seed}/{category}/{difficulty}/{index}")
    level = _pick(rng, MIXED_WEIGHTS) if difficulty == "mixed" else difficulty
    profile = capped(PROFILES[level], options.max_depth, options.max_statements)
    parts = CATEGORIES[category](rng, profile, policy_of(category))
    recipe = json.dumps({"category": category, "seed": seed, "index": index, **asdict(options)}, sort_keys=True)
    return KernelSpec(parts.name, category, parts.description, render(parts, options.include_backward), level, recipe)
