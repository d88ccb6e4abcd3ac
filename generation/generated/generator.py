"""Seeded kernel program generator: category policies over one typed grammar and one statement builder.

A kernel is fully determined by ``(seed, category, difficulty, index)``: each index draws from
its own ``random.Random``, so any slice of a build can be generated in any process. A category
policy picks the types, operations and statement kinds; a difficulty ``Profile`` sets the sizes;
``KernelBuilder`` (``builder.py``) emits the statements.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from generation.generated import grammar
from generation.generated.builder import KernelBuilder
from generation.generated.grammar import FLOAT, Expr, Op
from generation.generated.idioms import IDIOMS
from generation.generated.parts import (
    ATOMIC_TYPES,
    BLOCK_STATEMENTS,
    TID_NAMES,
    Block,
    KernelParts,
    Profile,
    indent,
    sentence,
    store,
)
from generation.generated.queries import QUERIES, draw_idioms
from generation.source.edits import WARP_IMPORT, without_backward
from generation.source.spec import KernelSpec
from generation.source.warp_types import TILE_SHAPES, TYPES, tile

GENERATOR_VERSION = "3.3.0"


def capped(profile: Profile, max_depth: int | None, max_statements: int | None) -> Profile:
    """``profile`` with its expression depth and statement counts capped."""
    depth = profile.depth if max_depth is None else tuple(min(v, max_depth) for v in profile.depth)
    statements = profile.statements
    if max_statements is not None:
        statements = tuple(min(v, max_statements) for v in profile.statements)
    return replace(profile, depth=depth, statements=statements)


# Real kernels are shallow expressions bound to named intermediates: depth stays low, and a
# harder kernel has more statements and blocks rather than deeper expressions.
PROFILES = {
    "easy": Profile(depth=(1, 2), statements=(1, 2), nesting=1, helper_prob=0.1, extra_prob=0.2),
    "medium": Profile(depth=(1, 2), statements=(2, 4), nesting=2, helper_prob=0.25, extra_prob=0.35),
    "hard": Profile(depth=(1, 3), statements=(3, 6), nesting=3, helper_prob=0.45, extra_prob=0.5),
}
# "mixed" draws a difficulty per kernel with these weights.
MIXED_WEIGHTS = {"easy": 0.3, "medium": 0.4, "hard": 0.3}
DIFFICULTIES = (*PROFILES, "mixed")
ALL_STATEMENTS = {"assign": 3, "if": 2, "for": 2, "while": 1, "reduce": 2, "atomic": 1, "return": 0.5}
NEIGHBOUR_PROB = 0.85  # how often a kernel also reads a clamped neighbour of an input, as real ones do


def _name(prefix: str, ops: tuple[str, ...]) -> str:
    """A readable kernel name from the first few distinct operations it uses."""
    return "_".join([prefix, *list(dict.fromkeys(ops))[:3]])


def _store(kb: KernelBuilder, out: str, result: Expr, out_type: str = FLOAT) -> None:
    """The final ``out[i] = ...`` (a tile: stored, or added atomically, into the output's row)."""
    accumulate = TYPES[out_type].kind == "tile" and kb.rng.random() < 0.25
    kb.emit(store(out, out_type, kb.index, result.code, accumulate), result)


def _summary(kb: KernelBuilder, final: str) -> str:
    each = "For each element i" if kb.dims == 1 else f"For each ({kb.index})"
    return f"{each}, the kernel " + sentence(kb.block.phrases, final)


def _program(
    kb: KernelBuilder, prefix: str, out_type: str, kinds: dict, root_groups=None, min_statements=0
) -> KernelParts:
    """Statements drawn from ``kinds``, then a final store that reads every local of the kernel's
    top block: the shape of most categories."""
    kb.sink = out_type
    kb.maybe_helper(statements=kb.rng.randint(0, 1))
    if kb.rng.random() < NEIGHBOUR_PROB and not kb.profile.compact:
        kb.emit_neighbour()
        if kb.rng.random() < 0.5:  # both sides, as a central difference reads them
            kb.emit_neighbour()
    count = max(min_statements, kb.rng.randint(*kb.profile.statements))
    kb.statements(count, kb.profile.nesting, kinds)
    result = kb.use_all_locals(kb.rooted(out_type, None, root_groups), out_type)
    out = kb.output(out_type)
    _store(kb, out, result, out_type)
    return kb.parts(_name(prefix, result.ops), _summary(kb, f"writes {result.phrase} to {out}."))


# -- category policies ------------------------------------------------------------------------

SCALAR_WEIGHTS = {"float32": 4, "float64": 1.5, "float16": 1, "int32": 1.5, "int64": 1}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def arithmetic_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, SCALAR_WEIGHTS)
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "int"), {t}))
    kb.array_inputs(t, rng.randint(1, 3))
    if rng.random() < profile.extra_prob:
        kb.scalar_param(t)
    return _program(kb, f"arith_{t}", t, {"assign": 1}, ("arith", "int"))


