"""Typed expression grammar: a table of Warp types, a table of operations with their signatures,
and a random expression builder over them that writes code and an English phrase from one tree.

Every operation is well defined on any finite input: divisions, roots, logs, exponentials and
inverse trig functions are guarded in their template (``x / (wp.abs(y) + 1.0)``, ...), and
float16 only gets operations that cannot grow a value past its range. Literals in templates
are written ``{L[1.0]}`` and rendered in the operation's scalar type (``wp.float64(1.0)``),
since Warp does not mix a float64 with a float32 literal.
"""

from __future__ import annotations

import ast
import functools
import random
from dataclasses import dataclass, field, replace

# ---------------------------------------------------------------------------------------------
# Types: Warp's, by name (``source/warp_types.py``), and how the grammar writes and groups them
from generation.source.warp_types import FLOAT_SUFFIX, SCALAR_ANNOTATION, TILE_SHAPES, TYPES, tile


def tile_shape(shape: tuple[int, ...]) -> str:
    """How a tile builtin's ``shape=`` argument writes it: ``8`` or ``(4, 8)``."""
    return str(shape[0]) if len(shape) == 1 else str(shape)


FLOAT = "float32"
FLOAT_TYPES = ("float32", "float64", "float16")
INT_TYPES = ("int32", "int64")  # the integers of the arithmetic families
WIDTH_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")  # the integer family
UNSIGNED_TYPES = ("uint8", "uint16", "uint32", "uint64")


def vec(n: int, scalar: str = FLOAT) -> str:
    return "spatial_vector" if n == 6 else f"vec{n}{FLOAT_SUFFIX[scalar]}"


def mat(n: int, scalar: str = FLOAT) -> str:
    return "spatial_matrix" if n == 6 else f"mat{n}{n}{FLOAT_SUFFIX[scalar]}"


def quat(scalar: str = FLOAT) -> str:
    return f"quat{FLOAT_SUFFIX[scalar]}"


def transform(scalar: str = FLOAT) -> str:
    return f"transform{FLOAT_SUFFIX[scalar]}"


def annotation(type_name: str) -> str:
    """How a grammar type is written in a Warp signature."""
    return TYPES[type_name].annotation


def literal(scalar: str, value: str) -> str:
    """A literal of a scalar type: bare where Warp infers it (float32, int32, bool), else wrapped."""
    return value if scalar in SCALAR_ANNOTATION else f"wp.{scalar}({value})"


class Literals:
    """``{L[1.0]}`` in a template: the literal in one scalar type (``wp.float64(1.0)``)."""

    def __init__(self, scalar: str | None):
        self.scalar = scalar

    def __getitem__(self, value: str) -> str:
        return value if self.scalar is None else literal(self.scalar, value)


PLAIN = Literals(None)

FLOAT_CONSTANTS = ("0.5", "1.0", "2.0", "3.0", "0.25", "0.1", "1.5", "-1.0", "-0.5", "4.0", "0.75", "10.0")
INT_CONSTANTS = ("1", "2", "3", "4", "5", "7", "8", "-1", "-2", "16")
UINT_CONSTANTS = ("1", "2", "3", "4", "5", "7", "8", "16", "255")


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

    @functools.cached_property
    def calls(self) -> tuple[str | None, tuple[str | None, ...]]:
        """The template's outermost call (``wp.sqrt``) and, per argument, the call wrapping it
        (``wp.abs`` in ``wp.sqrt(wp.abs({0}))``), read once from the template, which is our data."""
        names = [f"__arg{k}" for k in range(len(self.args))]
        tree = ast.parse(self.template.format(*names, k=0, L=PLAIN).replace("state", "__state"), mode="eval").body
        wrapping: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for arg in node.args:
                    if isinstance(arg, ast.Name) and arg.id in names:
                        wrapping[arg.id] = ast.unparse(node.func)
        root = ast.unparse(tree.func) if isinstance(tree, ast.Call) else None
        return root, tuple(wrapping.get(name) for name in names)


def _ops(group: str, scalar: str | None, rows: list[tuple], weight: float = 1.0) -> list[Op]:
    """Operations from ``(base, result, args, template, phrase)`` rows."""
    return [
        Op(
            f"{group}:{base}:{result}:{','.join(args)}",
            base,
            result,
            tuple(args),
            template,
            phrase,
            group,
            scalar,
            weight,
        )
        for base, result, args, template, phrase in rows
    ]


