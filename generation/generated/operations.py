"""The grammar's tables: Warp types as the generator writes them, and the operations on them, each
with its signature, code template and English phrase (``expressions.py`` draws expressions from them).

Every operation is well defined on any finite input: divisions, roots, logs, exponentials and
inverse trig functions are guarded in their template (``x / (wp.abs(y) + 1.0)``, ...), and
float16 only gets operations that cannot grow a value past its range. Literals in templates
are written ``{L[1.0]}`` and rendered in the operation's scalar type (``wp.float64(1.0)``),
since Warp does not mix a float64 with a float32 literal.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from dataclasses import dataclass, replace

from generation.source.warp_types import FLOAT_SUFFIX, SCALAR_ANNOTATION, TILE_SHAPES, TYPES, tile

# ---------------------------------------------------------------------------------------------
# Types: Warp's, by name (``source/warp_types.py``), and how the grammar writes and groups them


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
        return template_calls(self.template, len(self.args))

    @functools.cached_property
    def steps(self) -> tuple[str, ...]:
        """The template flattened: each call passed directly to another call (``wp.abs`` in
        ``wp.sqrt(wp.abs({0}))``) is a step of its own, innermost first, which a later step reads
        as ``{s0}``, ``{s1}``...; the last step is the operation's value (``wp.sqrt({s0})``). Read
        once from the template, which is our data, keeping its text (and so its parentheses)."""
        return flat_steps(self.template)


@functools.cache  # per template: a kernel's helpers are new operations with the templates of earlier kernels'
def template_calls(template: str, arity: int) -> tuple[str | None, tuple[str | None, ...]]:
    """``Op.calls`` of a template taking ``arity`` arguments."""
    names = [f"__arg{k}" for k in range(arity)]
    tree = ast.parse(template.format(*names, k=0, L=PLAIN).replace("state", "__state"), mode="eval").body
    wrapping: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Name) and arg.id in names:
                    wrapping[arg.id] = ast.unparse(node.func)
    root = ast.unparse(tree.func) if isinstance(tree, ast.Call) else None
    return root, tuple(wrapping.get(name) for name in names)


# Joins that keep a zero at zero, by the places it keeps it in (``0 * x``, ``0 // n``,
# ``wp.copysign(0.0, x)``): a loop's accumulator starts at zero, and folded in through one of these
# in such a place it stays zero whatever the loop computes, which no application writes.
KEEPS_ZERO = {
    "mul": (0, 1), "mul_fn": (0, 1), "bit_and": (0, 1), "div": (0,), "div_fn": (0,), "div_approx": (0,),
    "floordiv": (0,), "mod": (0,), "fmod": (0,), "copysign": (0,), "shl": (0,), "shr": (0,),
}  # fmt: skip

# Where a loop's accumulator starts, by the join that folds the loop's values into it: a sum from zero,
# a minimum from above any value and a maximum from below, as application code does (``min_dist =
# float(1.0e6)`` in Warp's examples). From zero, ``s = wp.min(s, x)`` stays zero wherever x >= 0.
ACCUMULATOR_STARTS = {"min": 1, "max": -1}  # the sign of the start: above or below any value
LARGE = {
    "float16": "1.0e4", "float32": "1.0e6", "float64": "1.0e6", "int8": "100", "int16": "10000", "int32": "1000000",
    "int64": "1000000", "uint8": "255", "uint16": "60000", "uint32": "1000000", "uint64": "1000000",
}  # fmt: skip


def accumulator_start(type_name: str, join: str) -> str:
    """The literal an accumulator of scalar ``type_name`` starts at when ``join`` folds values into it."""
    sign = ACCUMULATOR_STARTS.get(join, 0)
    if sign == 0 or (sign < 0 and type_name in UNSIGNED_TYPES):  # nothing is below an unsigned zero
        return "0"
    return LARGE[type_name] if sign > 0 else f"-{LARGE[type_name]}"


# The values a result can take, by the operation that computes it last, where it bounds them (a sine
# lies in [-1, 1], a magnitude is at least 0): a branch compares it with a constant strictly inside,
# never one it can never reach (``wp.cos(x) > 4.0``) or always passes (``wp.abs(x) >= -1.0``).
INFINITY = float("inf")
RESULT_RANGES = {
    **dict.fromkeys(("sin", "cos", "tanh", "erf", "sign", "frac"), (-1.0, 1.0)),
    **dict.fromkeys(("atan", "asin", "tan"), (-1.5708, 1.5708)),
    **dict.fromkeys(("smoothstep", "step", "nonzero", "argmin", "argmax"), (0.0, 1.0)),
    **dict.fromkeys(("abs", "sqrt", "log", "log2", "log10", "pow", "bit_count"), (0.0, INFINITY)),
    **dict.fromkeys(("length", "length_sq", "norm_l1", "norm_l2", "norm_huber", "norm_pseudo_huber"), (0.0, INFINITY)),
    "acos": (0.0, 3.1416), "atan2": (-3.1416, 3.1416), "erfc": (0.0, 2.0), "exp": (0.0, 2981.0),
    "quat_twist_angle": (0.0, 6.2832),
    "sinh": (-27.3, 27.3), "cosh": (1.0, 27.3), "erfinv": (-1.17, 1.17), "erfcinv": (-1.17, 1.17),
}  # fmt: skip
UNBOUNDED = (-INFINITY, INFINITY)

# The constants a branch compares data with: about the size of the values kernels read (inputs lie
# in [-2, 2], integers in [0, 8)), so that a comparison can go either way (``x > 10.0`` hardly ever
# holds). The wider pools above stay for arithmetic.
FLOAT_THRESHOLDS = ("0.0", "0.5", "1.0", "0.25", "0.1", "1.5", "-1.0", "-0.5", "0.75")
INT_THRESHOLDS = ("1", "2", "3", "4", "5", "7", "-1")
UINT_THRESHOLDS = ("1", "2", "3", "4", "5", "7")

# Operations whose value on two equal operands is a constant or that operand (``x - x``,
# ``wp.min(a, a)``, ``wp.cross(v, v)``): computations whose result cannot matter, which no
# application writes; ``expressions.apply`` makes one operand a constant rather than write them.
DEGENERATE_ON_TWINS = frozenset(
    {"sub", "sub_fn", "vsub", "tile_sub", "tile_map_sub", "min", "max", "vmin", "vmax", "tile_map_min",
     "tile_map_max", "bit_and", "bit_or", "bit_xor", "and", "or", "gt", "lt", "ge", "cross", "copysign"}
)  # fmt: skip

# Vector operations whose value is a scalar multiple of one vector argument (by its position), and
# joins that keep two multiples of one vector a multiple of it (``e1 + e1 * k``): ``Expr.along``.
PARALLEL_TO_ARGUMENT = {"vscale": 0, "vneg": 0, "normalize": 0, "smooth_normalize": 0}
PARALLEL_JOINS = frozenset({"vadd", "vsub"})
# Joins whose operands may be swapped: ``wp.cw_mul(v, w)`` is ``wp.cw_mul(w, v)`` (``Expr.along``).
COMMUTATIVE = frozenset(
    {"add", "add_fn", "mul", "mul_fn", "bit_and", "bit_or", "bit_xor", "min", "max", "vadd", "vmin", "vmax",
     "cw_mul", "dot", "madd", "ddot", "quat_dot", "spatial_dot"}
)  # fmt: skip
# Operations whose value on two parallel operands is zero (``wp.cross(e1, e1 * k)``), as
# ``DEGENERATE_ON_TWINS`` is for equal ones: a computation whose result cannot matter.
DEGENERATE_ON_PARALLEL = frozenset({"cross"})
# Sums, differences and negations, by the sign each gives its operands: what a chain of them
# computes is a sum of terms with integer coefficients (``Expr.terms``), and none is drawn where a
# term one operand holds cancels (``(-t0) + v`` where ``t0 = own + v`` is ``-own``).
LINEAR_SIGNS = {
    **dict.fromkeys(("add", "add_fn", "vadd", "madd", "tile_add", "tile_map_add"), (1, 1)),
    **dict.fromkeys(("sub", "sub_fn", "vsub", "tile_sub", "tile_map_sub"), (1, -1)),
    **dict.fromkeys(("neg", "neg_fn", "vneg", "tile_neg"), (-1,)),
}

# Operations whose value is a whole number, and those that change nothing of a whole number or take
# only its fraction, which is zero (``wp.frac(wp.sign(x))``, ``wp.floor(wp.round(x))``): none of the
# second is applied to a value one of the first made.
WHOLE_RESULTS = frozenset({"sign", "step", "nonzero", "floor", "ceil", "round", "rint", "trunc", "argmax", "argmin"})
IDLE_ON_WHOLE = frozenset({"frac", "floor", "ceil", "round", "rint", "trunc"})
# Operations that read only the sign of one argument, by its position: none is given a value whose
# range has one sign (``wp.copysign(x, wp.abs(y))`` is ``wp.abs(x)``, ``wp.step(wp.sqrt(y))`` zero).
SIGN_ONLY = {"sign": 0, "step": 0, "copysign": 1}

# Operations that undo themselves, by the function each computes (``(-{0})`` and ``wp.neg({0})`` are
# one negation): none is applied to a value an operation of the same function made (``(-(-x))``,
# ``wp.neg(-x)``, ``(~(~b))``), which is the value itself.
SELF_INVERSE = {
    "neg": "negation", "neg_fn": "negation", "vneg": "negation", "tile_neg": "negation",
    "invert": "complement", "not": "not", "transpose": "transpose", "tile_transpose": "transpose",
}  # fmt: skip

# Template fields as Python names, so a template parses: {0}, {k}, {L[1.0]}.
_FIELD = re.compile(r"\{(\d+|k|L\[[^\]]*\])\}")


@functools.cache
def flat_steps(template: str) -> tuple[str, ...]:
    """``template`` as steps without a call directly inside a call (``Op.steps``)."""
    fields: dict[str, str] = {}

    def name(match: re.Match) -> str:
        token = f"_f{len(fields)}_"
        fields[token] = match.group(0)
        return token

    text = _FIELD.sub(name, template)
    tree = ast.parse(text, mode="eval").body
    spans: list[tuple[int, int]] = []  # the hoisted calls' spans in ``text``, innermost first

    def visit(node: ast.AST, passed: bool) -> None:
        inner = [*node.args, *(k.value for k in node.keywords)] if isinstance(node, ast.Call) else []
        for child in ast.iter_child_nodes(node):
            visit(child, any(child is a for a in inner))
        if passed and isinstance(node, ast.Call):
            spans.append((node.col_offset, node.end_col_offset))

    visit(tree, False)
    steps = []
    for start, end in [*spans, (0, len(text))]:
        inside = [(s, e, k) for k, (s, e) in enumerate(spans[: len(steps)]) if start <= s and e <= end]
        outermost = sorted(
            (s, e, k) for s, e, k in inside if not any(a <= s and e <= b for a, b, _ in inside if (a, b) != (s, e))
        )
        step, cursor = "", start
        for s, e, k in outermost:  # the earlier steps this one reads
            step += text[cursor:s] + f"{{s{k}}}"
            cursor = e
        steps.append(step + text[cursor:end])
    restore = re.compile("|".join(map(re.escape, fields))) if fields else None
    return tuple(restore.sub(lambda m: fields[m.group(0)], step) if restore else step for step in steps)


# Operations drawn less often than their group's others. ``wp.min`` and ``wp.max`` were 2 of the 7 to
# 14 ways to join two values, so 14% of generator 4.3.0's calls, against under 1% of real code's
# (``fitted.json``'s calls: 128 of 15,093); and a minimum or maximum drops its other side wherever one
# side wins, so what computed that side could be anything.
RARER = {"min": 0.25, "max": 0.25, "vmin": 0.25, "vmax": 0.25}


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
            weight * RARER.get(base, 1.0),
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
        ("isnan", f, (f,), "wp.where(wp.isnan({0}), {L[0.0]}, {0})", "{0}, or zero where it is not a number"),
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
    if f == FLOAT:  # the norms Warp writes in Python
        vector += [
            ("norm_l1", f, (v,), "wp.norm_l1({0})", "the L1 norm of {0}"),
            ("norm_l2", f, (v,), "wp.norm_l2({0})", "the L2 norm of {0}"),
            ("norm_huber", f, (v,), "wp.norm_huber({0})", "the Huber norm of {0}"),
            ("norm_pseudo_huber", f, (v,), "wp.norm_pseudo_huber({0})", "the pseudo-Huber norm of {0}"),
            ("smooth_normalize", v, (v,), "wp.smooth_normalize({0})", "{0} smoothly normalized"),
        ]
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
    if f == FLOAT:  # roll-pitch-yaw, spatial algebra and edge queries exist in float32 only
        sv, sm = "spatial_vector", "spatial_matrix"
        # Builtins Warp writes in Python (warp/_src/math.py): their code names Warp's install path,
        # which the rows map to a fixed one.
        rows += [
            ("quat_from_euler", q, (v,), "wp.quat_from_euler({0}, 0, 1, 2)", "the rotation with XYZ Euler angles {0}"),
            ("quat_from_euler", q, (v,), "wp.quat_from_euler({0}, 2, 1, 0)", "the rotation with ZYX Euler angles {0}"),
            ("quat_to_euler", v, (q,), "wp.quat_to_euler(wp.normalize({0}), 2, 1, 0)", "the ZYX Euler angles of {0}"),
            ("quat_to_rpy", v, (q,), "wp.quat_to_rpy(wp.normalize({0}))", "the roll, pitch and yaw of {0}"),
            (
                "quat_twist",
                q,
                (v, q),
                "wp.quat_twist(wp.normalize({0}), wp.normalize({1}))",
                "the twist of {1} about {0}",
            ),
            (
                "quat_twist_angle",
                f,
                (v, q),
                "wp.quat_twist_angle(wp.normalize({0}), wp.normalize({1}))",
                "the angle {1} turns about {0}",
            ),
            (
                "quat_twist_angle_signed",
                f,
                (v, q),
                "wp.quat_twist_angle_signed(wp.normalize({0}), wp.normalize({1}))",
                "the signed angle {1} turns about {0}",
            ),
            ("velocity_at_point", v, (sv, v), "wp.velocity_at_point({0}, {1})", "the velocity of twist {0} at {1}"),
            ("transform_twist", sv, (t, sv), "wp.transform_twist({0}, {1})", "the twist {1} moved by {0}"),
            ("transform_wrench", sv, (t, sv), "wp.transform_wrench({0}, {1})", "the wrench {1} moved by {0}"),
        ]
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
            ("tile_scan_min", t, (t,), "wp.tile_scan_min_inclusive({0})", "the running minimum of {0}"),
            (
                "tile_argmin",
                f,
                (t,),
                "float(wp.tile_extract(wp.tile_argmin({0}), 0))",
                "the index of the smallest element of {0}",
            ),
            (
                "tile_squeeze",
                t,
                (t,),
                f"wp.tile_squeeze(wp.tile_reshape({{0}}, shape=(1, {n})))",
                "{0} as a row, squeezed back",
            ),
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
                (
                    "tile_upper_solve",
                    t,
                    (t, t),
                    f"wp.tile_upper_solve(wp.tile_transpose(wp.tile_cholesky({spd})), {{1}})",
                    "{1} solved against the transposed Cholesky factor of {0} times its transpose plus n",
                ),
            ]
    if math.prod(shape) == 16:  # the 16 elements as a row or a square
        other = (4, 4) if len(shape) == 1 else (16,)
        rows.append(("tile_reshape", tile(other), (t,), f"wp.tile_reshape({{0}}, shape={other})", "{0} reshaped"))
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
    wraps: str = ""  # the call the template applies to its argument, which is never that call's value


UNPACKS: tuple[Unpack, ...] = tuple(
    unpack
    for f in FLOAT_SUFFIX
    for unpack in (
        Unpack("svd3", mat(3, f), "wp.svd3({0})", (mat(3, f), vec(3, f), mat(3, f)), "the SVD of {0}"),
        Unpack("qr3", mat(3, f), "wp.qr3({0})", (mat(3, f), mat(3, f)), "the QR decomposition of {0}"),
        Unpack(
            "eig3",
            mat(3, f),
            "wp.eig3({0} + wp.transpose({0}))",
            (mat(3, f), vec(3, f)),
            "the eigen pairs of {0}",
            "wp.transpose",
        ),
        Unpack("svd2", mat(2, f), "wp.svd2({0})", (mat(2, f), vec(2, f), mat(2, f)), "the SVD of {0}"),
        Unpack(
            "quat_to_axis_angle",
            quat(f),
            "wp.quat_to_axis_angle(wp.normalize({0}))",
            (vec(3, f), f),
            "axis and angle",
            "wp.normalize",
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
