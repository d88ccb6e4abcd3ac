"""Kernels shaped like real ones, where the data comes from matters more than the arithmetic.

Each idiom is a category policy:
- ``stencil``: neighbours on a 1D-3D grid, borders clamped, wrapped or skipped;
- ``gather``: reads through index arrays, one or two levels, edges, vector components;
- ``scatter``: atomics through index arrays, collisions allowed;
- ``segment``: CSR offsets and a loop over each segment;
- ``integrate``: state updates with a time step, forces and damping (positions, velocities, rotations);
- ``assemble``: per-element contributions added into global vectors or block matrices through connectivity.

Bodies are short, expressions shallow, and intermediates named; the arithmetic on top comes from the
grammar at depth 1-2. Index and connectivity arrays are ``int`` arrays: the run check fills them with
in-range values, and an array read at ``i + 1`` (CSR offsets) with monotone ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from generation.generated import operations
from generation.generated.builder import KernelBuilder
from generation.generated.expressions import Expr, direction, named
from generation.generated.operations import FLOAT
from generation.generated.parts import KernelParts, Profile
from generation.generated.policy import Policy

VEC = "vec3"


def _builder(rng: random.Random, profile: Profile, policy: Policy, dims: int = 1) -> KernelBuilder:
    """The idiom's builder, its locals' names reserved, after the application layer's prologue."""
    ops = operations.ops_for(("arith", "vector"), {FLOAT, VEC})
    kb = KernelBuilder(rng, profile, ops, policy, dims=dims)
    kb.reserved = LOCAL_NAMES
    kb.prologue()
    return kb


def _ints(kb: KernelBuilder, ndim: int = 1) -> str:
    """An index (``ndim`` 1) or connectivity (2) array's annotation, in the kernel's form."""
    return kb.array_annotation("int32", ndim)


# The names the idioms give their locals, indices and loop variables: no argument takes one.
LOCAL_NAMES = {"center", "updated", "laplacian", "average", "gradient", "lo0", "hi0", "lo1", "hi1", "lo2", "hi2"}
LOCAL_NAMES |= {"n0", "n1", "n2", "a", "b", "c", "pa", "pb", "pc", "d", "dist", "j", "k", "v", "own", "w", "share"}
LOCAL_NAMES |= {"acc", "start", "end", "count", "q", "x", "e1", "e2", "area", "f", "fe", "block", "i", "m", "entry"}


def _free(kb: KernelBuilder, names: tuple[str, ...]) -> str:
    return kb.rng.choice(kb.unused(names))


def _input(kb: KernelBuilder, names: tuple[str, ...], annotation: str) -> str:
    name = _free(kb, names)
    kb.inputs.append((name, annotation))
    return name


def _param(kb: KernelBuilder, names: tuple[str, ...]) -> Expr:
    """A float argument (a coefficient, a time step), or a literal."""
    if kb.chance("literal_coefficient"):
        value = kb.rng.choice(("0.1", "0.25", "0.5", "0.01"))
        return Expr(value, value, const=True)
    name = _free(kb, names)
    kb.inputs.append((name, "float"))
    return named(name)


def _bind(
    kb: KernelBuilder,
    name: str,
    code: str,
    t: str | None,
    phrase: str,
    *read: Expr,
    along: str | None = None,
    terms: dict[str, int] | None = None,
) -> Expr:
    """``name = code``: a named intermediate. With a type it is a leaf the rest of the kernel reads
    (and folds in); an index (``t`` None) is read only where the idiom uses it. ``along``: the
    vector ``code`` is a multiple of (``Expr.along``; by default the local is ``code`` itself);
    ``terms``: what ``code`` sums, where it is a sum or difference (``Expr.terms``)."""
    kb.emit(f"{name} = {code}", *read)
    kb.say(f"sets {name} to {phrase}")
    if t is None:
        return named(name)
    summed = tuple(sorted(terms.items())) if terms else None
    local, _ = kb.new_local(name, t, along=along or code, terms=summed)
    return local