# float16 gets no operation that can grow a value without bound (products, exponentials, ...).
_GROWING = {"mul", "div", "exp", "pow", "cbrt", "atan2", "log2", "sinh", "cosh", "degrees", "mul_fn", "div_fn"}


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
        ("tan", f, (f,), "wp.tan(wp.clamp({0}, {L[-1.0]}, {L[1.0]}))", "the tangent of {0} clamped to [-1, 1]"),
        (
            "sinh",
            f,
            (f,),
            "wp.sinh(wp.clamp({0}, {L[-4.0]}, {L[4.0]}))",
            "the hyperbolic sine of {0} clamped to [-4, 4]",
        ),
        (
            "cosh",
            f,
            (f,),
            "wp.cosh(wp.clamp({0}, {L[-4.0]}, {L[4.0]}))",
            "the hyperbolic cosine of {0} clamped to [-4, 4]",
        ),
        ("log10", f, (f,), "wp.log10(wp.abs({0}) + {L[1.0]})", "the base-10 log of one plus the magnitude of {0}"),
        ("degrees", f, (f,), "wp.degrees({0})", "{0} radians in degrees"),
        ("radians", f, (f,), "wp.radians({0})", "{0} degrees in radians"),
        ("round", f, (f,), "wp.round({0})", "{0} rounded"),
        ("rint", f, (f,), "wp.rint({0})", "{0} rounded to the nearest even integer"),
        ("trunc", f, (f,), "wp.trunc({0})", "{0} truncated"),
        ("frac", f, (f,), "wp.frac({0})", "the fractional part of {0}"),
        ("erf", f, (f,), "wp.erf({0})", "the error function of {0}"),
        ("erfc", f, (f,), "wp.erfc({0})", "the complementary error function of {0}"),
        ("erfinv", f, (f,), "wp.erfinv(wp.clamp({0}, {L[-0.9]}, {L[0.9]}))", "the inverse error function of {0}"),
        ("erfcinv", f, (f,), "wp.erfcinv(wp.clamp({0}, {L[0.1]}, {L[1.9]}))", "the inverse of erfc at {0}"),
        ("copysign", f, (f, f), "wp.copysign({0}, {1})", "the magnitude of {0} with the sign of {1}"),
        ("step", f, (f,), "wp.step({0})", "one if {0} is negative else zero"),
        ("nonzero", f, (f,), "wp.nonzero({0})", "one if {0} is not zero else zero"),
        ("fmod", f, (f, f), "wp.mod({0}, wp.abs({1}) + {L[1.0]})", "{0} modulo one plus the magnitude of {1}"),
        ("add_fn", f, (f, f), "wp.add({0}, {1})", "{0} plus {1}"),
        ("sub_fn", f, (f, f), "wp.sub({0}, {1})", "{0} less {1}"),
        ("mul_fn", f, (f, f), "wp.mul({0}, {1})", "{0} times {1}"),
        ("div_fn", f, (f, f), "wp.div({0}, wp.abs({1}) + {L[1.0]})", "{0} over one plus the magnitude of {1}"),
        ("neg_fn", f, (f,), "wp.neg({0})", "minus {0}"),
    ]
    if f == "float32":  # the fast approximation exists for float32 only
        math.append(("div_approx", f, (f, f), "wp.div_approx({0}, wp.abs({1}) + 1.0)", "{0} over 1 + |{1}|, roughly"))
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


