"""Typed expression grammar: a table of Warp types, a table of operations with their signatures,
and a random expression builder over them that writes code and an English phrase from one tree.

Every operation is well defined on any finite input: divisions, roots, logs, exponentials and
inverse trig functions are guarded in their template (``x / (wp.abs(y) + 1.0)``, ...), and
float16 only gets operations that cannot grow a value past its range. Literals in templates
are written ``{L[1.0]}`` and rendered in the operation's scalar type (``wp.float64(1.0)``),
since Warp does not mix a float64 with a float32 literal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# Types


@dataclass(frozen=True)
class WType:
    """A Warp value type as the grammar sees it."""

    name: str  # grammar key and Warp name: "float32", "vec3d", "quat", "spatial_matrix", ...
    annotation: str  # how a signature writes it: "float", "wp.vec3d"
    kind: str  # float | int | bool | vector | matrix | quat | transform
    scalar: str  # the scalar type of its components (itself for scalars)
    size: int = 1  # components of a vector/quat/transform, rows of a (square) matrix

    @property
    def components(self) -> int:
        return self.size * self.size if self.kind == "matrix" else self.size


# Warp's names for the float types a vector, matrix, quaternion or transform can hold.
_FLOAT_SUFFIX = {"float32": "", "float64": "d"}
_SCALAR_ANNOTATION = {"float32": "float", "int32": "int", "bool": "bool"}


def _types() -> dict[str, WType]:
    table = [WType(s, _SCALAR_ANNOTATION.get(s, f"wp.{s}"), k, s) for s, k in SCALAR_KINDS.items()]
    for scalar, suffix in _FLOAT_SUFFIX.items():
        for n in (2, 3, 4):
            table.append(WType(f"vec{n}{suffix}", f"wp.vec{n}{suffix}", "vector", scalar, n))
            table.append(WType(f"mat{n}{n}{suffix}", f"wp.mat{n}{n}{suffix}", "matrix", scalar, n))
        table.append(WType(f"quat{suffix}", f"wp.quat{suffix}", "quat", scalar, 4))
        table.append(WType(f"transform{suffix}", f"wp.transform{suffix}", "transform", scalar, 7))
    table.append(WType("spatial_vector", "wp.spatial_vector", "vector", "float32", 6))
    table.append(WType("spatial_matrix", "wp.spatial_matrix", "matrix", "float32", 6))
    return {t.name: t for t in table}


SCALAR_KINDS = {
    "float32": "float",
    "float64": "float",
    "float16": "float",
    "int32": "int",
    "int64": "int",
    "bool": "bool",
}
TYPES: dict[str, WType] = _types()
FLOAT = "float32"
FLOAT_TYPES = ("float32", "float64", "float16")
INT_TYPES = ("int32", "int64")


def vec(n: int, scalar: str = FLOAT) -> str:
    return "spatial_vector" if n == 6 else f"vec{n}{_FLOAT_SUFFIX[scalar]}"


def mat(n: int, scalar: str = FLOAT) -> str:
    return "spatial_matrix" if n == 6 else f"mat{n}{n}{_FLOAT_SUFFIX[scalar]}"


def quat(scalar: str = FLOAT) -> str:
    return f"quat{_FLOAT_SUFFIX[scalar]}"


def transform(scalar: str = FLOAT) -> str:
    return f"transform{_FLOAT_SUFFIX[scalar]}"


def annotation(type_name: str) -> str:
    """How a grammar type is written in a Warp signature."""
    return TYPES[type_name].annotation


def literal(scalar: str, value: str) -> str:
    """A literal of a scalar type: bare where Warp infers it (float32, int32, bool), else wrapped."""
    return value if scalar in _SCALAR_ANNOTATION else f"wp.{scalar}({value})"


class Literals:
    """``{L[1.0]}`` in a template: the literal in one scalar type (``wp.float64(1.0)``)."""

    def __init__(self, scalar: str | None):
        self.scalar = scalar

    def __getitem__(self, value: str) -> str:
        return value if self.scalar is None else literal(self.scalar, value)


PLAIN = Literals(None)

FLOAT_CONSTANTS = ("0.5", "1.0", "2.0", "3.0", "0.25", "0.1", "1.5", "-1.0", "-0.5", "4.0", "0.75", "10.0")
INT_CONSTANTS = ("1", "2", "3", "4", "5", "7", "8", "-1", "-2", "16")


# ---------------------------------------------------------------------------------------------
# Operations


@dataclass(frozen=True)
class Op:
    """One operation: its result and argument types, code template and English phrase."""

    key: str  # unique: base name and types
    base: str  # the operation's name for kernel names and statistics (``dot``, ``add``)
    result: str
    args: tuple[str, ...]
    template: str
    phrase: str
    group: str
    scalar: str | None = None  # the scalar type of the template's {L[...]} literals
    weight: float = 1.0
    reads: frozenset[str] = frozenset()  # names the template itself reads (a helper's struct argument)


def _ops(group: str, scalar: str | None, rows: list[tuple], weight: float = 1.0) -> list[Op]:
    """Operations from ``(base, result, args, template, phrase)`` rows."""
    return [
        Op(f"{base}:{result}:{','.join(args)}", base, result, tuple(args), template, phrase, group, scalar, weight)
        for base, result, args, template, phrase in rows
    ]


# float16 gets no operation that can grow a value without bound (products, exponentials, ...).
_GROWING = {"mul", "div", "exp", "pow", "cbrt", "atan2", "log2"}


def _float_ops(f: str) -> list[Op]:
    arith = [
        ("add", f, (f, f), "({0} + {1})", "the sum of {0} and {1}"),
        ("sub", f, (f, f), "({0} - {1})", "{0} minus {1}"),
        ("mul", f, (f, f), "({0} * {1})", "the product of {0} and {1}"),
        ("div", f, (f, f), "({0} / (wp.abs({1}) + {L[1.0]}))", "{0} divided by one plus the magnitude of {1}"),
        ("min", f, (f, f), "wp.min({0}, {1})", "the smaller of {0} and {1}"),
        ("max", f, (f, f), "wp.max({0}, {1})", "the larger of {0} and {1}"),
        ("abs", f, (f,), "wp.abs({0})", "the absolute value of {0}"),
        ("neg", f, (f,), "(-{0})", "the negation of {0}"),
        ("sqrt", f, (f,), "wp.sqrt(wp.abs({0}))", "the square root of the magnitude of {0}"),
        ("sin", f, (f,), "wp.sin({0})", "the sine of {0}"),
        ("cos", f, (f,), "wp.cos({0})", "the cosine of {0}"),
        ("exp", f, (f,), "wp.exp(wp.clamp({0}, {L[-8.0]}, {L[8.0]}))", "e to the power of {0} clamped to [-8, 8]"),
        ("log", f, (f,), "wp.log(wp.abs({0}) + {L[1.0]})", "the natural log of one plus the magnitude of {0}"),
    ]
    math = [
        ("tanh", f, (f,), "wp.tanh({0})", "the hyperbolic tangent of {0}"),
        ("atan", f, (f,), "wp.atan({0})", "the arctangent of {0}"),
        ("asin", f, (f,), "wp.asin(wp.clamp({0}, {L[-1.0]}, {L[1.0]}))", "the arcsine of {0} clamped to [-1, 1]"),
        ("acos", f, (f,), "wp.acos(wp.clamp({0}, {L[-1.0]}, {L[1.0]}))", "the arccosine of {0} clamped to [-1, 1]"),
        ("floor", f, (f,), "wp.floor({0})", "the floor of {0}"),
        ("ceil", f, (f,), "wp.ceil({0})", "the ceiling of {0}"),
        ("cbrt", f, (f,), "wp.cbrt({0})", "the cube root of {0}"),
        ("sign", f, (f,), "wp.sign({0})", "the sign of {0}"),
        ("log2", f, (f,), "wp.log2(wp.abs({0}) + {L[1.0]})", "the base-2 log of one plus the magnitude of {0}"),
        ("atan2", f, (f, f), "wp.atan2({0}, {1})", "the angle of the point ({1}, {0})"),
        (
            "pow",
            f,
            (f, f),
            "wp.pow(wp.abs({0}) + {L[1.0]}, wp.clamp({1}, {L[-2.0]}, {L[2.0]}))",
            "one plus the magnitude of {0} raised to {1} clamped to [-2, 2]",
        ),
        (
            "lerp",
            f,
            (f, f, f),
            "wp.lerp({0}, {1}, wp.clamp({2}, {L[0.0]}, {L[1.0]}))",
            "the blend of {0} and {1} by {2}",
        ),
        ("smoothstep", f, (f,), "wp.smoothstep({L[0.0]}, {L[1.0]}, {0})", "the smoothstep of {0} over [0, 1]"),
    ]
    if f == "float16":
        arith = [row for row in arith if row[0] not in _GROWING]
        math = [row for row in math if row[0] not in _GROWING]
    return _ops("arith", f, arith) + _ops("math", f, math)


def _int_ops(t: str) -> list[Op]:
    rows = [
        ("add", t, (t, t), "({0} + {1})", "the sum of {0} and {1}"),
        ("sub", t, (t, t), "({0} - {1})", "{0} minus {1}"),
        ("mul", t, (t, t), "({0} * {1})", "the product of {0} and {1}"),
        ("floordiv", t, (t, t), "({0} // (wp.abs({1}) + {L[1]}))", "{0} floor-divided by one plus |{1}|"),
        ("mod", t, (t, t), "({0} % (wp.abs({1}) + {L[1]}))", "{0} modulo one plus |{1}|"),
        ("min", t, (t, t), "wp.min({0}, {1})", "the smaller of {0} and {1}"),
        ("max", t, (t, t), "wp.max({0}, {1})", "the larger of {0} and {1}"),
        ("abs", t, (t,), "wp.abs({0})", "the absolute value of {0}"),
        ("bit_and", t, (t, t), "({0} & {1})", "the bitwise and of {0} and {1}"),
        ("bit_or", t, (t, t), "({0} | {1})", "the bitwise or of {0} and {1}"),
        ("bit_xor", t, (t, t), "({0} ^ {1})", "the bitwise xor of {0} and {1}"),
        ("clamp", t, (t,), "wp.clamp({0}, {L[-100]}, {L[100]})", "{0} clamped to [-100, 100]"),
    ]
    return _ops("int", t, rows)


def _bool_ops() -> list[Op]:
    rows = [
        ("and", "bool", ("bool", "bool"), "({0} and {1})", "both {0} and {1}"),
        ("or", "bool", ("bool", "bool"), "({0} or {1})", "{0} or {1}"),
        ("not", "bool", ("bool",), "(not {0})", "not {0}"),
    ]
    for t in ("float32", "float64", "int32", "int64"):
        rows += [
            ("gt", "bool", (t, t), "({0} > {1})", "{0} is greater than {1}"),
            ("lt", "bool", (t, t), "({0} < {1})", "{0} is less than {1}"),
            ("ge", "bool", (t, t), "({0} >= {1})", "{0} is at least {1}"),
        ]
    return _ops("bool", None, rows, weight=0.5)


def _convert_ops() -> list[Op]:
    rows = [
        ("to_float64", "float64", ("float32",), "wp.float64({0})", "{0} as a double"),
        ("to_float32", "float32", ("float64",), "wp.float32({0})", "{0} as a float"),
        ("to_float32", "float32", ("float16",), "wp.float32({0})", "{0} as a float"),
        ("to_float16", "float16", ("float32",), "wp.float16(wp.clamp({0}, -1000.0, 1000.0))", "{0} as a half"),
        ("to_float32", "float32", ("int32",), "float({0})", "{0} as a float"),
        ("to_float64", "float64", ("int64",), "wp.float64({0})", "{0} as a double"),
        ("to_int32", "int32", ("float32",), "int(wp.floor(wp.clamp({0}, -1000.0, 1000.0)))", "the floor of {0}"),
        ("to_int64", "int64", ("int32",), "wp.int64({0})", "{0} as a 64-bit integer"),
        ("to_int32", "int32", ("int64",), "wp.int32(wp.clamp({0}, wp.int64(-1000), wp.int64(1000)))", "{0} as int"),
        ("to_float32", "float32", ("bool",), "wp.where({0}, 1.0, 0.0)", "one if {0} else zero"),
    ]
    return _ops("convert", None, rows, weight=0.5)


def _select_ops() -> list[Op]:
    types = ("float32", "float64", "float16", "int32", "int64", "vec3", "vec3d")
    rows = [("select", t, ("bool", t, t), "wp.where({0}, {1}, {2})", "{1} if {0} else {2}") for t in types]
    return _ops("select", None, rows, weight=0.5)


def _vector_ops(n: int, f: str) -> list[Op]:
    v, m = vec(n, f), mat(n, f)
    vector = [
        ("vadd", v, (v, v), "({0} + {1})", "the vector sum of {0} and {1}"),
        ("vsub", v, (v, v), "({0} - {1})", "the vector difference of {0} and {1}"),
        ("vscale", v, (v, f), "({0} * {1})", "{0} scaled by {1}"),
        ("vneg", v, (v,), "(-{0})", "the negated vector {0}"),
        ("dot", f, (v, v), "wp.dot({0}, {1})", "the dot product of {0} and {1}"),
        ("component", f, (v,), "{0}[{k}]", "component {k} of {0}"),
    ]
    matrix = [
        ("matvec", v, (m, v), "({0} @ {1})", "the matrix {0} applied to {1}"),
        ("matmat", m, (m, m), "({0} @ {1})", "the matrix product of {0} and {1}"),
        ("transpose", m, (m,), "wp.transpose({0})", "the transpose of {0}"),
        ("madd", m, (m, m), "({0} + {1})", "the matrix sum of {0} and {1}"),
        ("mscale", m, (m, f), "({0} * {1})", "{0} scaled by {1}"),
        ("row", v, (m,), "{0}[{k}]", "row {k} of {0}"),
    ]
    if n == 6:  # spatial vectors: a twist or wrench of two 3-vectors
        vector += [
            ("spatial_top", "vec3", (v,), "wp.spatial_top({0})", "the top half of {0}"),
            ("spatial_bottom", "vec3", (v,), "wp.spatial_bottom({0})", "the bottom half of {0}"),
            ("spatial_cross", v, (v, v), "wp.spatial_cross({0}, {1})", "the spatial cross product of {0} and {1}"),
        ]
        return _ops("vector", f, vector, 0.5) + _ops("matrix", f, matrix, 0.5)
    vector += [
        ("cw_mul", v, (v, v), "wp.cw_mul({0}, {1})", "the component-wise product of {0} and {1}"),
        ("vmin", v, (v, v), "wp.min({0}, {1})", "the component-wise minimum of {0} and {1}"),
        ("vmax", v, (v, v), "wp.max({0}, {1})", "the component-wise maximum of {0} and {1}"),
        ("normalize", v, (v,), "wp.normalize({0})", "the unit vector along {0}"),
        ("length", f, (v,), "wp.length({0})", "the length of {0}"),
        ("length_sq", f, (v,), "wp.length_sq({0})", "the squared length of {0}"),
    ]
    matrix += [
        ("outer", m, (v, v), "wp.outer({0}, {1})", "the outer product of {0} and {1}"),
        ("diag", m, (v,), "wp.diag({0})", "the diagonal matrix with entries {0}"),
        ("determinant", f, (m,), "wp.determinant({0})", "the determinant of {0}"),
        ("trace", f, (m,), "wp.trace({0})", "the trace of {0}"),
        ("ddot", f, (m, m), "wp.ddot({0}, {1})", "the double dot product of {0} and {1}"),
    ]
    if n == 3:
        vector.append(("cross", v, (v, v), "wp.cross({0}, {1})", "the cross product of {0} and {1}"))
    return _ops("vector", f, vector) + _ops("matrix", f, matrix)


def _geometry_ops(f: str) -> list[Op]:
    v, q, t, m = vec(3, f), quat(f), transform(f), mat(3, f)
    rows = [
        ("quat_mul", q, (q, q), "({0} * {1})", "the rotation {0} composed with {1}"),
        ("quat_inverse", q, (q,), "wp.quat_inverse({0})", "the inverse rotation of {0}"),
        ("quat_normalize", q, (q,), "wp.normalize({0})", "the unit quaternion along {0}"),
        (
            "quat_from_axis_angle",
            q,
            (v, f),
            "wp.quat_from_axis_angle(wp.normalize({0}), {1})",
            "the rotation about {0} by angle {1}",
        ),
        ("quat_rotate", v, (q, v), "wp.quat_rotate(wp.normalize({0}), {1})", "{1} rotated by {0}"),
        ("quat_rotate_inv", v, (q, v), "wp.quat_rotate_inv(wp.normalize({0}), {1})", "{1} rotated back by {0}"),
        ("quat_to_matrix", m, (q,), "wp.quat_to_matrix(wp.normalize({0}))", "the rotation matrix of {0}"),
        ("quat_dot", f, (q, q), "wp.dot({0}, {1})", "the dot product of quaternions {0} and {1}"),
        (
            "make_transform",
            t,
            (v, q),
            f"wp.{t}({{0}}, wp.normalize({{1}}))",
            "the transform moving by {0} rotating by {1}",
        ),
        ("transform_mul", t, (t, t), "({0} * {1})", "the transform {0} composed with {1}"),
        ("transform_inverse", t, (t,), "wp.transform_inverse({0})", "the inverse of the transform {0}"),
        ("transform_point", v, (t, v), "wp.transform_point({0}, {1})", "the point {1} moved by {0}"),
        ("transform_vector", v, (t, v), "wp.transform_vector({0}, {1})", "the direction {1} rotated by {0}"),
        ("transform_translation", v, (t,), "wp.transform_get_translation({0})", "the translation of {0}"),
        ("transform_rotation", q, (t,), "wp.transform_get_rotation({0})", "the rotation of {0}"),
    ]
    return _ops("geometry", f, rows)


OPS: tuple[Op, ...] = tuple(
    [op for f in FLOAT_TYPES for op in _float_ops(f)]
    + [op for t in INT_TYPES for op in _int_ops(t)]
    + _bool_ops()
    + _convert_ops()
    + _select_ops()
    + [op for f in _FLOAT_SUFFIX for n in (2, 3, 4) for op in _vector_ops(n, f)]
    + _vector_ops(6, FLOAT)
    + [op for f in _FLOAT_SUFFIX for op in _geometry_ops(f)]
)


def ops_for(groups: tuple[str, ...], types: tuple[str, ...] | set[str]) -> list[Op]:
    """The operations of ``groups`` whose result and arguments all have one of ``types``."""
    allowed = set(types)
    return [op for op in OPS if op.group in groups and op.result in allowed and set(op.args) <= allowed]


# ---------------------------------------------------------------------------------------------
# Expressions


@dataclass(frozen=True)
class Expr:
    """A rendered expression: Warp code, an English phrase, the operations it uses, and the
    names (inputs, locals) it reads, recorded as it is built rather than searched for in code."""

    code: str
    phrase: str
    ops: tuple[str, ...] = ()
    const: bool = False
    reads: frozenset[str] = frozenset()


def named(name: str, phrase: str | None = None, code: str | None = None, **fields) -> Expr:
    """A leaf that reads ``name``: an argument, a local, ``a[i]`` or ``params.gain``."""
    return Expr(code or name, phrase or code or name, reads=frozenset([name]), **fields)


@dataclass
class Scope:
    """What an expression may refer to: typed leaves (inputs, locals) and allowed operations."""

    leaves: dict[str, list[Expr]] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)
    const_prob: float = 0.2

    def add_leaf(self, type_name: str, leaf: Expr) -> None:
        self.leaves.setdefault(type_name, []).append(leaf)

    def ops_returning(self, type_name: str, groups: tuple[str, ...] | None = None) -> list[Op]:
        return [op for op in self.ops if op.result == type_name and (groups is None or op.group in groups)]

    def copy(self) -> Scope:
        """A nested block's scope: locals it declares stay inside it."""
        return Scope({t: list(v) for t, v in self.leaves.items()}, self.ops, self.const_prob)