def _extras(kb: KernelBuilder, t: str, at: str | None = None) -> None:
    """What varies between real kernels of one idiom: another per-element input (read at ``at``,
    the element the idiom gathered, else the thread's own) or coefficient, and an intermediate or
    two computed from what has been read (shallow, named). A profile capped at no statements
    (``max_statements=0``, the smallest a length cap steers to) gets none of them; every draw
    is made first, so a cap never changes the kernels of an uncapped profile."""
    room = kb.profile.statements[1]
    if kb.chance("idiom_extra_input") and room:
        name = _free(kb, ("weight", "scale_of", "rate", "phase", "bias"))
        extra = kb.rng.choice((FLOAT, t))
        kb.inputs.append((name, kb.array_annotation(extra)))
        kb.scope.add_leaf(extra, named(name, code=f"{name}[{at or kb.index}]"))
    if kb.chance("idiom_coefficient") and room:
        coefficient = _param(kb, ("gain", "k_scale", "eps", "mix"))
        if not coefficient.const:
            kb.scope.add_leaf(FLOAT, coefficient)
    kb.sink = t
    kb.statements(min(kb.rng.randint(1, 2), room), 0, {"assign": 1})


def _value(kb: KernelBuilder, t: str) -> Expr:
    """A shallow expression of type ``t`` over what the kernel has read so far."""
    return kb.use_all_locals(kb.expr(t, min(kb.rng.randint(1, 2), kb.profile.depth[1])), t)


def _store(kb: KernelBuilder, prefix: str, t: str, at: str | None = None) -> KernelParts:
    """``out[i] = <a shallow expression that reads every intermediate>``."""
    _extras(kb, t, at)
    return kb.finish(prefix, _value(kb, t), t, names=2)


# -- stencil ------------------------------------------------------------------------------------

BORDERS = ("clamp", "wrap", "skip")