def _bits_ops(t: str) -> list[Op]:
    """Integers of every width: wrapping arithmetic, bits and masked shifts, never a zero divisor."""
    rows = [
        ("add", t, (t, t), "({0} + {1})", "the sum of {0} and {1}"),
        ("sub", t, (t, t), "({0} - {1})", "{0} minus {1}"),
        ("mul", t, (t, t), "({0} * {1})", "the product of {0} and {1}"),
        (
            "floordiv",
            t,
            (t, t),
            "({0} // (({1} & {L[15]}) + {L[1]}))",
            "{0} floor-divided by one plus its low bits of {1}",
        ),
        ("mod", t, (t, t), "({0} % (({1} & {L[15]}) + {L[1]}))", "{0} modulo one plus the low bits of {1}"),
        ("min", t, (t, t), "wp.min({0}, {1})", "the smaller of {0} and {1}"),
        ("max", t, (t, t), "wp.max({0}, {1})", "the larger of {0} and {1}"),
        ("bit_and", t, (t, t), "({0} & {1})", "the bitwise and of {0} and {1}"),
        ("bit_or", t, (t, t), "({0} | {1})", "the bitwise or of {0} and {1}"),
        ("bit_xor", t, (t, t), "({0} ^ {1})", "the bitwise xor of {0} and {1}"),
        ("invert", t, (t,), "(~{0})", "the bitwise complement of {0}"),
        ("shr", t, (t, t), "({0} >> ({1} & {L[7]}))", "{0} shifted right by the low bits of {1}"),
        ("clamp", t, (t,), "wp.clamp({0}, {L[0]}, {L[100]})", "{0} clamped to [0, 100]"),
        ("bit_count", t, (t,), f"wp.{t}(wp.bit_count({{0}}))", "the number of bits set in {0}"),
    ]
    if t in UNSIGNED_TYPES:  # a left shift of a negative signed value is undefined
        rows.append(("shl", t, (t, t), "({0} << ({1} & {L[7]}))", "{0} shifted left by the low bits of {1}"))
    return _ops("bits", t, rows)


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
        ("bfloat16", "float32", ("float32",), "wp.float32(wp.bfloat16({0}))", "{0} rounded through a bfloat16"),
        ("as_bool", "bool", ("int32",), "wp.bool({0})", "whether {0} is not zero"),
        ("float_fn", "float32", ("int32",), "wp.float({0})", "{0} as a float"),
        ("int_fn", "int32", ("float32",), "wp.int(wp.clamp({0}, -1000.0, 1000.0))", "{0} truncated to an int"),
    ]
    for t in WIDTH_TYPES:  # every integer width to and from int32 and float32
        if t != "int32":
            rows += [
                (f"as_{t}", t, ("int32",), f"wp.{t}({{0}})", f"{{0}} as {t}"),
                ("as_int32", "int32", (t,), "wp.int32({0})", "{0} as int32"),
            ]
        rows += [
            (f"as_{t}", t, ("float32",), f"wp.{t}(wp.clamp({{0}}, 0.0, 100.0))", f"{{0}} clamped to [0, 100] as {t}"),
            ("as_float32", "float32", (t,), "wp.float32({0})", "{0} as a float"),
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
    F = annotation(f)  # noqa: N806  (the scalar type as a signature writes it)
    vector += [
        (
            "cw_div",
            v,
            (v, v),
            f"wp.cw_div({{0}}, wp.cw_mul({{1}}, {{1}}) + wp.{v}({{L[1.0]}}))",
            "{0} divided by 1 + {1}^2",
        ),
        ("argmax", f, (v,), f"{F}(wp.argmax({{0}}))", "the index of the largest component of {0}"),
        ("argmin", f, (v,), f"{F}(wp.argmin({{0}}))", "the index of the smallest component of {0}"),
    ]
    rows_args = ", ".join(f"{{{k}}}" for k in range(n))
    matrix += [
        ("get_diag", v, (m,), "wp.get_diag({0})", "the diagonal of {0}"),
        ("add_identity", m, (m,), f"({{0}} + wp.identity(n={n}, dtype={F}))", "{0} plus the identity"),
        ("matrix_from_rows", m, (v,) * n, f"wp.matrix_from_rows({rows_args})", "the matrix with rows " + rows_args),
        ("matrix_from_cols", m, (v,) * n, f"wp.matrix_from_cols({rows_args})", "the matrix with columns " + rows_args),
        (
            "inverse",
            m,
            (m,),
            f"wp.inverse({{0}} @ wp.transpose({{0}}) + wp.identity(n={n}, dtype={F}))",
            "the inverse of {0} times its transpose plus the identity",
        ),
    ]
    if n == 3:
        matrix.append(("skew", m, (v,), "wp.skew({0})", "the cross-product matrix of {0}"))
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
        (
            "quat_identity",
            q,
            (q,),
            f"({{0}} * wp.quat_identity(dtype={annotation(f)}))",
            "{0} times the identity rotation",
        ),
        (
            "quat_slerp",
            q,
            (q, q, f),
            "wp.quat_slerp(wp.normalize({0}), wp.normalize({1}), wp.clamp({2}, {L[0.0]}, {L[1.0]}))",
            "the rotation between {0} and {1} at {2}",
        ),
        (
            "quat_from_matrix",
            q,
            (q,),
            "wp.quat_from_matrix(wp.quat_to_matrix(wp.normalize({0})))",
            "the rotation {0} through its matrix",
        ),
        (
            "transform_identity",
            t,
            (t,),
            f"({{0}} * wp.transform_identity(dtype={annotation(f)}))",
            "{0} composed with the identity",
        ),
        ("transform_multiply", t, (t, t), "wp.transform_multiply({0}, {1})", "the transform {0} then {1}"),
    ]
    # Not here: builtins Warp writes in Python (warp/_src/math.py: quat_from_euler, quat_twist, quat_to_rpy,
    # transform_to_matrix, transform_twist, velocity_at_point, the vector norms, ...). Their generated
    # code names that file on the machine that built it, which has no place in a row.
    if f == FLOAT:  # roll-pitch-yaw, spatial algebra and edge queries exist in float32 only
        sv, sm = "spatial_vector", "spatial_matrix"
        rows += [
            ("quat_rpy", q, (f, f, f), "wp.quat_rpy({0}, {1}, {2})", "the rotation with roll {0} pitch {1} yaw {2}"),
            ("spatial_dot", f, (sv, sv), "wp.spatial_dot({0}, {1})", "the spatial dot product of {0} and {1}"),
            ("spatial_adjoint", sm, (m, m), "wp.spatial_adjoint({0}, {1})", "the spatial adjoint of {0} and {1}"),
            (
                "closest_point_edge_edge",
                v,
                (v, v, v, v),
                "wp.closest_point_edge_edge({0}, {1}, {2}, {3}, 1.0e-6)",
                "the closest points of edges {0}-{1} and {2}-{3}",
            ),
        ]
    return _ops("geometry", f, rows)


