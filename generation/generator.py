"""Seeded kernel program generator: one policy per category over the shared expression grammar.

A kernel is fully determined by ``(seed, index)``: each index draws from its own
``random.Random``, so any slice of a build can be generated in any process.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from generation import grammar
from generation.grammar import SCALAR, Expr, Op, Scope, annotation

GENERATOR_VERSION = "1.0.0"

FLOAT_INPUTS = ("a", "b", "c", "x", "y", "z", "u", "w")
VECTOR_INPUTS = ("p", "q", "r", "pos", "vel", "dirs")
MATRIX_INPUTS = ("m", "rot", "basis", "frame")
OUTPUT_NAMES = ("out", "result", "dst", "res")
PARAM_NAMES = ("alpha", "beta", "scale", "gain")
HELPER_NAMES = ("blend", "shade", "combine", "score", "mix", "response")


@dataclass(frozen=True)
class KernelSpec:
    """One generated kernel: a complete, importable Python module and what it computes."""

    name: str
    category: str
    description: str
    python_source: str


@dataclass
class KernelParts:
    """What a category policy builds; ``render`` turns it into a module."""

    name: str
    body: list[str]
    description: str
    inputs: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)


class KernelBuilder:
    """Collects typed inputs, locals and helpers while a policy writes a kernel body."""

    def __init__(self, rng: random.Random, ops: list[Op], const_prob: float = 0.2):
        self.rng = rng
        self.scope = Scope(ops=list(ops), const_prob=const_prob)
        self.inputs: list[tuple[str, str]] = []
        self.helpers: list[str] = []
        self.helper_notes: list[str] = []
        self.locals: list[tuple[Expr, str]] = []

    def array_inputs(self, type_name: str, names: tuple[str, ...], count: int) -> None:
        for name in self.rng.sample(names, count):
            self.inputs.append((name, f"wp.array(dtype={annotation(type_name)})"))
            self.scope.add_leaf(type_name, Expr(f"{name}[i]", f"{name}[i]"))

    def scalar_param(self) -> None:
        name = self.rng.choice(PARAM_NAMES)
        self.inputs.append((name, SCALAR))
        self.scope.add_leaf(SCALAR, Expr(name, name))

    def expr(self, type_name: str, depth: int) -> Expr:
        return grammar.expression(self.rng, self.scope, type_name, depth)

    def rooted(self, type_name: str, depth: int, groups: tuple[str, ...] | None = None) -> Expr:
        """An expression whose outermost operation comes from ``groups`` (any group when None)."""
        ops = self.scope.ops_returning(type_name, groups)
        if not ops:
            return self.expr(type_name, depth)
        return grammar.apply(self.rng, self.scope, grammar.choose(self.rng, ops), max(depth, 1))

    def bind(self, value: Expr, type_name: str, lines: list[str], phrases: list[str]) -> tuple[Expr, str]:
        """Bind ``value`` to a new local ``t<n>`` and make that local a leaf."""
        name = f"t{len(self.locals)}"
        lines.append(f"{name} = {value.code}")
        phrases.append(f"{name} = {value.phrase}")
        local = Expr(name, name, value.ops)
        self.scope.add_leaf(type_name, local)
        self.locals.append((local, type_name))
        return local, type_name

    def use_all_locals(self, value: Expr, type_name: str) -> Expr:
        """Fold every local the value does not read yet into it, so no statement is dead."""
        for local, local_type in self.locals:
            value = grammar.involve(self.rng, self.scope, value, type_name, local, local_type)
        return value

    def helper(self, result: str, arg_types: tuple[str, ...], depth: int) -> Op:
        """Write a ``@wp.func`` over fresh parameters and offer it as an operation."""
        name = self.rng.choice(HELPER_NAMES)
        params = [f"{chr(ord('x') + k) if k < 3 else f'p{k}'}" for k in range(len(arg_types))]
        inner = Scope(ops=[op for op in self.scope.ops if op.group != "helper"], const_prob=0.25)
        for param, type_name in zip(params, arg_types, strict=True):
            inner.add_leaf(type_name, Expr(param, param))
        body = grammar.expression(self.rng, inner, result, depth)
        signature = ", ".join(f"{p}: {annotation(t)}" for p, t in zip(params, arg_types, strict=True))
        self.helpers.append(f"@wp.func\ndef {name}({signature}):\n    return {body.code}\n")
        self.helper_notes.append(f"{name}({', '.join(params)}) returns {body.phrase}")
        placeholders = ", ".join(f"{{{k}}}" for k in range(len(arg_types)))
        op = Op(name, result, arg_types, f"{name}({placeholders})", f"{name}({placeholders})", "helper")
        self.scope.ops.append(op)
        return op

    def parts(self, name: str, body: list[str], summary: str, outputs: list[tuple[str, str]]) -> KernelParts:
        """Keep only the inputs the body reads, and add the helper notes to the description."""
        text = "\n".join(body)
        used = [(n, t) for n, t in self.inputs if grammar.mentions(text, n)]
        description = summary
        if self.helper_notes:
            description += " Here " + "; ".join(self.helper_notes) + "."
        return KernelParts(name, body, description, used, outputs, self.helpers)


def _name(prefix: str, ops: tuple[str, ...]) -> str:
    """A readable kernel name from the first few distinct operations it uses."""
    return "_".join([prefix, *list(dict.fromkeys(ops))[:3]])


def _sentence(phrases: list[str], final: str) -> str:
    if not phrases:
        return final
    return "computes " + "; then ".join(phrases) + "; and finally " + final


def _elementwise(
    rng: random.Random,
    kb: KernelBuilder,
    prefix: str,
    out_type: str,
    root_groups: tuple[str, ...],
    depth: int,
    n_locals: int,
    use_helper: bool,
) -> KernelParts:
    """``out[i] = expr`` over typed inputs, with optional locals and one helper function.

    The output's outermost operation comes from ``root_groups``, so a ``matrix`` kernel really
    does matrix work, and every local is read by the result.
    """
    lines: list[str] = []
    phrases: list[str] = []
    if use_helper:
        arg_types = tuple(rng.choice(list(kb.scope.leaves)) for _ in range(rng.randint(1, 2)))
        helper_result = rng.choice([t for t in kb.scope.leaves if kb.scope.ops_returning(t)])
        op = kb.helper(helper_result, arg_types, depth=rng.randint(1, 2))
        kb.bind(grammar.apply(rng, kb.scope, op, depth=2), op.result, lines, phrases)
    for _ in range(n_locals):
        local_type = rng.choice(list(kb.scope.leaves))
        kb.bind(kb.rooted(local_type, rng.randint(1, depth)), local_type, lines, phrases)
    result = kb.use_all_locals(kb.rooted(out_type, depth, root_groups), out_type)
    out = rng.choice(OUTPUT_NAMES)
    lines.append(f"{out}[i] = {result.code}")
    summary = "For each element i, the kernel " + _sentence(phrases, f"writes {result.phrase} to {out}[i].")
    outputs = [(out, f"wp.array(dtype={annotation(out_type)})")]
    return kb.parts(_name(prefix, result.ops), lines, summary, outputs)


def arithmetic(rng: random.Random) -> KernelParts:
    kb = KernelBuilder(rng, grammar.ops_for(("arith",)))
    kb.array_inputs(SCALAR, FLOAT_INPUTS, rng.randint(1, 3))
    if rng.random() < 0.3:
        kb.scalar_param()
    return _elementwise(rng, kb, "arith", SCALAR, ("arith",), rng.randint(1, 3), rng.randint(0, 2), rng.random() < 0.2)


def math(rng: random.Random) -> KernelParts:
    ops = grammar.ops_for(("arith", "math"))
    weighted = [
        Op(o.key, o.result, o.args, o.template, o.phrase, o.group, 3.0 if len(o.args) == 1 else 1.0) for o in ops
    ]
    kb = KernelBuilder(rng, weighted, const_prob=0.1)
    kb.array_inputs(SCALAR, FLOAT_INPUTS, rng.randint(1, 2))
    return _elementwise(rng, kb, "math", SCALAR, ("math",), rng.randint(2, 4), rng.randint(0, 1), rng.random() < 0.3)


def vector(rng: random.Random) -> KernelParts:
    n = rng.choice(grammar.VECTOR_SIZES)
    kb = KernelBuilder(rng, grammar.ops_for(("arith", "vector"), (n,)))
    kb.array_inputs(grammar.vec(n), VECTOR_INPUTS, rng.randint(1, 3))
    if rng.random() < 0.4:
        kb.array_inputs(SCALAR, FLOAT_INPUTS, 1)
    out_type = rng.choice([grammar.vec(n), SCALAR])
    depth, n_locals, use_helper = rng.randint(1, 3), rng.randint(0, 2), rng.random() < 0.2
    return _elementwise(rng, kb, f"vec{n}", out_type, ("vector",), depth, n_locals, use_helper)


def matrix(rng: random.Random) -> KernelParts:
    n = rng.choice(grammar.VECTOR_SIZES)
    kb = KernelBuilder(rng, grammar.ops_for(("arith", "vector", "matrix"), (n,)))
    kb.array_inputs(grammar.mat(n), MATRIX_INPUTS, rng.randint(1, 2))
    if rng.random() < 0.7:
        kb.array_inputs(grammar.vec(n), VECTOR_INPUTS, 1)
    out_type = rng.choice([grammar.mat(n), grammar.vec(n), SCALAR])
    depth, n_locals, use_helper = rng.randint(1, 3), rng.randint(0, 1), rng.random() < 0.15
    return _elementwise(rng, kb, f"mat{n}", out_type, ("matrix",), depth, n_locals, use_helper)


def _condition(rng: random.Random, kb: KernelBuilder) -> Expr:
    left = kb.expr(SCALAR, rng.randint(0, 2))  # reads data, so the branch is not folded away
    right = grammar.constant(rng, SCALAR) if rng.random() < 0.6 else kb.expr(SCALAR, 1)
    symbol, words = rng.choice(
        [(">", "is greater than"), ("<", "is less than"), (">=", "is at least"), ("<=", "is at most")]
    )
    return Expr(f"{left.code} {symbol} {right.code}", f"{left.phrase} {words} {right.phrase}", left.ops + right.ops)


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]


def control_flow(rng: random.Random) -> KernelParts:
    kb = KernelBuilder(rng, grammar.ops_for(("arith",)))
    kb.array_inputs(SCALAR, FLOAT_INPUTS, rng.randint(1, 3))
    out = rng.choice(OUTPUT_NAMES)
    form = rng.choice(list(CONTROL_FORMS))
    lines, summary = CONTROL_FORMS[form](rng, kb, out)
    return kb.parts(f"cf_{form}", lines, "For each element i, the kernel " + summary, [(out, "wp.array(dtype=float)")])


def _branch(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    cond = _condition(rng, kb)
    yes, no = kb.expr(SCALAR, rng.randint(1, 2)), kb.expr(SCALAR, rng.randint(1, 2))
    lines = [f"if {cond.code}:", f"    {out}[i] = {yes.code}", "else:", f"    {out}[i] = {no.code}"]
    return lines, f"writes {yes.phrase} to {out}[i] when {cond.phrase}, and {no.phrase} otherwise."


def _branch3(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    lines: list[str] = []
    phrases: list[str] = []
    value, _ = kb.bind(kb.rooted(SCALAR, rng.randint(1, 2)), SCALAR, lines, phrases)
    low, high = sorted(rng.sample([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0], 2))
    exprs = [kb.expr(SCALAR, rng.randint(1, 2)) for _ in range(3)]
    lines += [
        f"if {value.code} < {low}:",
        f"    {out}[i] = {exprs[0].code}",
        f"elif {value.code} < {high}:",
        f"    {out}[i] = {exprs[1].code}",
        "else:",
        f"    {out}[i] = {exprs[2].code}",
    ]
    return lines, _sentence(
        phrases,
        f"writes {exprs[0].phrase} to {out}[i] when {value.code} is below {low}, {exprs[1].phrase} when it is below "
        f"{high}, and {exprs[2].phrase} otherwise.",
    )


def _clamp(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    value = kb.expr(SCALAR, rng.randint(1, 3))
    low, high = sorted(rng.sample([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0], 2))
    if rng.random() < 0.5:
        lines = [f"{out}[i] = wp.clamp({value.code}, {low}, {high})"]
    else:
        lines = [
            f"v = {value.code}",
            f"if v < {low}:",
            f"    v = {low}",
            f"if v > {high}:",
            f"    v = {high}",
            f"{out}[i] = v",
        ]
    return lines, f"writes {value.phrase}, clamped to [{low}, {high}], to {out}[i]."


def _loop_bound(rng: random.Random, kb: KernelBuilder) -> tuple[str, str]:
    if rng.random() < 0.5:
        count = rng.randint(2, 8)
        return str(count), str(count)
    kb.inputs.append(("n", "int"))
    return "n", "n"


def _with_index(rng: random.Random, kb: KernelBuilder, term: Expr) -> Expr:
    """Make a loop body read the loop index ``j``."""
    return grammar.involve(rng, kb.scope, term, SCALAR, Expr("float(j)", "j"), SCALAR)


def _loop_sum(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    bound, words = _loop_bound(rng, kb)
    term = _with_index(rng, kb, kb.expr(SCALAR, rng.randint(1, 2)))
    lines = ["s = float(0.0)", f"for j in range({bound}):", f"    s += {term.code}"]
    if rng.random() < 0.3:
        lines[2:2] = ["    if s > 100.0:", "        break"]
        words += ", stopping early once the sum exceeds 100"
    lines.append(f"{out}[i] = s")
    return lines, f"sums {term.phrase} over j from 0 to {words} and writes the sum to {out}[i]."


def _loop_product(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    bound, words = _loop_bound(rng, kb)
    term = _with_index(rng, kb, kb.expr(SCALAR, rng.randint(1, 2)))
    lines = ["p = float(1.0)", f"for j in range({bound}):", f"    p *= 1.0 + 0.1 * wp.sin({term.code})"]
    lines.append(f"{out}[i] = p")
    return lines, f"multiplies 1 + 0.1 sin({term.phrase}) over j from 0 to {words} and writes the product to {out}[i]."


def _while(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    steps = rng.randint(2, 6)
    start = kb.expr(SCALAR, rng.randint(1, 2))
    update = grammar.involve(rng, kb.scope, kb.expr(SCALAR, 1), SCALAR, Expr("v", "v"), SCALAR)
    lines = [
        f"v = {start.code}",
        "k = int(0)",
        f"while k < {steps}:",
        f"    v = 0.5 * v + 0.5 * {update.code}",
        "    k += 1",
    ]
    lines.append(f"{out}[i] = v")
    return lines, (
        f"starts v at {start.phrase}, then {steps} times replaces v by the average of v and {update.phrase}, "
        f"and writes v to {out}[i]."
    )


def _early_return(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    cond = _condition(rng, kb)
    fallback = grammar.constant(rng, SCALAR)
    value = kb.expr(SCALAR, rng.randint(1, 3))
    lines = [f"if {cond.code}:", f"    {out}[i] = {fallback.code}", "    return", f"{out}[i] = {value.code}"]
    return (
        lines,
        f"writes {fallback.phrase} to {out}[i] and returns early when {cond.phrase}; otherwise writes {value.phrase}.",
    )


def _select(rng: random.Random, kb: KernelBuilder, out: str) -> tuple[list[str], str]:
    cond = _condition(rng, kb)
    yes, no = kb.expr(SCALAR, rng.randint(1, 2)), kb.expr(SCALAR, rng.randint(1, 2))
    lines = [f"{out}[i] = wp.where({cond.code}, {yes.code}, {no.code})"]
    return lines, f"selects {yes.phrase} when {cond.phrase} and {no.phrase} otherwise, and writes it to {out}[i]."


CONTROL_FORMS: dict[str, Callable[[random.Random, KernelBuilder, str], tuple[list[str], str]]] = {
    "branch": _branch,
    "branch3": _branch3,
    "clamp": _clamp,
    "loop_sum": _loop_sum,
    "loop_product": _loop_product,
    "while": _while,
    "early_return": _early_return,
    "select": _select,
}

ATOMIC_FUNCS = {"atomic_add": "adds", "atomic_min": "takes the minimum of", "atomic_max": "takes the maximum of"}


def atomic(rng: random.Random) -> KernelParts:
    vector_size = rng.choice([None, None, 2, 3, 4])
    kb = KernelBuilder(rng, grammar.ops_for(("arith", "vector"), (vector_size,) if vector_size else ()))
    kb.array_inputs(SCALAR, FLOAT_INPUTS, rng.randint(1, 2))
    value_type = SCALAR
    if vector_size:
        value_type = grammar.vec(vector_size)
        kb.array_inputs(value_type, VECTOR_INPUTS, rng.randint(1, 2))
    func = "atomic_add" if vector_size else rng.choice(list(ATOMIC_FUNCS))
    target = rng.choice(("total", "acc", "bins", "hist"))
    value = kb.expr(value_type, rng.randint(1, 3))
    lines: list[str] = []
    outputs = [(target, f"wp.array(dtype={annotation(value_type)})")]
    if rng.random() < 0.5:
        slot, slot_words = "0", f"{target}[0]"
    else:
        slot, slot_words = f"i % {target}.shape[0]", f"{target}[i mod its length]"
    call = f"wp.{func}({target}, {slot}, {value.code})"
    summary = f"atomically {ATOMIC_FUNCS[func]} {value.phrase} into {slot_words}"
    if rng.random() < 0.3:
        cond = _condition(rng, kb)
        lines += [f"if {cond.code}:", f"    {call}"]
        summary += f" when {cond.phrase}"
    elif rng.random() < 0.4:
        old = rng.choice(OUTPUT_NAMES)
        lines.append(f"{old}[i] = {call}")
        outputs.append((old, f"wp.array(dtype={annotation(value_type)})"))
        summary += f", and stores the value it held before in {old}[i]"
    else:
        lines.append(call)
    return kb.parts(
        _name(f"atomic_{func[7:]}", value.ops), lines, f"For each element i, the kernel {summary}.", outputs
    )


CATEGORIES: dict[str, Callable[[random.Random], KernelParts]] = {
    "arithmetic": arithmetic,
    "vector": vector,
    "matrix": matrix,
    "control_flow": control_flow,
    "math": math,
    "atomic": atomic,
}


def render(parts: KernelParts, include_backward: bool = True) -> str:
    """The complete module: imports, module options, helpers and the kernel, PEP 8 spaced."""
    text = "import warp as wp\n"
    if not include_backward:
        text += '\nwp.set_module_options({"enable_backward": False})\n'
    signature = ", ".join(f"{name}: {type_}" for name, type_ in parts.inputs + parts.outputs)
    kernel = ["@wp.kernel", f"def {parts.name}({signature}):", "    i = wp.tid()", *_indent(parts.body)]
    for block in [*parts.helpers, "\n".join(kernel) + "\n"]:
        text += "\n\n" + block
    return text


def generate(category: str, seed: int, index: int, include_backward: bool = True) -> KernelSpec:
    """The kernel at ``index`` of ``category`` for ``seed``: the same inputs give the same kernel."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose from {sorted(CATEGORIES)}")
    rng = random.Random(f"warp-ir-pairs/{GENERATOR_VERSION}/{seed}/{category}/{index}")
    parts = CATEGORIES[category](rng)
    return KernelSpec(parts.name, category, parts.description, render(parts, include_backward))
