"""The expression builder: random typed expressions over the operations of ``operations.py``, each
written as Warp code and an English phrase from one tree.

Expressions are flat where the scope says so (``Scope.hoister``): a call is never passed straight to
another call. Each such call, in a template (``wp.sqrt(wp.abs(x))``) or among the arguments drawn
for one, is bound to a local of its own first (``t4 = wp.abs(x)``), as application code names its
intermediates: depth comes from statements, not from nesting calls.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Protocol

from generation.generated.operations import (
    COMMUTATIVE,
    DEGENERATE_ON_PARALLEL,
    DEGENERATE_ON_TWINS,
    FLOAT_CONSTANTS,
    FLOAT_THRESHOLDS,
    IDLE_ON_WHOLE,
    INT_CONSTANTS,
    INT_THRESHOLDS,
    KEEPS_ZERO,
    LINEAR_SIGNS,
    PARALLEL_JOINS,
    PARALLEL_TO_ARGUMENT,
    PLAIN,
    RESULT_RANGES,
    SELF_INVERSE,
    SIGN_ONLY,
    UINT_CONSTANTS,
    UINT_THRESHOLDS,
    UNBOUNDED,
    UNSIGNED_TYPES,
    WHOLE_RESULTS,
    Literals,
    Op,
    literal,
    quat,
    tile_shape,
    vec,
)
from generation.source.warp_types import TYPES


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
    # The operation that made it (``neg``), for a local the one its binding made until a statement
    # assigns it again, None for a leaf nothing made: none undoes itself, and it bounds the value.
    outer: str | None = None
    # What it is a scalar multiple of, by one name (``e1`` for ``e1 * k``, and for ``wp.normalize(f)``
    # where ``f = e1 * k``; a commutative join names its operands in one order), None for the value
    # itself (``direction``): no cross product takes two values along one vector.
    along: str | None = None
    # What a chain of sums, differences and negations computes, as (term, coefficient) pairs (``own
    # + v``: ``(("own", 1), ("v", 1))``), None for any other value, which is a term of its own.
    terms: tuple[tuple[str, int], ...] | None = None


def direction(value: Expr) -> str:
    """What ``value`` is a scalar multiple of: ``along``, else the value itself (its code, without
    the parentheses an operator's template wraps it in: ``(pb - pa)`` is ``d = pb - pa``)."""
    return value.along or _unwrapped(value.code)


def _unwrapped(code: str) -> str:
    """``code`` without parentheses around the whole of it."""
    while code.startswith("(") and code.endswith(")"):
        depth = 0
        for position, char in enumerate(code):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and position < len(code) - 1:
                return code  # ``(a) + (b)``: the first closes before the end
        code = code[1:-1]
    return code


def parallel_along(op: Op, args: list[Expr]) -> str | None:
    """What ``op`` on ``args`` is a multiple of (``PARALLEL_TO_ARGUMENT``, ``PARALLEL_JOINS``); for a
    ``COMMUTATIVE`` join, the join itself with its operands in one order; else None."""
    if op.base in PARALLEL_TO_ARGUMENT:
        return direction(args[PARALLEL_TO_ARGUMENT[op.base]])
    if op.base in PARALLEL_JOINS and direction(args[0]) == direction(args[1]):
        return direction(args[0])
    if op.base in COMMUTATIVE and len(args) == 2:
        return f"{op.base}({', '.join(sorted(map(direction, args)))})"
    return None


def cancels(op: Op, args: list[Expr]) -> bool:
    """Whether ``op`` would cancel its operands: equal ones where any equal two would
    (``DEGENERATE_ON_TWINS``), parallel ones under a cross product (``DEGENERATE_ON_PARALLEL``)."""
    if len(args) < 2:
        return False
    if len({a.code for a in args}) == 1:
        return True
    return op.base in DEGENERATE_ON_PARALLEL and len({direction(a) for a in args}) == 1


def held(scope: Scope, value: Expr) -> Expr:
    """``value``, or where a local of the block holds it already (``Hoister.known``), that local
    with what ``value`` says of itself: ``wp.sub(t0, blend(x))`` where ``t0 = blend(x)`` is
    ``wp.sub(t0, t0)``, and is seen to cancel before it is written."""
    if scope.hoister is None or value.const:
        return value
    name = scope.hoister.known(value.code, value.reads)
    if name is None:
        return value
    return replace(value, code=name, root=None, reads=value.reads | {name})


def linear_terms(value: Expr) -> tuple[tuple[str, int], ...]:
    """``value`` as a sum of terms (``Expr.terms``): itself, once, where it is no such chain."""
    return value.terms if value.terms is not None else ((_unwrapped(value.code), 1),)


def summed(op: Op, args: list[Expr]) -> Counter | None:
    """The terms ``op`` on ``args`` sums, with their coefficients (zeros kept), where ``op`` is a
    sum, a difference or a negation (``LINEAR_SIGNS``); else None."""
    signs = LINEAR_SIGNS.get(op.base)
    if signs is None or len(signs) != len(args):
        return None
    total: Counter = Counter()
    for sign, arg in zip(signs, args, strict=True):
        for term, coefficient in linear_terms(arg):
            total[term] += sign * coefficient
    return total


def cancels_a_term(op: Op, args: list[Expr]) -> bool:
    """Whether ``op`` would cancel a term an operand holds (``(-t0) + v`` where ``t0 = own + v``):
    whatever computed that term cannot matter."""
    total = summed(op, args)
    return total is not None and 0 in total.values()


def named(name: str, phrase: str | None = None, code: str | None = None, **fields) -> Expr:
    """A leaf that reads ``name``: an argument, a local, ``a[i]`` or ``params.gain``."""
    return Expr(code or name, phrase or code or name, reads=frozenset([name]), **fields)


class Hoister(Protocol):
    """Where a flat expression's calls are bound, as it is drawn."""

    def hoist(self, code: str, reads: frozenset[str]) -> str: ...  # the new local's name
    def known(self, code: str, reads: frozenset[str]) -> str | None: ...  # the local holding it already
    def mark(self) -> int: ...
    def rollback(self, mark: int) -> None: ...  # take back what was bound since ``mark``


@dataclass
class Scope:
    """What an expression may refer to: typed leaves (inputs, locals) and allowed operations."""

    leaves: dict[str, list[Expr]] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)  # changed only through add_op and remove_op
    const_prob: float = 0.2  # a leaf is a constant
    leaf_prob: float = 0.15  # an expression stops at a leaf before its depth
    # Binds calls to locals (``KernelBuilder``: ``hoist``, and ``mark``/``rollback`` to take back
    # what a discarded draw bound); None writes calls nested in calls.
    hoister: Hoister | None = None
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
        leaves = {t: list(v) for t, v in self.leaves.items()}
        return Scope(leaves, self.ops, self.const_prob, self.leaf_prob, self.hoister, self._index)