TILE_MAPS = ("sin", "cos", "tanh", "atan", "abs", "floor", "ceil")  # wp.tile_map(wp.<fn>, t): bounded or linear
TILE_BINARY_MAPS = ("add", "sub", "min", "max")
TILE_REDUCTIONS = {"sum": "wp.tile_sum({0})", "max": "wp.tile_max({0})", "min": "wp.tile_min({0})"}
TILE_REDUCTIONS |= {"reduce_max": "wp.tile_reduce(wp.max, {0})", "reduce_add": "wp.tile_reduce(wp.add, {0})"}


def _tile_ops(shape: tuple[int, ...]) -> list[Op]:
    """Operations on float32 tiles of one shape, and the shapes they lead to."""
    t, f = tile(shape), FLOAT
    rows = [
        ("tile_add", t, (t, t), "({0} + {1})", "the tile sum of {0} and {1}"),
        ("tile_sub", t, (t, t), "({0} - {1})", "the tile difference of {0} and {1}"),
        ("tile_neg", t, (t,), "(-{0})", "the negated tile {0}"),
        ("tile_scale", t, (t, f), "({0} * wp.clamp({1}, -2.0, 2.0))", "{0} scaled by {1} clamped to [-2, 2]"),
        ("tile_block_mean", t, (t,), "({0} * (1.0 / float(wp.block_dim())))", "{0} divided by the block size"),
        ("tile_full", t, (f,), f"wp.tile_full(shape={tile_shape(shape)}, value={{0}}, dtype=float)", "a tile of {0}"),
    ]
    maps = [(f"tile_map_{fn}", t, (t,), f"wp.tile_map(wp.{fn}, {{0}})", f"{fn} of each of {{0}}") for fn in TILE_MAPS]
    maps += [
        (f"tile_map_{fn}", t, (t, t), f"wp.tile_map(wp.{fn}, {{0}}, {{1}})", f"the elementwise {fn} of {{0}} and {{1}}")
        for fn in TILE_BINARY_MAPS
    ]
    rows += [
        (f"tile_{name}", f, (t,), f"wp.tile_extract({template}, 0)", f"the {name} over {{0}}")
        for name, template in TILE_REDUCTIONS.items()
    ]
    if shape == (8,):  # block-wide, not shape-bound: once is enough
        rows += [
            (
                "block_mean",
                f,
                (f,),
                "(wp.tile_extract(wp.tile_sum(wp.tile(wp.float32({0}))), 0) / float(wp.block_dim()))",
                "the mean of {0} over the block's threads",
            ),
            ("untile", f, (f,), "wp.untile(wp.tile(wp.float32({0})) * 0.5)", "half of {0}, through a block tile"),
        ]
    if len(shape) == 1:
        n = shape[0]
        rows += [
            ("tile_extract", f, (t,), "wp.tile_extract({0}, {k})", "element {k} of {0}"),
            ("tile_dot", f, (t, t), "wp.tile_extract(wp.tile_dot({0}, {1}), 0)", "the dot product of {0} and {1}"),
            ("tile_scan", t, (t,), "wp.tile_scan_inclusive({0})", "the running sum of {0}"),
            ("tile_scan_max", t, (t,), "wp.tile_scan_max_inclusive({0})", "the running maximum of {0}"),
            ("tile_arange_add", t, (t,), f"({{0}} + wp.tile_arange({n}, dtype=float))", "{0} plus 0, 1, 2, ..."),
        ]
    else:
        m, n = shape
        rows += [
            ("tile_extract", f, (t,), f"wp.tile_extract({{0}}, {m - 1}, {n - 1})", "the last element of {0}"),
            ("tile_transpose", tile((n, m)), (t,), "wp.tile_transpose({0})", "the transpose of {0}"),
            (
                "tile_broadcast",
                t,
                (t,),
                f"wp.tile_broadcast(wp.tile_view({{0}}, offset=(0, 0), shape=(1, {n})), shape=({m}, {n}))",
                "the first row of {0} repeated",
            ),
        ]
        rows += [
            (
                "tile_matmul",
                tile((m, k)),
                (t, tile((n, k))),
                "wp.tile_matmul({0}, {1})",
                "the matrix product of {0} and {1}",
            )
            for k in (4, 8)
            if (n, k) in TILE_SHAPES and (m, k) in TILE_SHAPES
        ]
        if shape == (8, 8):
            rows.append(
                ("tile_view", tile((4, 4)), (t,), "wp.tile_view({0}, offset=(4, 4), shape=(4, 4))", "a corner of {0}")
            )
        if m == n:  # solves against A Aᵀ + n I: symmetric positive definite, eigenvalues at least n
            gram = "wp.tile_matmul({0}, wp.tile_transpose({0}))"
            spd = f"wp.tile_diag_add({gram}, wp.tile_full(shape={n}, value={n}.0, dtype=float))"
            rows += [
                (
                    "tile_cholesky_solve",
                    t,
                    (t, t),
                    f"wp.tile_cholesky_solve(wp.tile_cholesky({spd}), {{1}})",
                    "{1} solved against {0} times its transpose plus n",
                ),
                (
                    "tile_lower_solve",
                    t,
                    (t, t),
                    f"wp.tile_lower_solve(wp.tile_cholesky({spd}), {{1}})",
                    "{1} solved against the Cholesky factor of {0} times its transpose plus n",
                ),
            ]
    # Maps are many rows but one idiom: drawn less often, so kernels are not maps of maps.
    return _ops("tile", None, rows) + _ops("tile", None, maps, weight=0.3)