def constant(rng: random.Random, type_name: str) -> Expr:
    """A literal of ``type_name``: a scalar, or a vector, matrix, quaternion or transform of literals."""
    t = TYPES[type_name]
    if t.kind == "bool":
        value = rng.choice(("True", "False"))
        return Expr(value, value, const=True)
    if t.kind in ("float", "int"):
        value = rng.choice(FLOAT_CONSTANTS if t.kind == "float" else INT_CONSTANTS)
        return Expr(literal(t.scalar, value), value, const=True)
    if t.kind == "transform":
        position, rotation = constant(rng, vec(3, t.scalar)), constant(rng, quat(t.scalar))
        return Expr(f"wp.{t.name}({position.code}, {rotation.code})", f"the constant {t.name}", const=True)
    values = [rng.choice(FLOAT_CONSTANTS) for _ in range(t.components)]
    code = f"wp.{t.name}({', '.join(literal(t.scalar, v) for v in values)})"
    return Expr(code, f"the constant {t.name}({', '.join(values)})", const=True)


def leaf(rng: random.Random, scope: Scope, type_name: str, allow_const: bool = True) -> Expr:
    candidates = scope.leaves.get(type_name, [])
    if candidates and not (allow_const and rng.random() < scope.const_prob):
        return rng.choice(candidates)
    return constant(rng, type_name)