# Per kind of scalar: the constants a comparison draws first, then every constant of the kind (the
# last pool, which arithmetic draws from), which a comparison falls back to.
SCALAR_POOLS = {
    "float": (FLOAT_THRESHOLDS, FLOAT_CONSTANTS),
    "int": (INT_THRESHOLDS, INT_CONSTANTS),
    "uint": (UINT_THRESHOLDS, UINT_CONSTANTS),
}


def _pool_kind(type_name: str) -> str:
    """Which of ``SCALAR_POOLS`` a scalar type draws from."""
    t = TYPES[type_name]
    return "uint" if t.name in UNSIGNED_TYPES else t.kind


def constant(rng: random.Random, type_name: str) -> Expr:
    """A literal of ``type_name``: a scalar, or a vector, matrix, quaternion or transform of
    literals; a tile of ones or of one constant (never of zeros, which as an operand adds nothing or
    zeroes what it meets)."""
    t = TYPES[type_name]
    if t.kind == "bool":
        value = rng.choice(("True", "False"))
        return Expr(value, value, const=True)
    if t.kind in ("float", "int"):
        return scalar_literal(t.scalar, rng.choice(SCALAR_POOLS[_pool_kind(type_name)][-1]))
    if t.kind == "tile":
        shape = tile_shape(t.shape)
        code, words = rng.choice(
            [
                (f"wp.tile_ones(shape={shape}, dtype=float)", "a tile of ones"),
                (f"wp.tile_full(shape={shape}, value={rng.choice(FLOAT_CONSTANTS)}, dtype=float)", "a constant tile"),
            ]
        )
        return Expr(code, words, const=True, root=code.split("(")[0])
    if t.kind == "transform":
        position, rotation = constant(rng, vec(3, t.scalar)), constant(rng, quat(t.scalar))
        code = f"wp.{t.name}({position.code}, {rotation.code})"
        return Expr(code, f"the constant {t.name}", const=True, root=f"wp.{t.name}")
    values = [rng.choice(FLOAT_CONSTANTS) for _ in range(t.components)]
    code = f"wp.{t.name}({', '.join(literal(t.scalar, v) for v in values)})"
    return Expr(code, f"the constant {t.name}({', '.join(values)})", const=True, root=f"wp.{t.name}")