def math_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 4, "float64": 1.5, "float16": 1})
    ops = [replace(o, weight=3.0 if len(o.args) == 1 else 1.0) for o in grammar.ops_for(("arith", "math"), {t})]
    kb = KernelBuilder(rng, profile, ops, const_prob=0.1)
    kb.array_inputs(t, rng.randint(1, 2))
    if rng.random() < profile.extra_prob and t == FLOAT:
        kb.module_constant(t)
    return _program(kb, "math", t, {"assign": 1}, ("math",))


def vector_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 2})
    n = rng.choice((2, 3, 3, 4, 6)) if f == FLOAT else rng.choice((2, 3, 4))
    types = {grammar.vec(n, f), f} | ({"vec3"} if n == 6 else set())
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector"), types))
    kb.array_inputs(grammar.vec(n, f), rng.randint(1, 3))
    if rng.random() < profile.extra_prob:
        kb.array_inputs(f, 1)
    kinds = {"assign": 4, "for": 1}  # real vector code also sums over a loop
    return _program(kb, f"vec{n}", kb.rooted_type(types, ("vector",)), kinds, ("vector",))


def matrix_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 1, "float64": 1})
    n = rng.choice((2, 3, 4, 6)) if f == FLOAT else rng.choice((2, 3, 4))
    types = {grammar.mat(n, f), grammar.vec(n, f), f}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector", "matrix"), types))
    kb.array_inputs(grammar.mat(n, f), rng.randint(1, 2))
    if rng.random() < 0.7:
        kb.array_inputs(grammar.vec(n, f), 1)
    kinds = {"assign": 4, "unpack": 1}
    return _program(kb, f"mat{n}", kb.rooted_type(types, ("matrix",)), kinds, ("matrix",))


def geometry_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 2})
    q, t, v = grammar.quat(f), grammar.transform(f), grammar.vec(3, f)
    types = {q, t, v, grammar.mat(3, f), f}
    if f == FLOAT and rng.random() < 0.3:  # spatial vectors and their algebra
        types |= {"spatial_vector", "spatial_matrix"}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector", "matrix", "geometry"), types))
    kb.array_inputs(rng.choice((q, t)), rng.randint(1, 2))
    kb.array_inputs(v, 1)
    if "spatial_vector" in types:
        kb.array_inputs("spatial_vector", 1)
    kinds = {"assign": 4, "unpack": 1}
    return _program(kb, "geom", kb.rooted_type({q, t, v, f}, ("geometry",)), kinds, ("geometry",))


def control_flow_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 4, "float64": 1, "int32": 1})
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "int"), {t}))
    kb.array_inputs(t, rng.randint(1, 3))
    if rng.random() < profile.extra_prob:
        kb.count_param()
    out = kb.output(t)
    kb.outputs_written.append((out, t))
    kb.sink = t
    kinds = {"if": 3, "for": 2, "while": 1, "assign": 1}
    if rng.random() < 0.25:
        kb.emit_return(1, kinds)
    nesting = max(1, profile.nesting)
    kb.statements(1, nesting, {k: w for k, w in kinds.items() if k in BLOCK_STATEMENTS})
    kb.statements(rng.randint(*profile.statements) - 1, nesting, kinds)
    result = kb.use_all_locals(kb.expr(t), t)
    _store(kb, out, result)
    summary = _summary(kb, f"writes {result.phrase} to {out}[{kb.index}].")
    return kb.parts(_name("cf", (*kb.block.forms(), *result.ops)), summary)