def choose(rng: random.Random, ops: list[Op]) -> Op:
    return rng.choices(ops, weights=[op.weight for op in ops])[0]


def expression(rng: random.Random, scope: Scope, type_name: str, depth: int, allow_const: bool = False) -> Expr:
    """A random expression of ``type_name`` at most ``depth`` operations deep.

    Unless ``allow_const``, the expression reads at least one input or local where the scope
    has one, so no kernel computes a constant the compiler would fold away.
    Constants appear only as leaves: an operation always reads data, so no subtree is a
    computation on literals alone (``wp.abs(1.0) + 1.0``).
    """
    ops = scope.ops_returning(type_name)
    has_leaf = bool(scope.leaves.get(type_name))
    if allow_const and (not has_leaf or rng.random() < scope.const_prob):
        return constant(rng, type_name)
    if not allow_const:
        ops = reading_ops(scope, ops)
    if depth <= 0 or not ops or (has_leaf and rng.random() < 0.15):
        return leaf(rng, scope, type_name, allow_const=False)
    return apply(rng, scope, choose(rng, ops), depth)


def _readable(scope: Scope, types: tuple[str, ...]) -> list[int]:
    """Which of ``types`` have leaves (inputs, locals) an argument of that type can read."""
    return [k for k, t in enumerate(types) if scope.leaves.get(t)]