def value_range(expr: Expr) -> tuple[float, float]:
    """The values ``expr`` can take, as far as the operation that made it bounds them (``wp.cos(x)``,
    and ``t = wp.cos(x)`` until ``t`` is assigned again: [-1, 1]); unbounded for an input."""
    made_by = expr.outer or (expr.ops[0] if expr.root is not None and expr.ops else None)
    return RESULT_RANGES.get(made_by, UNBOUNDED)


def threshold(rng: random.Random, type_name: str, compared: Expr) -> Expr:
    """A constant of scalar ``type_name`` to compare ``compared`` with, where the comparison can go
    either way: about the size of the data (``FLOAT_THRESHOLDS``) and strictly inside the range its
    outermost operation bounds it to (``wp.cos(x) > 4.0`` could never hold)."""
    t = TYPES[type_name]
    if t.kind not in ("float", "int"):
        return constant(rng, type_name)
    pools = SCALAR_POOLS[_pool_kind(type_name)]
    low, high = value_range(compared)
    for pool in pools:  # the wider pool where no small constant lies inside (``wp.cosh``: above 1)
        inside = [value for value in pool if low < float(value) < high]
        if inside:
            return scalar_literal(t.scalar, rng.choice(inside))
    return constant(rng, type_name)


def scalar_literal(scalar: str, value: str) -> Expr:
    """``value`` written as a literal of ``scalar`` (``wp.float64(0.5)``), a constant leaf."""
    code = literal(scalar, value)
    return Expr(code, value, const=True, root=f"wp.{scalar}" if code != value else None)


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
    if depth <= 0 or not ops or (has_leaf and rng.random() < scope.leaf_prob):
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
    fixed = {k: held(scope, e) for k, e in (fixed or {}).items()}
    needs_data = not allow_const and not op.reads and not any(not e.const for e in fixed.values())
    if not op.args:  # a draw from the generator state
        return Expr(op.template.format(L=Literals(op.scalar)), op.phrase, (op.base,), reads=op.reads)
    root, wrappers = op.calls
    readable = _readable(scope, op.args) or list(range(len(op.args)))
    mark = scope.hoister.mark() if scope.hoister else 0
    for _attempt in range(8):  # redraw degenerate forms: wp.max(y[i], y[i]), wp.abs(wp.abs(x))
        if _attempt and scope.hoister:
            scope.hoister.rollback(mark)  # nothing a discarded draw bound stays
        anchor = rng.choice(readable)
        args = [
            fixed[k]
            if k in fixed
            # an argument a guard wraps in a call must read data: no wp.abs(0.1)
            else held(
                scope,
                expression(rng, scope, t, depth - 1, allow_const=not ((needs_data and k == anchor) or wrappers[k])),
            )
            for k, t in enumerate(op.args)
        ]
        twins = cancels(op, args) or cancels_a_term(op, args)
        nested = wraps_itself(op, dict(enumerate(args))) or discards(op, dict(enumerate(args)))
        if not (twins or nested):
            break
    if twins and op.base in DEGENERATE_ON_TWINS:  # wp.min(y[i], y[i]) at every try: one operand a constant
        spare = [k for k in range(len(args)) if k not in fixed and k != anchor]  # the anchor still reads data
        if spare:
            args[spare[0]] = constant(rng, op.args[spare[0]])
    k = rng.randrange(TYPES[op.args[0]].size) if "{k}" in op.template else 0
    codes = [_passed(op, n, arg) for n, arg in enumerate(args)]
    code = _written(scope, op, codes, args, k)
    phrase = op.phrase.format(*(a.phrase for a in args), k=k, L=PLAIN)
    used = tuple(o for a in args for o in a.ops)
    reads = op.reads.union(*(a.reads for a in args))
    const = not op.reads and all(a.const for a in args)
    along = parallel_along(op, args)
    total = summed(op, args)
    terms = tuple(sorted((t, c) for t, c in total.items() if c)) if total is not None else None
    return Expr(
        code, phrase, (op.base, *used), const=const, reads=reads, root=root, outer=op.base, along=along, terms=terms
    )