# Random draws read the kernel's generator state, a local named ``state`` (``wp.rand_init``).
RANDOM_STATE = "state"


def _random_ops() -> list[Op]:
    """Draws from the state (group ``random``) and draws that are functions of a value (``noise``)."""
    f, v2, v3 = FLOAT, "vec2", "vec3"
    rows = [
        ("randf", f, (), "wp.randf(state)", "a uniform draw in [0, 1)"),
        ("randn", f, (), "wp.randn(state)", "a normal draw"),
        ("randi", f, (), "float(wp.randi(state, 0, 10))", "a random integer in [0, 10)"),
        ("randu", f, (), "wp.float32(wp.randu(state) >> wp.uint32(24))", "the top byte of a random uint32"),
    ]
    of_values = [
        ("randf_range", f, (f,), "wp.randf(state, {0}, {0} + 1.0)", "a uniform draw in [{0}, {0} + 1)"),
        ("poisson", f, (f,), "wp.float32(wp.poisson(state, wp.abs({0}) + 0.5))", "a Poisson draw of rate 0.5 + |{0}|"),
        ("noise", f, (f,), "wp.noise(state, {0})", "Perlin noise at {0}"),
        ("noise", f, (v2,), "wp.noise(state, {0})", "Perlin noise at {0}"),
        ("noise", f, (v3,), "wp.noise(state, {0})", "Perlin noise at {0}"),
        ("pnoise", f, (f,), "wp.pnoise(state, {0}, 4)", "periodic Perlin noise at {0}"),
        ("curlnoise", v2, (v2,), "wp.curlnoise(state, {0})", "curl noise at {0}"),
        ("curlnoise", v3, (v3,), "wp.curlnoise(state, {0})", "curl noise at {0}"),
        ("jitter", v3, (v3,), "({0} + wp.sample_unit_sphere(state) * 0.1)", "{0} jittered in a sphere of radius 0.1"),
    ]
    samples = {v3: ("sphere", "sphere_surface", "hemisphere", "hemisphere_surface", "cube")}
    samples[v2] = ("disk", "square", "ring")
    rows += [
        (f"sample_unit_{shape}", t, (), f"wp.sample_unit_{shape}(state)", f"a random point of the unit {shape}")
        for t, shapes in samples.items()
        for shape in shapes
    ]
    rows.append(("sample_triangle", v2, (), "wp.sample_triangle(state)", "random barycentric coordinates"))
    ops = _ops("random", None, rows) + _ops("noise", None, of_values)
    return [replace(op, reads=frozenset([RANDOM_STATE])) for op in ops]