def reading_ops(scope: Scope, ops: list[Op]) -> list[Op]:
    """The operations that can read data: an argument type has leaves (all of ``ops`` if none can)."""
    return [op for op in ops if _readable(scope, op.args)] or ops


def apply(
    rng: random.Random,
    scope: Scope,
    op: Op,
    depth: int,
    fixed: dict[int, Expr] | None = None,
    allow_const: bool = False,
) -> Expr:
    """Render ``op``: the ``fixed`` arguments as given, the others as random sub-expressions.

    One argument (the anchor) must read data; the others may be constants.
    """
    fixed = fixed or {}
    needs_data = not allow_const and not any(not e.const for e in fixed.values())
    readable = _readable(scope, op.args) or list(range(len(op.args)))
    for _attempt in range(3):  # avoid degenerate twins such as wp.max(y[i], y[i])
        anchor = rng.choice(readable)
        args = [
            fixed[k]
            if k in fixed
            else expression(rng, scope, t, depth - 1, allow_const=not (needs_data and k == anchor))
            for k, t in enumerate(op.args)
        ]
        if len(args) < 2 or len({a.code for a in args}) > 1:
            break
    k = rng.randrange(TYPES[op.args[0]].size) if "{k}" in op.template else 0
    code = op.template.format(*(a.code for a in args), k=k, L=Literals(op.scalar))
    phrase = op.phrase.format(*(a.phrase for a in args), k=k, L=PLAIN)
    used = tuple(o for a in args for o in a.ops)
    reads = op.reads.union(*(a.reads for a in args))
    return Expr(code, phrase, (op.base, *used), const=all(a.const for a in args), reads=reads)