def atomic_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 4, "int32": 1.5, "vec3": 1, "vec2": 0.5, "vec4": 0.5, "float64": 0.5})
    scalar = TYPES[t].scalar
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "int", "vector"), {t, scalar}))
    kb.array_inputs(scalar, rng.randint(1, 2))
    if t != scalar:
        kb.array_inputs(t, rng.randint(1, 2))
    target = rng.choice(("total", "acc", "bins", "hist"))
    kb.outputs.append((target, kb.array_annotation(t)))
    kb.atomic_targets.append((target, t))
    kb.statements(rng.randint(*profile.statements), 1, {"assign": 2, "if": 1})
    if rng.random() < 0.3:
        cond = kb.condition()
        with kb.emitting_into(Block()) as body:
            kb.emit_atomic(0, {})
        kb.emit(f"if {cond.code}:", cond, kind="if")
        kb.block.nest(body)
        kb.say(body.phrases[-1] + f" when {cond.phrase}")
    else:
        kb.emit_atomic(0, {})
    phrases = kb.block.phrases
    each = "For each element i" if kb.dims == 1 else f"For each ({kb.index})"
    summary = f"{each}, the kernel " + sentence(phrases[:-1], phrases[-1] + ".")
    return kb.parts(f"{kb.atomics[0]}_{t}", summary)


def struct_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 1})
    types = {f, grammar.vec(3, f), "int32"}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector", "convert"), types))
    fields = [f, rng.choice((f, grammar.vec(3, f))), *rng.sample([f, grammar.vec(3, f), "int32"], rng.randint(0, 2))]
    kb.struct_input(fields)
    kb.array_inputs(rng.choice((f, grammar.vec(3, f))), rng.randint(1, 2))
    out_type = rng.choice(sorted(types - {"int32"}))
    kinds = {"assign": 2, "for": 1, "if": 1}
    return _program(kb, "struct", out_type, kinds)


def func_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 3, "float64": 1, "vec3": 1})
    scalar = TYPES[t].scalar
    types = {t, scalar}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "math", "vector"), types))
    kb.array_inputs(t, rng.randint(1, 2))
    if t != scalar:
        kb.array_inputs(scalar, 1)
    for _ in range(rng.randint(1, 1 + profile.nesting)):
        arg_types = tuple(rng.choice(sorted(types)) for _ in range(rng.randint(1, 3)))
        op = kb.helper(rng.choice(sorted(types)), arg_types, kb.depth(), statements=rng.randint(0, profile.nesting))
        kb.bind(grammar.apply(rng, kb.scope, op, depth=2), op.result)
    result = kb.use_all_locals(kb.rooted(t, None, ("helper",)), t)
    out = kb.output(t)
    _store(kb, out, result)
    return kb.parts(_name("func", result.ops), _summary(kb, f"writes {result.phrase} to {out}."))


def multidim_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    dims = rng.choice((2, 2, 3))
    t = _pick(rng, {"float32": 3, "float64": 1, "vec3": 1})
    scalar = TYPES[t].scalar
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector"), {t, scalar}), dims=dims)
    kb.array_inputs(t, rng.randint(1, 2))
    if rng.random() < 0.6:
        kb.reducible_input(scalar)
    kinds = {"assign": 2, "reduce": 3, "if": 1, "for": 1}
    return _program(kb, f"grid{dims}d", t, kinds, min_statements=1 if kb.reducible else 0)


def mixed_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    """Everything at once: several types, helpers, structs, constants, blocks and atomics."""
    dims = rng.choice((1, 1, 2, 3))
    main = _pick(rng, {"float32": 4, "float64": 1, "int32": 1})
    extra = rng.sample(MIXED_EXTRA_TYPES, rng.randint(1, 3))
    types = {main, FLOAT, *extra}
    if "quat" in types or "transform" in types:
        types |= {"vec3"}
    seeded = rng.random() < 0.2  # random draws too
    groups = GROUPS + ("random", "noise") if seeded else GROUPS
    kb = KernelBuilder(rng, profile, grammar.ops_for(groups, types), dims=dims)
    if seeded:  # and one draw at least, so the state is read (float32 reaches every main type)
        kb.emit_random_init()
        kb.bind(kb.rooted(FLOAT, 1, ("random",)), FLOAT)
    for t in sorted(types - {FLOAT} | {main}):
        if rng.random() < 0.7 or t == main:
            kb.array_inputs(t, 1)
    if rng.random() < profile.extra_prob:
        kb.struct_input([FLOAT, rng.choice(("vec3", "int32", FLOAT))])
    if rng.random() < profile.extra_prob:
        kb.module_constant()
    if rng.random() < profile.extra_prob:
        kb.count_param()
    if rng.random() < 0.3:
        kb.reducible_input(FLOAT)
    if rng.random() < 0.3:
        target = rng.choice(("total", "acc", "hist"))
        kb.outputs.append((target, "wp.array(dtype=float)"))
        kb.atomic_targets.append((target, FLOAT))
    return _program(kb, "mixed", main, ALL_STATEMENTS, min_statements=2)