@dataclass(frozen=True)
class Unpack:
    """A builtin that returns several values, unpacked into locals: ``u, s, v = wp.svd3(m)``."""

    base: str
    arg: str
    template: str
    results: tuple[str, ...]
    phrase: str


UNPACKS: tuple[Unpack, ...] = tuple(
    unpack
    for f in FLOAT_SUFFIX
    for unpack in (
        Unpack("svd3", mat(3, f), "wp.svd3({0})", (mat(3, f), vec(3, f), mat(3, f)), "the SVD of {0}"),
        Unpack("qr3", mat(3, f), "wp.qr3({0})", (mat(3, f), mat(3, f)), "the QR decomposition of {0}"),
        Unpack("eig3", mat(3, f), "wp.eig3({0} + wp.transpose({0}))", (mat(3, f), vec(3, f)), "the eigen pairs of {0}"),
        Unpack("svd2", mat(2, f), "wp.svd2({0})", (mat(2, f), vec(2, f), mat(2, f)), "the SVD of {0}"),
        Unpack(
            "quat_to_axis_angle", quat(f), "wp.quat_to_axis_angle(wp.normalize({0}))", (vec(3, f), f), "axis and angle"
        ),
    )
)


OPS: tuple[Op, ...] = tuple(
    [op for f in FLOAT_TYPES for op in _float_ops(f)]
    + [op for t in INT_TYPES for op in _int_ops(t)]
    + [op for t in WIDTH_TYPES for op in _bits_ops(t)]
    + _bool_ops()
    + _convert_ops()
    + _select_ops()
    + [op for f in FLOAT_SUFFIX for n in (2, 3, 4) for op in _vector_ops(n, f)]
    + _vector_ops(6, FLOAT)
    + [op for f in FLOAT_SUFFIX for op in _geometry_ops(f)]
    + [op for shape in TILE_SHAPES for op in _tile_ops(shape)]
    + _random_ops()
)


def ops_for(groups: tuple[str, ...], types: tuple[str, ...] | set[str]) -> list[Op]:
    """The operations of ``groups`` whose result and arguments all have one of ``types`` (a new list)."""
    return list(_ops_for(tuple(groups), frozenset(types)))


@functools.cache  # every kernel asks, of a fixed table
def _ops_for(groups: tuple[str, ...], allowed: frozenset[str]) -> tuple[Op, ...]:
    return tuple(op for op in OPS if op.group in groups and op.result in allowed and allowed.issuperset(op.args))


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
    root: str | None = None  # its outermost call (``wp.abs``), so no call is wrapped in itself
    shared: bool = False  # a module constant: every use of it is one Warp variable


def named(name: str, phrase: str | None = None, code: str | None = None, **fields) -> Expr:
    """A leaf that reads ``name``: an argument, a local, ``a[i]`` or ``params.gain``."""
    return Expr(code or name, phrase or code or name, reads=frozenset([name]), **fields)


@dataclass
class Scope:
    """What an expression may refer to: typed leaves (inputs, locals) and allowed operations."""

    leaves: dict[str, list[Expr]] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)  # changed only through add_op and remove_op
    const_prob: float = 0.2
    # Lookups of ``ops`` by result or argument type, asked for thousands of times a kernel: shared
    # with the copies that share ``ops``, and cleared whenever ``ops`` changes.
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def add_leaf(self, type_name: str, leaf: Expr) -> None:
        self.leaves.setdefault(type_name, []).append(leaf)

    def add_op(self, op: Op) -> None:
        self.ops.append(op)
        self._index.clear()

    def remove_op(self, op: Op) -> None:
        self.ops.remove(op)
        self._index.clear()

    def ops_returning(self, type_name: str, groups: tuple[str, ...] | None = None) -> list[Op]:
        """The operations whose result is ``type_name`` (of ``groups``, when given), in table order."""
        key = ("returning", type_name, groups)
        if key not in self._index:
            ops = [op for op in self.ops if op.result == type_name]
            self._index[key] = ops if groups is None else [op for op in ops if op.group in groups]
        return self._index[key]

    def takers(self, type_name: str) -> list[Op]:
        """The operations, helpers aside, that take a ``type_name`` argument, in table order."""
        key = ("taking", type_name)
        if key not in self._index:
            self._index[key] = [op for op in self.ops if type_name in op.args and op.group != "helper"]
        return self._index[key]

    def copy(self) -> Scope:
        """A nested block's scope: locals it declares stay inside it."""
        return Scope({t: list(v) for t, v in self.leaves.items()}, self.ops, self.const_prob, self._index)