def stencil_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Neighbours along one or more axes of a 1D-3D grid, borders clamped, wrapped or skipped."""
    compact = profile.compact
    dims = 1 if compact else rng.choice((1, 2, 2, 3))
    t = FLOAT if compact else rng.choice((FLOAT, FLOAT, VEC))
    kb = _builder(rng, profile, policy, dims)
    field = _input(kb, ("u", "phi", "field", "temp"), kb.array_annotation(t))
    border, axes = rng.choice(BORDERS), sorted(rng.sample(range(dims), rng.randint(1, dims)))
    tids = kb.index.split(", ")
    for a in axes:
        kb.emit(f"n{a} = {field}.shape[{a}]", named(field))
    if border == "skip":
        edge = " or ".join(f"{tids[a]} == 0 or {tids[a]} >= n{a} - 1" for a in axes)
        kb.emit(f"if {edge}:", kind="if")
        kb.emit("    return")
        kb.say("returns on the border")
    center = _bind(kb, "center", f"{field}[{kb.index}]", t, f"{field}[{kb.index}]", named(field))
    neighbours = []
    for a in axes:
        i, n = tids[a], f"n{a}"
        steps = {
            "clamp": (f"wp.max({i} - 1, 0)", f"wp.min({i} + 1, {n} - 1)"),
            "wrap": (f"({i} - 1 + {n}) % {n}", f"({i} + 1) % {n}"),
            "skip": (f"{i} - 1", f"{i} + 1"),
        }[border]
        for side, step in zip(("lo", "hi"), steps, strict=True):
            index = ", ".join(step if b == a else tids[b] for b in range(dims))
            neighbours.append(_bind(kb, f"{side}{a}", f"{field}[{index}]", t, f"its {side} neighbour along axis {a}"))
    total = " + ".join(n.code for n in neighbours)
    shape = rng.choice(("laplacian", "average") if compact else ("laplacian", "average", "gradient"))
    weighted_center = f"center * {2.0 * len(axes)}"
    code = {
        "laplacian": f"{total} - {weighted_center}",
        "average": f"({total} + center) * {1.0 / (len(neighbours) + 1):.4f}",
        "gradient": f"({neighbours[1].code} - {neighbours[0].code}) * 0.5",
    }[shape]
    prefix = f"stencil{dims}d_{border}_{shape}"
    if compact:  # the stencil is what the kernel writes
        out = kb.output(t)
        kb.emit(f"{out}[{kb.index}] = {code}", *neighbours, center)
        return kb.parts(prefix, kb.summary(f"writes the {shape} of {field} to {out}."))
    sums = {n.code: 1 for n in neighbours} | {weighted_center: -1} if shape == "laplacian" else None
    stencil = _bind(kb, shape, code, t, f"the {shape} of {field}", *neighbours, center, terms=sums)
    coefficient = _param(kb, ("alpha", "kappa", "diffusivity"))
    change = f"{stencil.code} * {coefficient.code}"
    _bind(kb, "updated", f"center + {change}", t, "center plus its change", coefficient, terms={"center": 1, change: 1})
    return _store(kb, prefix, t)


# -- gather -------------------------------------------------------------------------------------


def gather_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Values read through index arrays: a permutation, a neighbour of a neighbour, an edge's ends."""
    t = rng.choice((FLOAT, VEC, VEC))
    kb = _builder(rng, profile, policy)
    source = _input(kb, ("pos", "values", "coords", "points"), kb.array_annotation(t))
    form = rng.choice(("index", "two_levels", "edge"))
    if form == "edge":
        edges = _input(kb, ("edges", "springs", "pairs"), _ints(kb, 2))
        a = _bind(kb, "a", f"{edges}[i, 0]", None, "the first end of edge i", named(edges))
        b = _bind(kb, "b", f"{edges}[i, 1]", None, "the second end of edge i", named(edges))
        pa = _bind(kb, "pa", f"{source}[{a.code}]", t, f"{source} at a", named(source))
        pb = _bind(kb, "pb", f"{source}[{b.code}]", t, f"{source} at b", named(source))
        if t == VEC:
            _bind(kb, "d", f"{pb.code} - {pa.code}", t, "the edge vector", terms={pb.code: 1, pa.code: -1})
            _bind(kb, "dist", "wp.length(d)", FLOAT, "its length")
    else:
        indices = _input(kb, ("indices", "ids", "perm", "lookup"), _ints(kb))
        j = _bind(kb, "j", f"{indices}[i]", None, f"{indices}[i]", named(indices))
        if form == "two_levels":
            second = _input(kb, ("neighbors", "parent", "next_id"), _ints(kb))
            j = _bind(kb, "k", f"{second}[{j.code}]", None, f"{second}[j]", named(second))
        value = _bind(kb, "v", f"{source}[{j.code}]", t, f"{source} at that index", named(source))
        if t == VEC and policy.chance(rng, "gather_component"):
            axis = rng.randrange(3)
            _bind(kb, "c", f"{value.code}[{axis}]", FLOAT, f"component {axis} of it")
        if policy.chance(rng, "gather_own"):
            _bind(kb, "own", f"{source}[i]", t, f"{source}[i]", named(source))
    at = "a" if form == "edge" else j.code
    return _store(kb, f"gather_{form}", rng.choice((t, FLOAT)) if t == VEC else t, at)


# -- scatter ------------------------------------------------------------------------------------


def scatter_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Contributions added into other elements' slots through an index array (collisions allowed)."""
    t = rng.choice((FLOAT, FLOAT, VEC))
    kb = _builder(rng, profile, policy)
    values = _input(kb, ("values", "weights", "contrib", "mass"), kb.array_annotation(t))
    value = _bind(kb, "v", f"{values}[i]", t, f"{values}[i]", named(values))
    if policy.chance(rng, "scatter_scaled"):
        scale = _param(kb, ("scale", "gain", "weight"))
        _bind(kb, "w", f"v * {scale.code}", t, f"v scaled by {scale.phrase}", scale, along=direction(value))
    _extras(kb, t)
    contribution = _value(kb, t)
    target = rng.choice(("accum", "sums", "force", "bins"))
    kb.outputs.append((target, kb.array_annotation(t)))  # atomics through an index array, not a target slot
    funcs = ["atomic_add", "atomic_sub", "augassign"] + (["atomic_max", "atomic_min"] if t == FLOAT else [])
    func = rng.choice(funcs)
    if policy.chance(rng, "scatter_edges"):
        edges = _input(kb, ("edges", "pairs", "springs"), _ints(kb, 2))
        a = _bind(kb, "a", f"{edges}[i, 0]", None, "the first end of edge i", named(edges))
        b = _bind(kb, "b", f"{edges}[i, 1]", None, "the second end of edge i", named(edges))
        share = _bind(kb, "share", contribution.code, None, contribution.phrase, contribution)
        kb.emit(f"wp.atomic_add({target}, {a.code}, {share.code})")
        kb.emit(f"wp.atomic_sub({target}, {b.code}, {share.code})")
        kb.say(f"adds share into {target}[a] and subtracts it from {target}[b]")
    else:
        targets = _input(kb, ("targets", "cell_of", "owner", "bucket"), _ints(kb))
        j = _bind(kb, "j", f"{targets}[i]", None, f"{targets}[i]", named(targets))
        if func == "augassign":
            kb.emit(f"{target}[{j.code}] += {contribution.code}", contribution)
        else:
            kb.emit(f"wp.{func}({target}, {j.code}, {contribution.code})", contribution)
        kb.say(f"atomically accumulates {contribution.phrase} into {target}[j] ({func})")
    return kb.parts(f"scatter_{func}_{t}", kb.summary())