def _written(scope: Scope, op: Op, codes: list[str], args: list[Expr], k: int) -> str:
    """The code of ``op`` on ``codes``: its template, or where the scope hoists, its steps, each
    call it would pass straight to a call (a step, or an argument that is a call) bound first."""
    literals = Literals(op.scalar)
    if scope.hoister is None:
        return op.template.format(*codes, k=k, L=literals)
    wrappers, steps = op.calls[1], op.steps
    codes = [
        scope.hoister.hoist(code, arg.reads) if wrappers[n] is not None and arg.root is not None else code
        for n, (code, arg) in enumerate(zip(codes, args, strict=True))
    ]
    if len(steps) == 1:
        return steps[0].format(*codes, k=k, L=literals)
    reads = op.reads.union(*(arg.reads for arg in args))
    done: dict[str, str] = {}
    for step in steps[:-1]:
        done[f"s{len(done)}"] = scope.hoister.hoist(step.format(*codes, k=k, L=literals, **done), reads)
    return steps[-1].format(*codes, k=k, L=literals, **done)


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
    """Whether ``convert`` can bring a value of ``part_type`` to ``type_name`` (asked again and
    again with the same types: kept in the scope's index)."""
    if part_type == type_name:
        return True
    key = ("reachable", part_type, type_name, hops)
    if key not in scope._index:
        results = {op.result for op in scope.takers(part_type)}
        scope._index[key] = hops > 0 and any(reachable(scope, t, type_name, hops - 1) for t in results)
    return scope._index[key]


def convert(rng: random.Random, scope: Scope, part: Expr, part_type: str, type_name: str, hops: int = 2) -> Expr | None:
    """``part`` brought to ``type_name`` by at most ``hops`` operations that take it, or None."""
    if part_type == type_name:
        return part
    if hops == 0:
        return None
    takers = scope.takers(part_type)
    if may_be_wrapped_in_itself(part):
        takers = [op for op in takers if not wraps_itself(op, {op.args.index(part_type): part})] or takers
    takers = [op for op in takers if not discards(op, {op.args.index(part_type): part})] or takers
    direct = [op for op in takers if op.result == type_name]
    if not direct:  # only a step whose result leads on is drawn: a dead end costs no draw
        takers = [op for op in takers if reachable(scope, op.result, type_name, hops - 1)]
    mark = scope.hoister.mark() if scope.hoister else 0
    for op in [choose(rng, direct)] if direct else rng.sample(takers, len(takers)):
        step = apply(rng, scope, op, depth=1, fixed={op.args.index(part_type): part}, allow_const=True)
        result = convert(rng, scope, step, op.result, type_name, hops - 1)
        if result is not None:
            return result
        if scope.hoister:
            scope.hoister.rollback(mark)  # what a step that led nowhere bound
    return None


def may_be_wrapped_in_itself(value: Expr) -> bool:
    """Whether some operation could wrap ``value`` in itself: it is a call, or a self-inverse
    operation made it (a leaf or an operator's result is wrapped in nothing of its own)."""
    return value.root is not None or value.outer in SELF_INVERSE


def wraps_itself(op: Op, fixed: dict[int, Expr]) -> bool:
    """Whether ``op`` would wrap a given argument in that argument's own call (``wp.max(wp.max(a, b), c)``),
    or undo the operation that made it (``(-(-x))``: ``SELF_INVERSE``)."""
    wrappers = op.calls[1]
    undone = op.base in SELF_INVERSE and any(SELF_INVERSE.get(e.outer) == SELF_INVERSE[op.base] for e in fixed.values())
    return undone or any(wrappers[k] is not None and wrappers[k] == e.root for k, e in fixed.items())