def reachable(scope: Scope, part_type: str, type_name: str, hops: int = 2) -> bool:
    """Whether ``convert`` can bring a value of ``part_type`` to ``type_name``."""
    if part_type == type_name:
        return True
    takers = {op.result for op in scope.ops if part_type in op.args and op.group != "helper"}
    return hops > 0 and any(reachable(scope, t, type_name, hops - 1) for t in takers)


def convert(rng: random.Random, scope: Scope, part: Expr, part_type: str, type_name: str, hops: int = 2) -> Expr | None:
    """``part`` brought to ``type_name`` by at most ``hops`` operations that take it, or None."""
    if part_type == type_name:
        return part
    if hops == 0:
        return None
    takers = [op for op in scope.ops if part_type in op.args and op.group != "helper"]
    direct = [op for op in takers if op.result == type_name]
    for op in [choose(rng, direct)] if direct else rng.sample(takers, len(takers)):
        step = apply(rng, scope, op, depth=1, fixed={op.args.index(part_type): part}, allow_const=True)
        result = convert(rng, scope, step, op.result, type_name, hops - 1)
        if result is not None:
            return result
    return None


def involve(rng: random.Random, scope: Scope, expr: Expr, type_name: str, part: Expr, part_type: str) -> Expr:
    """Combine ``expr`` with ``part`` so that the result reads ``part`` (a local, a loop index).

    ``part`` is first brought to ``type_name`` by an operation that takes it (``wp.length`` for
    a vector into a float, say), then joined to ``expr`` by a binary operation on that type.
    """
    if part.reads <= expr.reads:
        return expr
    part = convert(rng, scope, part, part_type, type_name)
    if part is None:
        return expr
    joins = [op for op in scope.ops_returning(type_name) if op.args == (type_name, type_name) and op.group != "helper"]
    if not joins:
        return expr
    pair = [expr, part] if rng.random() < 0.5 else [part, expr]
    return apply(rng, scope, choose(rng, joins), depth=1, fixed={0: pair[0], 1: pair[1]})