# -- segment ------------------------------------------------------------------------------------


def segment_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """A loop over each row's segment of a CSR layout: sums, products with a gathered vector, maxima."""
    compact = profile.compact
    t = FLOAT if compact else rng.choice((FLOAT, FLOAT, VEC))
    kb = _builder(rng, profile, policy)
    offsets = _input(kb, ("offsets", "row_start", "indptr"), _ints(kb))
    value_type = FLOAT if policy.chance(rng, "segment_float_values") else t
    values = _input(kb, ("values", "entries", "data"), kb.array_annotation(value_type))
    start = _bind(kb, "start", f"{offsets}[i]", None, f"{offsets}[i]", named(offsets))
    end = _bind(kb, "end", f"{offsets}[i + 1]", None, f"{offsets}[i + 1]", named(offsets))
    forms = ("sum", "max") if compact else ("sum", "spmv", "max") if t == value_type == FLOAT else ("sum", "spmv")
    form = rng.choice(forms)
    zero = "float(0.0)" if t == FLOAT else "wp.vec3(0.0)"
    if form == "max":  # below any entry, as for a loop's maximum (from zero it dropped every negative one)
        zero = f"float({operations.accumulator_start(FLOAT, 'max')})"
    kb.emit(f"acc = {zero}")
    kb.emit(f"for k in range({start.code}, {end.code}):", kind="for")
    if form == "spmv":
        columns = _input(kb, ("columns", "indices", "col_idx"), _ints(kb))
        x = _input(kb, ("xs", "vec", "rhs"), kb.array_annotation(t))
        weight = f"{values}[k]" if value_type == FLOAT else f"wp.dot({values}[k], {x}[{columns}[k]])"
        term = f"{weight} * {x}[{columns}[k]]" if value_type == FLOAT else f"{x}[{columns}[k]] * {weight}"
        kb.emit(f"    acc += {term}", named(columns), named(x), named(values))
        kb.say(f"sums {values}[k] times {x} at {columns}[k] over the row's segment into acc")
    elif form == "sum" and value_type == t and not compact:  # an expression of each entry, summed
        with kb.nested_block(sink=t) as body:
            entry = _bind(kb, "entry", f"{values}[k]", t, f"{values}[k]", named(values))
            term = kb.use_all_locals(kb.expr(t, kb.rng.randint(1, 2)), t)
            kb.emit(f"acc += {term.code}", term, entry)
        kb.block.nest(body)
        kb.say(f"sums {term.phrase} over the entries of the row's segment into acc")
    elif form == "max":
        kb.emit(f"    acc = wp.max(acc, {values}[k])", named(values))
        kb.say(f"takes the largest of {values} over the row's segment into acc")
    else:
        term = f"{values}[k]" if value_type == t else f"wp.vec3({values}[k])"
        kb.emit(f"    acc += {term}", named(values))
        kb.say(f"sums {values} over the row's segment into acc")
    acc = kb.new_local("acc", t)[0]
    if compact:  # the reduction is what the kernel writes
        out = kb.output(t)
        kb.emit(f"{out}[i] = acc", acc)
        return kb.parts(f"segment_{form}", kb.summary(f"writes acc to {out}."))
    if policy.chance(rng, "segment_count"):
        _bind(kb, "count", f"float({end.code} - {start.code})", FLOAT, "the segment's length")
    return _store(kb, f"segment_{form}", t)


