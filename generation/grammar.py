"""Typed expression grammar: a table of Warp operations with their signatures, and a random
expression builder over it that writes code and an English phrase from the same tree.

Every operation is well defined on any finite input: divisions, roots, logs, exponentials and
inverse trig functions are guarded in their template (``x / (wp.abs(y) + 1.0)``, ...).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

SCALAR = "float"
VECTOR_SIZES = (2, 3, 4)


def vec(n: int) -> str:
    return f"vec{n}"


def mat(n: int) -> str:
    return f"mat{n}{n}"


def annotation(type_name: str) -> str:
    """How a grammar type is written in a Warp signature."""
    return type_name if type_name in (SCALAR, "int") else f"wp.{type_name}"


@dataclass(frozen=True)
class Op:
    """One operation: its result and argument types, code template and English phrase."""

    key: str
    result: str
    args: tuple[str, ...]
    template: str
    phrase: str
    group: str
    weight: float = 1.0

    @property
    def base(self) -> str:
        """The key without its vector size (``dot3`` -> ``dot``), for names and statistics."""
        return self.key[:-1] if self.group in ("vector", "matrix") else self.key


def _scalar_ops() -> list[Op]:
    f = SCALAR
    table = [
        # key, args, template, phrase, group
        ("add", (f, f), "({0} + {1})", "the sum of {0} and {1}", "arith"),
        ("sub", (f, f), "({0} - {1})", "{0} minus {1}", "arith"),
        ("mul", (f, f), "({0} * {1})", "the product of {0} and {1}", "arith"),
        ("div", (f, f), "({0} / (wp.abs({1}) + 1.0))", "{0} divided by one plus the magnitude of {1}", "arith"),
        ("min", (f, f), "wp.min({0}, {1})", "the smaller of {0} and {1}", "arith"),
        ("max", (f, f), "wp.max({0}, {1})", "the larger of {0} and {1}", "arith"),
        ("abs", (f,), "wp.abs({0})", "the absolute value of {0}", "arith"),
        ("neg", (f,), "(-{0})", "the negation of {0}", "arith"),
        ("sqrt", (f,), "wp.sqrt(wp.abs({0}))", "the square root of the magnitude of {0}", "arith"),
        ("sin", (f,), "wp.sin({0})", "the sine of {0}", "arith"),
        ("cos", (f,), "wp.cos({0})", "the cosine of {0}", "arith"),
        ("exp", (f,), "wp.exp(wp.clamp({0}, -8.0, 8.0))", "e to the power of {0} clamped to [-8, 8]", "arith"),
        ("log", (f,), "wp.log(wp.abs({0}) + 1.0)", "the natural log of one plus the magnitude of {0}", "arith"),
        ("tanh", (f,), "wp.tanh({0})", "the hyperbolic tangent of {0}", "math"),
        ("atan", (f,), "wp.atan({0})", "the arctangent of {0}", "math"),
        ("asin", (f,), "wp.asin(wp.clamp({0}, -1.0, 1.0))", "the arcsine of {0} clamped to [-1, 1]", "math"),
        ("acos", (f,), "wp.acos(wp.clamp({0}, -1.0, 1.0))", "the arccosine of {0} clamped to [-1, 1]", "math"),
        ("floor", (f,), "wp.floor({0})", "the floor of {0}", "math"),
        ("ceil", (f,), "wp.ceil({0})", "the ceiling of {0}", "math"),
        ("cbrt", (f,), "wp.cbrt({0})", "the cube root of {0}", "math"),
        ("sign", (f,), "wp.sign({0})", "the sign of {0}", "math"),
        ("log2", (f,), "wp.log2(wp.abs({0}) + 1.0)", "the base-2 log of one plus the magnitude of {0}", "math"),
        ("atan2", (f, f), "wp.atan2({0}, {1})", "the angle of the point ({1}, {0})", "math"),
        (
            "pow",
            (f, f),
            "wp.pow(wp.abs({0}) + 1.0, wp.clamp({1}, -2.0, 2.0))",
            "one plus the magnitude of {0} raised to {1} clamped to [-2, 2]",
            "math",
        ),
        ("lerp", (f, f, f), "wp.lerp({0}, {1}, wp.clamp({2}, 0.0, 1.0))", "the blend of {0} and {1} by {2}", "math"),
        ("smoothstep", (f,), "wp.smoothstep(0.0, 1.0, {0})", "the smoothstep of {0} over [0, 1]", "math"),
    ]
    return [Op(key, f, args, template, phrase, group) for key, args, template, phrase, group in table]


def _vector_ops(n: int) -> list[Op]:
    v, m, f = vec(n), mat(n), SCALAR
    table = [
        # key, result, args, template, phrase, group
        ("vadd", v, (v, v), "({0} + {1})", "the vector sum of {0} and {1}", "vector"),
        ("vsub", v, (v, v), "({0} - {1})", "the vector difference of {0} and {1}", "vector"),
        ("vscale", v, (v, f), "({0} * {1})", "{0} scaled by {1}", "vector"),
        ("vneg", v, (v,), "(-{0})", "the negated vector {0}", "vector"),
        ("cw_mul", v, (v, v), "wp.cw_mul({0}, {1})", "the component-wise product of {0} and {1}", "vector"),
        ("vmin", v, (v, v), "wp.min({0}, {1})", "the component-wise minimum of {0} and {1}", "vector"),
        ("vmax", v, (v, v), "wp.max({0}, {1})", "the component-wise maximum of {0} and {1}", "vector"),
        ("normalize", v, (v,), "wp.normalize({0})", "the unit vector along {0}", "vector"),
        ("dot", f, (v, v), "wp.dot({0}, {1})", "the dot product of {0} and {1}", "vector"),
        ("length", f, (v,), "wp.length({0})", "the length of {0}", "vector"),
        ("length_sq", f, (v,), "wp.length_sq({0})", "the squared length of {0}", "vector"),
        ("component", f, (v,), "{0}[{k}]", "component {k} of {0}", "vector"),
        ("matvec", v, (m, v), "({0} @ {1})", "the matrix {0} applied to {1}", "matrix"),
        ("matmat", m, (m, m), "({0} @ {1})", "the matrix product of {0} and {1}", "matrix"),
        ("transpose", m, (m,), "wp.transpose({0})", "the transpose of {0}", "matrix"),
        ("madd", m, (m, m), "({0} + {1})", "the matrix sum of {0} and {1}", "matrix"),
        ("mscale", m, (m, f), "({0} * {1})", "{0} scaled by {1}", "matrix"),
        ("outer", m, (v, v), "wp.outer({0}, {1})", "the outer product of {0} and {1}", "matrix"),
        ("diag", m, (v,), "wp.diag({0})", "the diagonal matrix with entries {0}", "matrix"),
        ("determinant", f, (m,), "wp.determinant({0})", "the determinant of {0}", "matrix"),
        ("trace", f, (m,), "wp.trace({0})", "the trace of {0}", "matrix"),
        ("ddot", f, (m, m), "wp.ddot({0}, {1})", "the double dot product of {0} and {1}", "matrix"),
    ]
    ops = [
        Op(f"{key}{n}", result, args, template, phrase, group) for key, result, args, template, phrase, group in table
    ]
    if n == 3:
        ops.append(Op("cross3", v, (v, v), "wp.cross({0}, {1})", "the cross product of {0} and {1}", "vector"))
    return ops


OPS: tuple[Op, ...] = tuple(_scalar_ops() + [op for n in VECTOR_SIZES for op in _vector_ops(n)])
OPS_BY_KEY = {op.key: op for op in OPS}

FLOAT_CONSTANTS = ("0.5", "1.0", "2.0", "3.0", "0.25", "0.1", "1.5", "-1.0", "-0.5", "4.0", "0.75", "10.0")


@dataclass(frozen=True)
class Expr:
    """A rendered expression: Warp code, an English phrase, and the operations it uses."""

    code: str
    phrase: str
    ops: tuple[str, ...] = ()
    const: bool = False


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


def mentions(code: str, name: str) -> bool:
    """Whether ``code`` refers to the identifier (or leaf code) ``name``."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", code) is not None