def discards(op: Op, fixed: dict[int, Expr]) -> bool:
    """Whether ``op`` would discard what a given argument holds: round a whole number or take its
    fraction (``IDLE_ON_WHOLE``), or read only the sign of a value of one sign (``SIGN_ONLY``)."""
    if op.base in IDLE_ON_WHOLE and any(e.outer in WHOLE_RESULTS for e in fixed.values()):
        return True
    position = SIGN_ONLY.get(op.base)
    return position in fixed and value_range(fixed[position])[0] >= 0.0


def not_degenerate(ops: list[Op], fixed: dict[int, Expr]) -> list[Op]:
    """The operations of ``ops`` that keep two ``fixed`` operands from cancelling (``cancels``:
    ``x - x``, ``wp.min(a, a)``, ``wp.cross(e1, e1 * k)``) or cancelling a term one of them sums
    (``cancels_a_term``); all of them when none would cancel them or each would."""
    operands = list(fixed.values())

    def degenerate(op: Op) -> bool:
        return (op.base in DEGENERATE_ON_TWINS and cancels(op, operands)) or cancels_a_term(op, operands)

    return [op for op in ops if not degenerate(op)] or ops


def fitting_joins(joins: list[Op], fixed: dict[int, Expr]) -> list[Op]:
    """The joins of two ``fixed`` operands that neither wrap one in itself, discard what one holds,
    nor cancel them (``not_degenerate``)."""
    kept = [op for op in joins if not discards(op, fixed)] or joins
    return not_degenerate(not_wrapping(kept, fixed), fixed)


def not_wrapping(ops: list[Op], fixed: dict[int, Expr]) -> list[Op]:
    """The operations of ``ops`` that wrap no ``fixed`` argument in its own call (all of them when
    each does, or when no argument could be: `may_be_wrapped_in_itself`)."""
    if not any(map(may_be_wrapped_in_itself, fixed.values())):
        return ops
    return [op for op in ops if not wraps_itself(op, fixed)] or ops


def fold(rng: random.Random, scope: Scope, value: Expr, type_name: str, parts: list[tuple[Expr, str]]) -> Expr:
    """``value`` with every part it does not read yet joined in (each brought to ``type_name``
    first), joined pairwise as a balanced tree: depth grows with the log of the parts, as when
    real code combines named intermediates, not with their number."""
    items = [held(scope, value)]
    for part, part_type in parts:
        if not part.reads <= value.reads:
            converted = convert(rng, scope, part, part_type, type_name)
            if converted is not None:
                items.append(held(scope, converted))
    joins = joining_ops(scope, type_name)
    if not joins:
        return value
    while len(items) > 1:
        paired = []
        for k in range(0, len(items) - 1, 2):
            fixed = {0: items[k], 1: items[k + 1]}
            ops = fitting_joins(joins, fixed)
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


def involve(
    rng: random.Random, scope: Scope, expr: Expr, type_name: str, part: Expr, part_type: str, from_zero: bool = False
) -> Expr:
    """Combine ``expr`` with ``part`` so that the result reads ``part`` (a local, a loop index).

    ``part`` is first brought to ``type_name`` by an operation that takes it (``wp.length`` for
    a vector into a float, say), then joined to ``expr`` by a binary operation on that type.
    ``from_zero``: ``part`` starts at zero (a loop's accumulator), so no join keeps it there
    (``KEEPS_ZERO``: ``s = s * x``).
    """
    if part.reads <= expr.reads:
        return expr
    part = convert(rng, scope, part, part_type, type_name)
    if part is None:
        return expr
    joins = joining_ops(scope, type_name)
    if not joins:
        return expr
    expr, part = held(scope, expr), held(scope, part)
    pair = [expr, part] if rng.random() < 0.5 else [part, expr]
    fixed = {0: pair[0], 1: pair[1]}
    joins = fitting_joins(joins, fixed)
    if from_zero:
        place = 0 if pair[0] is part else 1
        joins = [op for op in joins if place not in KEEPS_ZERO.get(op.base, ())] or joins
    return apply(rng, scope, choose(rng, joins), depth=1, fixed=fixed)