# -- integrate ----------------------------------------------------------------------------------


def integrate_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """One explicit time step of particles (semi-implicit Euler) or rigid rotations, written back."""
    kb = _builder(rng, profile, policy)
    dt = _param(kb, ("dt", "h", "step"))
    if policy.chance(rng, "integrate_rotation"):  # rotations: q <- normalize(q + 0.5 dt (omega, 0) q)
        rot = _input(kb, ("rot", "orient", "quats"), kb.array_annotation("quat"))
        omega = _input(kb, ("omega", "ang_vel", "spin"), kb.array_annotation("vec3"))
        _bind(kb, "q", f"{rot}[i]", None, f"{rot}[i]", named(rot))
        _bind(kb, "w", f"{omega}[i]", VEC, f"{omega}[i]", named(omega))
        kb.emit(f"q = wp.normalize(q + wp.quat(w, 0.0) * q * (0.5 * {dt.code}))", dt)
        kb.emit(f"{rot}[i] = q")
        kb.say(f"advances the rotation {rot}[i] by w over {dt.phrase} and writes it back")
        return _store(kb, "integrate_rotation", rng.choice((VEC, FLOAT)))
    pos = _input(kb, ("pos", "positions", "particle_q"), kb.array_annotation("vec3"))
    vel = _input(kb, ("vel", "velocities", "particle_qd"), kb.array_annotation("vec3"))
    force = _input(kb, ("force", "f", "particle_f"), kb.array_annotation("vec3"))
    _bind(kb, "v", f"{vel}[i]", VEC, f"{vel}[i]", named(vel))
    acceleration = f"{force}[i] * {_input(kb, ('inv_mass', 'w_inv', 'inv_m'), kb.array_annotation(FLOAT))}[i]"
    if policy.chance(rng, "gravity"):
        acceleration += " + wp.vec3(0.0, -9.8, 0.0)"
    _bind(kb, "a", acceleration, VEC, "the force over the mass", named(force), named(kb.inputs[-1][0]))
    if policy.chance(rng, "integrate_extra_force"):  # a function of the state so far: drag, a spring to rest
        _extras(kb, VEC)
        extra = kb.use_all_locals(kb.expr(VEC, 1), VEC)
        kb.emit(f"a = a + {extra.code}", extra)
        kb.say(f"adds {extra.phrase} to a")
    kb.emit(f"v = v + a * {dt.code}", dt)
    damping = rng.choice(("none", "factor", "drag", "material"))
    if damping == "factor":
        factor = _param(kb, ("damping", "decay"))
        kb.emit(f"v = v * {factor.code}", factor)
    elif damping == "material":  # a per-material coefficient, looked up through the particle's material
        material = _input(kb, ("material", "phase", "group_id"), _ints(kb))
        table = _input(kb, ("damping_of", "material_damping", "decay_by_phase"), kb.array_annotation(FLOAT))
        _bind(kb, "m", f"{material}[i]", None, f"{material}[i]", named(material))
        _bind(kb, "c", f"{table}[m]", None, "the damping of that material", named(table))
        kb.emit("v = v * c")
    elif damping == "drag":
        drag = _param(kb, ("drag", "mu"))
        kb.emit(f"v = v * (1.0 - {drag.code} * {dt.code})", drag, dt)
    _bind(kb, "x", f"{pos}[i] + v * {dt.code}", VEC, f"{pos}[i] moved by v over the step", named(pos), dt)
    kb.emit(f"{vel}[i] = v")
    kb.emit(f"{pos}[i] = x")
    kb.say(f"writes v and x back to {vel} and {pos}")
    kb.sink = VEC
    return kb.parts(f"integrate_{damping}", kb.summary())


# -- assemble -----------------------------------------------------------------------------------