def constant(rng: random.Random, type_name: str) -> Expr:
    """A literal of ``type_name``: a float, or a vector/matrix built from floats."""
    if type_name == SCALAR:
        value = rng.choice(FLOAT_CONSTANTS)
        return Expr(value, value, const=True)
    size = int(type_name[3]) if type_name.startswith("vec") else int(type_name[3]) ** 2
    values = ", ".join(rng.choice(FLOAT_CONSTANTS) for _ in range(size))
    return Expr(f"wp.{type_name}({values})", f"the constant {type_name}({values})", const=True)


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
    """
    ops = scope.ops_returning(type_name)
    has_leaf = bool(scope.leaves.get(type_name))
    if depth <= 0 or not ops or (has_leaf and rng.random() < 0.15):
        return leaf(rng, scope, type_name, allow_const)
    return apply(rng, scope, choose(rng, ops), depth, allow_const=allow_const)


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
    for _attempt in range(3):  # avoid degenerate twins such as wp.max(y[i], y[i])
        anchor = rng.randrange(len(op.args))
        args = [
            fixed[k]
            if k in fixed
            else expression(rng, scope, t, depth - 1, allow_const=not (needs_data and k == anchor))
            for k, t in enumerate(op.args)
        ]
        if len(args) < 2 or len({a.code for a in args}) > 1:
            break
    k = rng.randrange(int(op.args[0][3])) if "{k}" in op.template else 0
    code = op.template.format(*(a.code for a in args), k=k)
    phrase = op.phrase.format(*(a.phrase for a in args), k=k)
    used = tuple(o for a in args for o in a.ops)
    return Expr(code, phrase, (op.base, *used), const=all(a.const for a in args))


def involve(rng: random.Random, scope: Scope, expr: Expr, type_name: str, part: Expr, part_type: str) -> Expr:
    """Combine ``expr`` with ``part`` so that the result reads ``part`` (a local, a loop index).

    ``part`` is first brought to ``type_name`` by an operation that takes it (``wp.length`` for
    a vector into a float, say), then joined to ``expr`` by a binary operation on that type.
    """
    if mentions(expr.code, part.code):
        return expr
    if part_type != type_name:
        to_type = [op for op in scope.ops_returning(type_name) if part_type in op.args]
        if not to_type:
            return expr
        op = choose(rng, to_type)
        part = apply(rng, scope, op, depth=1, fixed={op.args.index(part_type): part}, allow_const=True)
    joins = [op for op in scope.ops_returning(type_name) if op.args == (type_name, type_name) and op.group != "helper"]
    if not joins:
        return expr
    pair = [expr, part] if rng.random() < 0.5 else [part, expr]
    return apply(rng, scope, choose(rng, joins), depth=1, fixed={0: pair[0], 1: pair[1]})


def ops_for(groups: tuple[str, ...], sizes: tuple[int, ...] = VECTOR_SIZES) -> list[Op]:
    """The operations of ``groups`` whose vector and matrix types have one of ``sizes``."""

    def fits(op: Op) -> bool:
        types = (op.result, *op.args)
        return all(t == SCALAR or int(t[3]) in sizes for t in types)

    return [op for op in OPS if op.group in groups and fits(op)]