def constant(rng: random.Random, type_name: str) -> Expr:
    """A literal of ``type_name``: a scalar, or a vector, matrix, quaternion or transform of literals."""
    t = TYPES[type_name]
    if t.kind == "bool":
        value = rng.choice(("True", "False"))
        return Expr(value, value, const=True)
    if t.kind in ("float", "int"):
        pool = FLOAT_CONSTANTS if t.kind == "float" else UINT_CONSTANTS if t.name in UNSIGNED_TYPES else INT_CONSTANTS
        value = rng.choice(pool)
        return Expr(literal(t.scalar, value), value, const=True)
    if t.kind == "tile":
        shape = tile_shape(t.shape)
        code, words = rng.choice(
            [
                (f"wp.tile_zeros(shape={shape}, dtype=float)", "a tile of zeros"),
                (f"wp.tile_ones(shape={shape}, dtype=float)", "a tile of ones"),
                (f"wp.tile_full(shape={shape}, value={rng.choice(FLOAT_CONSTANTS)}, dtype=float)", "a constant tile"),
            ]
        )
        return Expr(code, words, const=True)
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
        ops = reading_ops(scope, type_name)
    if depth <= 0 or not ops or (has_leaf and rng.random() < 0.15):
        return leaf(rng, scope, type_name, allow_const=False)
    return apply(rng, scope, choose(rng, ops), depth)


def _readable(scope: Scope, types: tuple[str, ...]) -> list[int]:
    """Which of ``types`` have leaves (inputs, locals) an argument of that type can read."""
    return [k for k, t in enumerate(types) if scope.leaves.get(t)]


def reading_ops(scope: Scope, type_name: str, groups: tuple[str, ...] | None = None) -> list[Op]:
    """The operations returning ``type_name`` (of ``groups``) that can read data: they read state
    themselves (a random draw), or an argument type has leaves (all of them if none can)."""
    readable = frozenset(t for t, leaves in scope.leaves.items() if leaves)
    key = ("reading", type_name, groups, readable)
    if key not in scope._index:
        ops = scope.ops_returning(type_name, groups)
        scope._index[key] = [op for op in ops if op.reads or not readable.isdisjoint(op.args)] or ops
    return scope._index[key]


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
    needs_data = not allow_const and not op.reads and not any(not e.const for e in fixed.values())
    if not op.args:  # a draw from the generator state
        return Expr(op.template.format(L=Literals(op.scalar)), op.phrase, (op.base,), reads=op.reads)
    root, wrappers = op.calls
    readable = _readable(scope, op.args) or list(range(len(op.args)))
    for _attempt in range(4):  # redraw degenerate forms: wp.max(y[i], y[i]), wp.abs(wp.abs(x))
        anchor = rng.choice(readable)
        args = [
            fixed[k]
            if k in fixed
            # an argument a guard wraps in a call must read data: no wp.abs(0.1)
            else expression(rng, scope, t, depth - 1, allow_const=not ((needs_data and k == anchor) or wrappers[k]))
            for k, t in enumerate(op.args)
        ]
        twins = len(args) >= 2 and len({a.code for a in args}) == 1
        nested = any(w is not None and a.root == w for a, w in zip(args, wrappers, strict=True))
        if not (twins or nested):
            break
    k = rng.randrange(TYPES[op.args[0]].size) if "{k}" in op.template else 0
    codes = [_passed(op, n, arg) for n, arg in enumerate(args)]
    code = op.template.format(*codes, k=k, L=Literals(op.scalar))
    phrase = op.phrase.format(*(a.phrase for a in args), k=k, L=PLAIN)
    used = tuple(o for a in args for o in a.ops)
    reads = op.reads.union(*(a.reads for a in args))
    const = not op.reads and all(a.const for a in args)
    return Expr(code, phrase, (op.base, *used), const=const, reads=reads, root=root)