INTEGER_WEIGHTS = {"uint32": 3, "int16": 2, "uint8": 2, "int8": 1, "uint16": 1, "uint64": 1.5, "int64": 1, "int32": 1.5}


def integer_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    """Integers of every width: wrapping arithmetic, bit operations, masked shifts, conversions."""
    t = _pick(rng, INTEGER_WEIGHTS)
    types = {t, "int32", FLOAT}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("bits", "convert"), types))
    kb.array_inputs(t, rng.randint(1, 3))
    if t != "int32" and rng.random() < 0.4:
        kb.array_inputs("int32", 1)
    if rng.random() < 0.25:
        kb.array_inputs(FLOAT, 1)
    if t in ATOMIC_TYPES and rng.random() < 0.3:
        target = rng.choice(("bins", "flags", "masks"))
        kb.outputs.append((target, kb.array_annotation(t)))
        kb.atomic_targets.append((target, t))
    out_type = t if rng.random() < 0.7 else "int32"
    kinds = {"assign": 3, "if": 1, "for": 1, "atomic": 1}
    return _program(kb, f"int_{t}", out_type, kinds, ("bits",) if out_type == t else None)


def random_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    """Random numbers: a generator seeded from an argument and the thread, then draws, noise, samples."""
    types = {FLOAT, "vec2", "vec3"}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "math", "vector", "random", "noise"), types))
    kb.array_inputs(rng.choice((FLOAT, FLOAT, "vec3")), rng.randint(1, 2))
    if rng.random() < profile.extra_prob:
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
    scalar_ops = grammar.ops_for(("arith", "math"), {FLOAT})  # a function of each element, nothing block-wide
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
    kb.bind(grammar.apply(kb.rng, kb.scope, mapped, depth=2), bound)


def tile_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    """Block-cooperative tiles: rows or slices loaded, mapped, reduced, multiplied, stored."""
    two_d = rng.random() < 0.5
    shapes = [s for s in TILE_SHAPES if len(s) == (2 if two_d else 1)]
    loaded = {tile(s) for s in rng.sample(shapes, rng.randint(1, 2 if two_d else 1))}
    types = {tile(s) for s in shapes} | {FLOAT}  # products and transposes reach the other shapes
    kb = KernelBuilder(rng, replace(profile, helper_prob=0.0), grammar.ops_for(("tile",), types), const_prob=0.15)
    for t in sorted(loaded):
        kb.array_inputs(t, rng.randint(1, 2))
        kb.load_inputs(t)
    if rng.random() < profile.extra_prob:
        kb.scalar_param(FLOAT)
    out_type = rng.choice(sorted(loaded))
    if rng.random() < profile.helper_prob + 0.1:
        _tile_helper(kb, loaded, out_type)
    parts = _program(kb, "tile", out_type, {"assign": 1}, ("tile",))
    parts.name = parts.name.replace("_tile_", "_")  # tile_map_add, not tile_tile_map_add
    return parts


def query_kernel(rng: random.Random, profile: Profile) -> KernelParts:
    """Spatial queries on meshes, hash grids, BVHs and volumes passed as ``wp.uint64`` handles."""
    types = {FLOAT, "vec3"}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "math", "vector"), types))
    kb.array_inputs("vec3", 1, names=("points", "positions", "particles"))
    points = kb.inputs[-1][0]
    compact = profile.compact  # one query, nothing else
    if rng.random() < 0.4 and not compact:
        kb.array_inputs(FLOAT, 1)
    idioms = draw_idioms(rng)[:1] if compact else draw_idioms(rng)
    for idiom in idioms:
        QUERIES[idiom](kb, points)
    out_type = rng.choice((FLOAT, "vec3"))
    return _program(kb, f"query_{idioms[0]}", out_type, {"assign": 2, "if": 1})


GROUPS = ("arith", "math", "int", "bits", "bool", "convert", "select", "vector", "matrix", "geometry")
MIXED_EXTRA_TYPES = ["vec3", "mat33", "quat", "float16", "int32", "bool", "vec2", "transform", "uint32", "int16"]

# Each category's policy: what it draws, with one KernelBuilder.
CATEGORIES: dict[str, Callable[[random.Random, Profile], KernelParts]] = {
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
    parts = CATEGORIES[category](rng, profile)
    recipe = json.dumps({"category": category, "seed": seed, "index": index, **asdict(options)}, sort_keys=True)
    return KernelSpec(parts.name, category, parts.description, render(parts, options.include_backward), level, recipe)