def assemble_kernel(rng: random.Random, profile: Profile, policy: Policy) -> KernelParts:
    """Per-element contributions (areas, spring forces, block matrices) added into global arrays."""
    kb = _builder(rng, profile, policy)
    pos = _input(kb, ("pos", "coords", "vertices"), kb.array_annotation("vec3"))
    cells = _input(kb, ("tris", "elements", "cells", "faces"), _ints(kb, 2))
    compact = profile.compact
    form = "spring_force" if compact else rng.choice(("lumped_mass", "spring_force", "block_matrix"))
    ends = ("a", "b", "c") if form == "lumped_mass" else ("a", "b")
    for k, end in enumerate(ends):
        _bind(kb, end, f"{cells}[i, {k}]", None, f"vertex {k} of element i", named(cells))
    if compact:  # the spring's force from the two ends, added and subtracted
        stiffness = _param(kb, ("ke", "stiffness", "k_spring"))
        force = f"({pos}[b] - {pos}[a]) * {stiffness.code}"
        _bind(kb, "f", force, VEC, f"the edge times {stiffness.phrase}", named(pos), stiffness)
        _add_at_ends(kb, ("force", "f_out", "grad"), kb.array_annotation("vec3"), "f", "f")
        return kb.parts(f"assemble_{form}", kb.summary())
    for end in ends:
        _bind(kb, f"p{end}", f"{pos}[{end}]", VEC, f"{pos}[{end}]", named(pos))
    edge = _bind(kb, "e1", "pb - pa", VEC, "the first edge", terms={"pb": 1, "pa": -1})
    if form == "lumped_mass":
        _bind(kb, "e2", "pc - pa", VEC, "the second edge", terms={"pc": 1, "pa": -1})
        _bind(kb, "area", "0.5 * wp.length(wp.cross(e1, e2))", FLOAT, "the triangle's area")
        _extras(kb, FLOAT, "a")
        value = _value(kb, FLOAT)
        share = _bind(kb, "share", f"{value.code} / 3.0", None, f"a third of {value.phrase}", value)
        target = kb.rng.choice(("mass", "weights", "area_sum"))
        kb.outputs.append((target, kb.array_annotation(FLOAT)))
        for end in ends:
            kb.emit(f"wp.atomic_add({target}, {end}, {share.code})")
        kb.say(f"adds share to {target} at each vertex")
    elif form == "spring_force":
        stiffness = _param(kb, ("ke", "stiffness", "k_spring"))
        _bind(
            kb,
            "f",
            f"e1 * {stiffness.code}",
            VEC,
            f"the edge times {stiffness.phrase}",
            stiffness,
            along=direction(edge),
        )
        _extras(kb, VEC, "a")
        value = _value(kb, VEC)
        _bind(kb, "fe", value.code, None, value.phrase, value)
        _add_at_ends(kb, ("force", "f_out", "grad"), kb.array_annotation("vec3"), "fe", "fe")
    else:
        _extras(kb, FLOAT, "b")
        factor = _value(kb, FLOAT)
        _bind(
            kb,
            "block",
            f"wp.outer(e1, e1) * {factor.code}",
            None,
            f"the edge's outer product times {factor.phrase}",
            factor,
        )
        _add_at_ends(kb, ("stiffness", "hessian", "blocks"), kb.array_annotation("mat33"), "block", "the block")
    return kb.parts(f"assemble_{form}", kb.summary())


def _add_at_ends(kb: KernelBuilder, names: tuple[str, ...], annotation: str, value: str, words: str) -> None:
    """What an element adds into a global array at its first end, it takes away at its second."""
    target = kb.rng.choice(names)
    kb.outputs.append((target, annotation))
    kb.emit(f"wp.atomic_add({target}, a, {value})")
    kb.emit(f"wp.atomic_sub({target}, b, {value})")
    kb.say(f"adds {words} to {target}[a] and subtracts it from {target}[b]")


IDIOMS: dict[str, Callable[[random.Random, Profile], KernelParts]] = {
    "stencil": stencil_kernel,
    "gather": gather_kernel,
    "scatter": scatter_kernel,
    "segment": segment_kernel,
    "integrate": integrate_kernel,
    "assemble": assemble_kernel,
}