# Warp (1.19) retypes in place the constant variable a 64-bit scalar constructor is given (it
# reuses a fresh literal's variable, ``Adjoint.add_call``), and every use of a module constant is
# one variable: such a constant goes through its own type's constructor first.
RETYPED_IN_PLACE = ("float64", "int64", "uint64")


def _passed(op: Op, n: int, arg: Expr) -> str:
    """How argument ``n`` is written into ``op``'s template."""
    if arg.shared and op.result in RETYPED_IN_PLACE and f"wp.{op.result}({{{n}}})" in op.template:
        return f"wp.{op.args[n]}({arg.code})"
    return arg.code


def reachable(scope: Scope, part_type: str, type_name: str, hops: int = 2) -> bool:
    """Whether ``convert`` can bring a value of ``part_type`` to ``type_name``."""
    if part_type == type_name:
        return True
    takers = {op.result for op in scope.takers(part_type)}
    return hops > 0 and any(reachable(scope, t, type_name, hops - 1) for t in takers)


def convert(rng: random.Random, scope: Scope, part: Expr, part_type: str, type_name: str, hops: int = 2) -> Expr | None:
    """``part`` brought to ``type_name`` by at most ``hops`` operations that take it, or None."""
    if part_type == type_name:
        return part
    if hops == 0:
        return None
    takers = scope.takers(part_type)
    if part.root is not None:  # else no taker can wrap it in its own call
        takers = [op for op in takers if not wraps_itself(op, {op.args.index(part_type): part})] or takers
    direct = [op for op in takers if op.result == type_name]
    for op in [choose(rng, direct)] if direct else rng.sample(takers, len(takers)):
        step = apply(rng, scope, op, depth=1, fixed={op.args.index(part_type): part}, allow_const=True)
        result = convert(rng, scope, step, op.result, type_name, hops - 1)
        if result is not None:
            return result
    return None


def wraps_itself(op: Op, fixed: dict[int, Expr]) -> bool:
    """Whether ``op`` would wrap a given argument in that argument's own call (``wp.max(wp.max(a, b), c)``)."""
    wrappers = op.calls[1]
    return any(wrappers[k] is not None and wrappers[k] == e.root for k, e in fixed.items())


def not_wrapping(ops: list[Op], fixed: dict[int, Expr]) -> list[Op]:
    """The operations of ``ops`` that wrap no ``fixed`` argument in its own call (all of them when
    each does, or when no argument is a call)."""
    if all(e.root is None for e in fixed.values()):
        return ops
    return [op for op in ops if not wraps_itself(op, fixed)] or ops


def fold(rng: random.Random, scope: Scope, value: Expr, type_name: str, parts: list[tuple[Expr, str]]) -> Expr:
    """``value`` with every part it does not read yet joined in (each brought to ``type_name``
    first), joined pairwise as a balanced tree: depth grows with the log of the parts, as when
    real code combines named intermediates, not with their number."""
    items = [value]
    for part, part_type in parts:
        if not part.reads <= value.reads:
            converted = convert(rng, scope, part, part_type, type_name)
            if converted is not None:
                items.append(converted)
    joins = joining_ops(scope, type_name)
    if not joins:
        return value
    while len(items) > 1:
        paired = []
        for k in range(0, len(items) - 1, 2):
            fixed = {0: items[k], 1: items[k + 1]}
            ops = not_wrapping(joins, fixed)
            paired.append(apply(rng, scope, choose(rng, ops), depth=1, fixed=fixed))
        items = paired + items[len(paired) * 2 :]
    return items[0]


def joining_ops(scope: Scope, type_name: str) -> list[Op]:
    """Binary operations on ``type_name`` (``a + b``): how another value is folded into one of it."""
    key = ("joining", type_name)
    if key not in scope._index:
        ops = scope.ops_returning(type_name)
        scope._index[key] = [op for op in ops if op.args == (type_name, type_name) and op.group != "helper"]
    return scope._index[key]


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
    joins = joining_ops(scope, type_name)
    if not joins:
        return expr
    pair = [expr, part] if rng.random() < 0.5 else [part, expr]
    fixed = {0: pair[0], 1: pair[1]}
    joins = not_wrapping(joins, fixed)
    return apply(rng, scope, choose(rng, joins), depth=1, fixed=fixed)
