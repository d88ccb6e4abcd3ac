"""Seeded kernel program generator: category policies over one typed grammar and one statement builder.

A kernel is fully determined by ``(seed, category, difficulty, index)``: each index draws from
its own ``random.Random``, so any slice of a build can be generated in any process. A category
policy picks the types, operations and statement kinds; a difficulty ``Profile`` sets the sizes.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from generation.kernels import grammar
from generation.kernels.grammar import FLOAT, TYPES, Expr, Op, Scope, annotation
from generation.kernels.spec import KernelSpec

GENERATOR_VERSION = "2.1.0"

FLOAT_INPUTS = ("a", "b", "c", "x", "y", "z", "u", "w")
VECTOR_INPUTS = ("p", "q", "r", "pos", "vel", "dirs")
MATRIX_INPUTS = ("m", "rot", "basis", "frame")
GEOMETRY_INPUTS = ("pose", "xform", "orient", "spin")
OUTPUT_NAMES = ("out", "result", "dst", "res")
PARAM_NAMES = ("alpha", "beta", "scale", "gain")
HELPER_NAMES = ("blend", "shade", "combine", "score", "mix", "response", "warp_fn", "kernel_fn")
STRUCT_NAMES = ("Params", "Material", "Settings", "State", "Coeffs")
FIELD_NAMES = ("gain", "bias", "offset", "axis", "weight", "center", "stiffness", "damping", "steps", "frame")
CONSTANT_NAMES = ("GAIN", "EPS_SCALE", "BIAS", "DECAY", "SPREAD")
TID_NAMES = ("i", "j", "k")
INPUT_NAMES = {"float": FLOAT_INPUTS, "int": FLOAT_INPUTS, "bool": ("mask", "flag", "keep"), "vector": VECTOR_INPUTS}
INPUT_NAMES |= {"matrix": MATRIX_INPUTS, "quat": GEOMETRY_INPUTS, "transform": GEOMETRY_INPUTS}


@dataclass(frozen=True)
class Profile:
    """Size limits of one difficulty: expression depth, statements, block nesting, extras."""

    depth: tuple[int, int]  # expression depth, drawn in this range
    statements: tuple[int, int]  # statements before the final store
    nesting: int  # how deep blocks (if/for/while) may nest
    helper_prob: float  # chance of a wp.func helper where a category allows one
    extra_prob: float  # chance of optional extras: scalar params, constants, second outputs

    def capped(self, max_depth: int | None, max_statements: int | None) -> Profile:
        depth = self.depth if max_depth is None else tuple(min(v, max_depth) for v in self.depth)
        statements = self.statements
        if max_statements is not None:
            statements = tuple(min(v, max_statements) for v in self.statements)
        return replace(self, depth=depth, statements=statements)


PROFILES = {
    "easy": Profile(depth=(2, 3), statements=(0, 1), nesting=1, helper_prob=0.1, extra_prob=0.2),
    "medium": Profile(depth=(1, 3), statements=(1, 3), nesting=2, helper_prob=0.25, extra_prob=0.35),
    "hard": Profile(depth=(2, 4), statements=(2, 6), nesting=3, helper_prob=0.45, extra_prob=0.5),
}
# "mixed" draws a difficulty per kernel with these weights.
MIXED_WEIGHTS = {"easy": 0.3, "medium": 0.4, "hard": 0.3}
DIFFICULTIES = (*PROFILES, "mixed")


@dataclass
class KernelParts:
    """What a category policy builds; ``render`` turns it into a module."""

    name: str
    body: list[str]
    description: str
    inputs: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    module_blocks: list[str] = field(default_factory=list)  # constants, structs, wp.func helpers
    dims: int = 1


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]


def _sentence(phrases: list[str], final: str) -> str:
    """Verb phrases in order: ``sets t0 to ...; then ...; and finally writes ...``."""
    if not phrases:
        return final
    return "; then ".join(phrases) + "; and finally " + final


class KernelBuilder:
    """Collects typed inputs, locals, helpers and statements while a policy writes a kernel."""

    def __init__(self, rng: random.Random, profile: Profile, ops: list[Op], const_prob: float = 0.2, dims: int = 1):
        self.rng = rng
        self.profile = profile
        self.scope = Scope(ops=list(ops), const_prob=const_prob)
        self.inputs: list[tuple[str, str]] = []
        self.module_blocks: list[str] = []
        self.helper_notes: list[str] = []
        self.locals: list[tuple[Expr, str]] = []  # locals of the current block, for use_all_locals
        self.counter = 0
        self.dims = dims
        self.loop_bounds: list[tuple[str, str]] = []  # (code, words) of int bounds: params, struct fields
        self.reducible: list[tuple[str, str]] = []  # (array name, type) with one dimension more than the launch
        self.atomic_targets: list[tuple[str, str]] = []
        self.outputs: list[tuple[str, str]] = []
        self.outputs_written: list[tuple[str, str]] = []  # outputs an early return may write
        self.struct: tuple[str, str, list[tuple[str, str]]] | None = None  # class, argument, fields
        self.sink: str | None = None  # the type the current block's locals are folded into at its end

    # -- names and inputs -------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        name = f"{prefix}{self.counter}"
        self.counter += 1
        return name

    @property
    def index(self) -> str:
        return ", ".join(TID_NAMES[: self.dims])

    def array_annotation(self, type_name: str, ndim: int | None = None) -> str:
        ndim = ndim or self.dims
        kind = "wp.array" if ndim == 1 else f"wp.array{ndim}d"
        return f"{kind}(dtype={annotation(type_name)})"

    def unused(self, names: tuple[str, ...]) -> list[str]:
        taken = {n for n, _ in self.inputs + self.outputs}
        return [n for n in names if n not in taken]

    def array_inputs(self, type_name: str, count: int, names: tuple[str, ...] | None = None) -> None:
        names = names or INPUT_NAMES[TYPES[type_name].kind]
        for name in self.rng.sample(self.unused(names), count):
            self.inputs.append((name, self.array_annotation(type_name)))
            self.scope.add_leaf(type_name, Expr(f"{name}[{self.index}]", f"{name}[{self.index}]"))

    def scalar_param(self, type_name: str = FLOAT) -> None:
        name = self.rng.choice(self.unused(PARAM_NAMES))
        self.inputs.append((name, annotation(type_name)))
        self.scope.add_leaf(type_name, Expr(name, name))

    def count_param(self) -> None:
        """An int argument used as a loop bound."""
        name = self.rng.choice(self.unused(("n", "count", "iters")))
        self.inputs.append((name, "int"))
        self.loop_bounds.append((name, name))

    def reducible_input(self, type_name: str) -> None:
        """An array with one more dimension than the launch, summed over its last axis."""
        name = self.rng.choice(self.unused(("samples", "stack", "field", "grid")))
        self.inputs.append((name, self.array_annotation(type_name, self.dims + 1)))
        self.reducible.append((name, type_name))

    def module_constant(self, type_name: str = FLOAT) -> None:
        """A ``wp.constant`` at module level, folded into the generated code."""
        name = self.rng.choice([n for n in CONSTANT_NAMES if f"\n{n} =" not in "\n" + "".join(self.module_blocks)])
        value = grammar.constant(self.rng, type_name)
        self.module_blocks.append(f"{name} = wp.constant({value.code})\n")
        self.scope.add_leaf(type_name, Expr(name, name, const=True))
        if self.rng.random() < 0.5:
            self.scope.add_leaf(type_name, Expr(f"wp.static({name} * 2.0)", f"twice {name}", const=True))

    def struct_input(self, field_types: list[str]) -> str:
        """A ``@wp.struct`` argument; its fields become leaves (int fields become loop bounds)."""
        struct = self.rng.choice(STRUCT_NAMES)
        names = self.rng.sample(FIELD_NAMES, len(field_types))
        fields = [f"    {n}: {annotation(t)}" for n, t in zip(names, field_types, strict=True)]
        self.module_blocks.append(f"@wp.struct\nclass {struct}:\n" + "\n".join(fields) + "\n")
        arg = self.rng.choice(("params", "cfg", "props"))
        self.inputs.append((arg, struct))
        self.struct = (struct, arg, list(zip(names, field_types, strict=True)))
        for n, t in zip(names, field_types, strict=True):
            if t == "int32":
                self.loop_bounds.append((f"{arg}.{n}", f"{arg}.{n}"))
            else:
                self.scope.add_leaf(t, Expr(f"{arg}.{n}", f"{arg}.{n}"))
        return struct

    def output(self, type_name: str) -> str:
        name = self.rng.choice(self.unused(OUTPUT_NAMES))
        self.outputs.append((name, self.array_annotation(type_name)))
        return name

    # -- expressions -----------------------------------------------------------------------

    def depth(self) -> int:
        return self.rng.randint(*self.profile.depth)

    def expr(self, type_name: str, depth: int | None = None) -> Expr:
        return grammar.expression(self.rng, self.scope, type_name, self.depth() if depth is None else depth)

    def rooted(self, type_name: str, depth: int | None = None, groups: tuple[str, ...] | None = None) -> Expr:
        """An expression whose outermost operation comes from ``groups`` (any group when None)."""
        ops = self.scope.ops_returning(type_name, groups)
        if not ops:
            return self.expr(type_name, depth)
        return grammar.apply(self.rng, self.scope, grammar.choose(self.rng, ops), max(depth or self.depth(), 1))

    def bind(self, value: Expr, type_name: str, lines: list[str], phrases: list[str]) -> tuple[Expr, str]:
        """Bind ``value`` to a new local ``t<n>`` and make that local a leaf."""
        name = self.fresh("t")
        lines.append(f"{name} = {value.code}")
        phrases.append(f"sets {name} to {value.phrase}")
        local = Expr(name, name, value.ops)
        self.scope.add_leaf(type_name, local)
        self.locals.append((local, type_name))
        return local, type_name

    def use_all_locals(self, value: Expr, type_name: str) -> Expr:
        """Fold every local of the block the value does not read yet into it, so no statement is dead."""
        for local, local_type in self.locals:
            value = grammar.involve(self.rng, self.scope, value, type_name, local, local_type)
        return value

    def value_types(self) -> list[str]:
        """Types an expression can be built for: they have leaves and operations."""
        return [t for t in self.scope.leaves if self.scope.ops_returning(t)]

    def rooted_type(self, types: set[str], groups: tuple[str, ...]) -> str:
        """A result type among ``types`` that some operation of ``groups`` produces."""
        return self.rng.choice([t for t in sorted(types) if self.scope.ops_returning(t, groups)])

    def local_types(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Types a new local may have: ones the block's sink can fold in, so no local is dead."""
        types = [t for t in self.value_types() if kinds is None or TYPES[t].kind in kinds]
        return [t for t in types if self.sink is None or grammar.reachable(self.scope, t, self.sink)]

    def condition(self) -> Expr:
        """A data-dependent comparison (so the branch is not folded away)."""
        comparable = [t for t in self.value_types() if TYPES[t].kind in ("float", "int") and t != "float16"]
        if not comparable:
            return self.expr("bool", 1)
        t = self.rng.choice(comparable)
        left = self.expr(t, self.rng.randint(0, 2))
        right = grammar.constant(self.rng, t) if self.rng.random() < 0.6 else self.expr(t, 1)
        if right.code == left.code:  # `x < x` is decided before the kernel runs
            right = grammar.constant(self.rng, t)
        symbol, words = self.rng.choice(
            [(">", "is greater than"), ("<", "is less than"), (">=", "is at least"), ("<=", "is at most")]
        )
        return Expr(f"{left.code} {symbol} {right.code}", f"{left.phrase} {words} {right.phrase}", left.ops + right.ops)

    # -- helpers ---------------------------------------------------------------------------

    def helper(self, result: str, arg_types: tuple[str, ...], depth: int, statements: int = 0) -> Op:
        """Write a ``@wp.func`` over fresh parameters (locals and an early return when
        ``statements``) and offer it as an operation; it may call the helpers before it."""
        name = self.rng.choice([n for n in HELPER_NAMES if f"def {n}(" not in "".join(self.module_blocks)])
        params = [chr(ord("x") + k) if k < 3 else f"p{k}" for k in range(len(arg_types))]
        inner = Scope(ops=list(self.scope.ops), const_prob=0.25)
        for param, type_name in zip(params, arg_types, strict=True):
            inner.add_leaf(type_name, Expr(param, param))
        signature = [f"{p}: {annotation(t)}" for p, t in zip(params, arg_types, strict=True)]
        call_prefix = ""
        if self.struct and self.rng.random() < 0.6:  # the helper also reads the kernel's struct
            struct, arg, fields = self.struct
            signature.insert(0, f"s: {struct}")
            call_prefix = f"{arg}, "
            for field_name, type_name in fields:
                if type_name != "int32":
                    inner.add_leaf(type_name, Expr(f"s.{field_name}", f"s.{field_name}"))
        body: list[str] = []
        notes: list[str] = []
        sub = KernelBuilder(self.rng, self.profile, [], dims=self.dims)
        sub.scope, sub.sink = inner, result  # its locals must fold into what it returns
        for _ in range(statements):
            t = self.rng.choice(sub.local_types() or [result])
            sub.bind(sub.rooted(t, depth), t, body, notes)
        if statements and self.rng.random() < 0.6:
            cond = sub.condition()
            early = grammar.expression(self.rng, inner, result, max(1, depth - 1))
            body += [f"if {cond.code}:", f"    return {early.code}"]
            notes.append(f"returns {early.phrase} early when {cond.phrase}")
        final = sub.use_all_locals(grammar.expression(self.rng, inner, result, depth), result)
        body.append(f"return {final.code}")
        notes.append(f"returns {final.phrase}")
        header = f"@wp.func\ndef {name}({', '.join(signature)}):\n"
        self.module_blocks.append(header + "\n".join(_indent(body)) + "\n")
        self.helper_notes.append(f"{name}({', '.join(params)}) " + ", then ".join(notes))
        placeholders = ", ".join(f"{{{k}}}" for k in range(len(arg_types)))
        call = f"{name}({call_prefix}{placeholders})"
        op = Op(name, name, result, arg_types, call, f"{name}({placeholders})", "helper", None, 2)
        self.scope.ops.append(op)
        return op

    def maybe_helper(self, lines: list[str], phrases: list[str], statements: int = 0) -> None:
        """With the profile's chance, write a helper and bind one call of it to a local."""
        if self.rng.random() >= self.profile.helper_prob or not self.local_types():
            return
        arg_types = tuple(self.rng.choice(list(self.scope.leaves)) for _ in range(self.rng.randint(1, 2)))
        op = self.helper(self.rng.choice(self.local_types()), arg_types, self.rng.randint(1, 2), statements)
        self.bind(grammar.apply(self.rng, self.scope, op, depth=2), op.result, lines, phrases)

    # -- statements ------------------------------------------------------------------------

    def statements(self, lines: list[str], phrases: list[str], count: int, nesting: int, kinds: dict) -> None:
        """``count`` statements drawn from ``kinds`` (name -> weight); blocks only while ``nesting``."""
        allowed = {k: w for k, w in kinds.items() if nesting > 0 or k not in BLOCK_STATEMENTS}
        allowed = {k: w for k, w in allowed.items() if STATEMENT_READY[k](self)}
        for _ in range(count):
            if not allowed:
                return
            kind = self.rng.choices(list(allowed), weights=list(allowed.values()))[0]
            STATEMENTS[kind](self, lines, phrases, nesting, kinds)

    def target(self, lines: list[str], phrases: list[str]) -> tuple[Expr, str]:
        """A local of the current block that a nested block updates (bound now if there is none)."""
        kinds = ("float", "int", "vector")
        mutable = [(e, t) for e, t in self.locals if TYPES[t].kind in kinds and t in self.local_types()]
        if mutable:
            return self.rng.choice(mutable)
        t = self.rng.choice(self.local_types(kinds) or self.local_types())
        return self.bind(self.rooted(t), t, lines, phrases)

    def nested(self, nesting: int, kinds: dict, target: tuple[Expr, str], extra: Expr | None = None) -> tuple:
        """A block that may declare its own locals and ends by updating ``target`` with all of them
        (and with ``extra``, a loop index of the target's type, when given)."""
        saved_scope, saved_locals, saved_sink = self.scope, self.locals, self.sink
        self.scope, self.locals, self.sink = self.scope.copy(), [], target[1]
        lines: list[str] = []
        phrases: list[str] = []
        self.statements(lines, phrases, self.rng.randint(0, 2), nesting - 1, kinds)
        local, local_type = target
        value = self.use_all_locals(self.rooted(local_type), local_type)  # an operation: never `t = t`
        if extra is not None:
            value = grammar.involve(self.rng, self.scope, value, local_type, extra, local_type)
        value = grammar.involve(self.rng, self.scope, value, local_type, local, local_type)
        lines.append(f"{local.code} = {value.code}")
        phrases.append(f"sets {local.code} to {value.phrase}")
        self.scope, self.locals, self.sink = saved_scope, saved_locals, saved_sink
        return lines, phrases

    def parts(self, name: str, body: list[str], summary: str) -> KernelParts:
        """Keep only the inputs the body reads, and add the helper notes to the description."""
        text = "\n".join(body + self.module_blocks)
        used = [(n, t) for n, t in self.inputs if grammar.mentions(text, n)]
        description = summary
        if self.helper_notes:
            description += " Here " + "; ".join(self.helper_notes) + "."
        return KernelParts(name, body, description, used, self.outputs, self.module_blocks, self.dims)


def _assign(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    t = kb.rng.choice(kb.local_types())
    kb.bind(kb.rooted(t), t, lines, phrases)


def _if(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    target = kb.target(lines, phrases)
    branches = kb.rng.choice((1, 2, 2, 3))  # if / if-else / if-elif-else
    text = []
    for k in range(branches):
        body, words = kb.nested(nesting, kinds, target)
        if k == 0 or k < branches - 1:
            cond = kb.condition()
            lines.append(f"{'if' if k == 0 else 'elif'} {cond.code}:")
            text.append(f"when {cond.phrase} it {', '.join(words)}")
        else:
            lines.append("else:")
            text.append(f"otherwise it {', '.join(words)}")
        lines.extend(_indent(body))
    phrases.append("; ".join(text))


def typed(t: str, value: str) -> str:
    """``value`` (a literal or an int variable) converted to scalar type ``t``: ``float(it)``."""
    if TYPES[t].kind == "float" and value.isdigit():
        value += ".0"
    return f"{TYPES[t].annotation}({value})"


STATIC_BOUND_NAMES = ("STEPS", "ITERS", "TAPS")


def _loop_bound(kb: KernelBuilder, unrolled: bool) -> tuple[str, str]:
    """A loop bound and its words: an int argument, or (when ``unrolled``) perhaps a constant."""
    roll = kb.rng.random()
    if not unrolled or (kb.loop_bounds and roll < 0.4):
        if not kb.loop_bounds:
            kb.count_param()
        return kb.rng.choice(kb.loop_bounds)
    if roll < 0.55:
        name = kb.rng.choice(STATIC_BOUND_NAMES)
        if f"{name} = " not in "".join(kb.module_blocks):
            kb.module_blocks.append(f"{name} = {kb.rng.randint(2, 6)}\n")
        return f"wp.static({name})", name
    count = str(kb.rng.randint(2, 8))
    return count, count


def _has_block(body: list[str]) -> bool:
    return any(line.lstrip().startswith(("if ", "for ", "while ")) for line in body)


def _for(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    """A loop that accumulates into a new local.

    Warp unrolls a loop over a constant (``wp.static`` too) into one copy of its body per trip,
    so a body with blocks gets an argument as its bound: unrolled nests of blocks made kernels of
    1.6 MB of CUDA that NVRTC took 68 s to compile.
    """
    t = kb.rng.choice(kb.local_types(("float", "int")) or [FLOAT])
    acc = kb.fresh("s")
    it = kb.fresh("it")
    body, inner = kb.nested(nesting, kinds, (Expr(acc, acc), t), extra=Expr(typed(t, it), it))
    bound, words = _loop_bound(kb, unrolled=not _has_block(body))
    lines.append(f"{acc} = {typed(t, '0')}")  # a typed value, not a literal, so Warp lets the loop mutate it
    lines.append(f"for {it} in range({bound}):")
    lines.extend(_indent(body))
    phrases.append(f"loops {it} from 0 to {words} where it {', '.join(inner)}")
    local = Expr(acc, acc)
    kb.scope.add_leaf(t, local)
    kb.locals.append((local, t))


def _while(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    target = kb.target(lines, phrases)
    counter, steps = kb.fresh("k"), kb.rng.randint(2, 6)
    body, words = kb.nested(nesting, kinds, target)
    lines += [f"{counter} = int(0)", f"while {counter} < {steps}:", *_indent(body), f"    {counter} += 1"]
    phrases.append(f"repeats {steps} times: it {', '.join(words)}")


def _reduce(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    """Sum an array's extra last dimension: the launch indexes the others."""
    name, t = kb.rng.choice(kb.reducible)
    acc, it = kb.fresh("s"), kb.fresh("it")
    lines += [f"{acc} = {typed(t, '0')}", f"for {it} in range({name}.shape[{kb.dims}]):"]
    lines.append(f"    {acc} += {name}[{kb.index}, {it}]")
    phrases.append(f"{acc} = the sum of {name}[{kb.index}, :]")
    local = Expr(acc, acc)
    kb.scope.add_leaf(t, local)
    kb.locals.append((local, t))


ATOMIC_FUNCS = {"atomic_add": "adds", "atomic_sub": "subtracts", "atomic_min": "takes the minimum of"}
ATOMIC_FUNCS |= {"atomic_max": "takes the maximum of"}
INT_ATOMIC_FUNCS = {"atomic_and": "bitwise-ands", "atomic_or": "bitwise-ors", "atomic_xor": "bitwise-xors"}


def _atomic(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    target, t = kb.rng.choice(kb.atomic_targets)
    value = kb.use_all_locals(kb.expr(t), t)
    funcs = dict(ATOMIC_FUNCS) if TYPES[t].kind in ("float", "int") else {"atomic_add": "adds"}
    if TYPES[t].kind == "int":
        funcs |= INT_ATOMIC_FUNCS
    func = kb.rng.choice(list(funcs))
    slot, slot_words = kb.rng.choice([("0", f"{target}[0]"), (f"i % {target}.shape[0]", f"{target}[i mod its length]")])
    if func == "atomic_add" and kb.rng.random() < 0.3:
        lines.append(f"{target}[{slot}] += {value.code}")  # Warp makes this an atomic add
    else:
        lines.append(f"wp.{func}({target}, {slot}, {value.code})")
    phrases.append(f"atomically {funcs[func]} {value.phrase} into {slot_words}")


def _early_return(kb: KernelBuilder, lines: list, phrases: list, nesting: int, kinds: dict) -> None:
    out, t = kb.rng.choice(kb.outputs_written)
    cond = kb.condition()
    fallback = grammar.constant(kb.rng, t)
    lines += [f"if {cond.code}:", f"    {out}[{kb.index}] = {fallback.code}", "    return"]
    phrases.append(f"writes {fallback.phrase} to {out} and returns early when {cond.phrase}")


STATEMENTS: dict[str, Callable] = {
    "assign": _assign,
    "if": _if,
    "for": _for,
    "while": _while,
    "reduce": _reduce,
    "atomic": _atomic,
    "return": _early_return,
}
BLOCK_STATEMENTS = {"if", "for", "while"}
STATEMENT_READY: dict[str, Callable[[KernelBuilder], bool]] = {
    "assign": lambda kb: bool(kb.local_types()),
    "if": lambda kb: bool(kb.local_types()),
    "for": lambda kb: bool(kb.local_types()),
    "while": lambda kb: bool(kb.local_types()),
    "reduce": lambda kb: bool(kb.reducible),
    "atomic": lambda kb: bool(kb.atomic_targets),
    "return": lambda kb: bool(kb.outputs_written),
}
ALL_STATEMENTS = {"assign": 3, "if": 2, "for": 2, "while": 1, "reduce": 2, "atomic": 1, "return": 0.5}


def _name(prefix: str, ops: tuple[str, ...]) -> str:
    """A readable kernel name from the first few distinct operations it uses."""
    return "_".join([prefix, *list(dict.fromkeys(ops))[:3]])


def _store(kb: KernelBuilder, out_type: str, root_groups: tuple[str, ...] | None) -> tuple[str, Expr]:
    """The final ``out[i] = ...`` that reads every local of the kernel's top block."""
    result = kb.use_all_locals(kb.rooted(out_type, None, root_groups), out_type)
    out = kb.output(out_type)
    return f"{out}[{kb.index}] = {result.code}", result


def _each(kb: KernelBuilder) -> str:
    return "For each element i" if kb.dims == 1 else f"For each ({kb.index})"


def _program(
    kb: KernelBuilder, prefix: str, out_type: str, kinds: dict, root_groups=None, min_statements=0
) -> KernelParts:
    """Statements drawn from ``kinds``, then a final store: the shape of most categories."""
    lines: list[str] = []
    phrases: list[str] = []
    kb.sink = out_type
    kb.maybe_helper(lines, phrases, statements=kb.rng.randint(0, 1))
    count = max(min_statements, kb.rng.randint(*kb.profile.statements))
    kb.statements(lines, phrases, count, kb.profile.nesting, kinds)
    store, result = _store(kb, out_type, root_groups)
    lines.append(store)
    summary = f"{_each(kb)}, the kernel " + _sentence(phrases, f"writes {result.phrase} to {store.split('[')[0]}.")
    return kb.parts(_name(prefix, result.ops), lines, summary)


# -- category policies ------------------------------------------------------------------------

SCALAR_WEIGHTS = {"float32": 4, "float64": 1.5, "float16": 1, "int32": 1.5, "int64": 1}


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def arithmetic(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, SCALAR_WEIGHTS)
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "int"), {t}))
    kb.array_inputs(t, rng.randint(1, 3))
    if rng.random() < profile.extra_prob:
        kb.scalar_param(t)
    return _program(kb, f"arith_{t}", t, {"assign": 1}, ("arith", "int"))


def math(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 4, "float64": 1.5, "float16": 1})
    ops = [replace(o, weight=3.0 if len(o.args) == 1 else 1.0) for o in grammar.ops_for(("arith", "math"), {t})]
    deeper = replace(profile, depth=(profile.depth[0] + 1, profile.depth[1] + 1))  # chains of functions
    kb = KernelBuilder(rng, deeper, ops, const_prob=0.1)
    kb.array_inputs(t, rng.randint(1, 2))
    if rng.random() < profile.extra_prob and t == FLOAT:
        kb.module_constant(t)
    return _program(kb, "math", t, {"assign": 1}, ("math",))


def vector(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 1})
    n = rng.choice((2, 3, 3, 4, 6)) if f == FLOAT else rng.choice((2, 3, 4))
    types = {grammar.vec(n, f), f} | ({"vec3"} if n == 6 else set())
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector"), types))
    kb.array_inputs(grammar.vec(n, f), rng.randint(1, 3))
    if rng.random() < profile.extra_prob:
        kb.array_inputs(f, 1)
    return _program(kb, f"vec{n}", kb.rooted_type(types, ("vector",)), {"assign": 1}, ("vector",))


def matrix(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 1})
    n = rng.choice((2, 3, 3, 4, 6)) if f == FLOAT else rng.choice((2, 3, 4))
    types = {grammar.mat(n, f), grammar.vec(n, f), f}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector", "matrix"), types))
    kb.array_inputs(grammar.mat(n, f), rng.randint(1, 2))
    if rng.random() < 0.7:
        kb.array_inputs(grammar.vec(n, f), 1)
    return _program(kb, f"mat{n}", kb.rooted_type(types, ("matrix",)), {"assign": 1}, ("matrix",))


def geometry(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 1})
    q, t, v = grammar.quat(f), grammar.transform(f), grammar.vec(3, f)
    types = {q, t, v, grammar.mat(3, f), f}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector", "geometry"), types))
    kb.array_inputs(rng.choice((q, t)), rng.randint(1, 2))
    kb.array_inputs(v, 1)
    return _program(kb, "geom", kb.rooted_type({q, t, v, f}, ("geometry",)), {"assign": 1}, ("geometry",))


def control_flow(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 4, "float64": 1, "int32": 1})
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "int"), {t}))
    kb.array_inputs(t, rng.randint(1, 3))
    if rng.random() < profile.extra_prob:
        kb.count_param()
    out = kb.output(t)
    kb.outputs_written.append((out, t))
    kb.sink = t
    kinds = {"if": 3, "for": 2, "while": 1, "assign": 1}
    lines: list[str] = []
    phrases: list[str] = []
    if rng.random() < 0.25:
        STATEMENTS["return"](kb, lines, phrases, 1, kinds)
    nesting = max(1, profile.nesting)
    kb.statements(lines, phrases, 1, nesting, {k: w for k, w in kinds.items() if k in BLOCK_STATEMENTS})
    kb.statements(lines, phrases, rng.randint(*profile.statements) - 1, nesting, kinds)
    result = kb.use_all_locals(kb.expr(t), t)
    lines.append(f"{out}[{kb.index}] = {result.code}")
    summary = f"{_each(kb)}, the kernel " + _sentence(phrases, f"writes {result.phrase} to {out}[{kb.index}].")
    forms = [line.split()[0] for line in lines if line.split()[0] in ("if", "for", "while")]
    return kb.parts(_name("cf", (*forms, *result.ops)), lines, summary)


def atomic(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 4, "int32": 1.5, "vec3": 1, "vec2": 0.5, "vec4": 0.5, "float64": 0.5})
    scalar = TYPES[t].scalar
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "int", "vector"), {t, scalar}))
    kb.array_inputs(scalar, rng.randint(1, 2))
    if t != scalar:
        kb.array_inputs(t, rng.randint(1, 2))
    target = rng.choice(("total", "acc", "bins", "hist"))
    kb.outputs.append((target, kb.array_annotation(t)))
    kb.atomic_targets.append((target, t))
    lines: list[str] = []
    phrases: list[str] = []
    kb.statements(lines, phrases, rng.randint(*profile.statements), 1, {"assign": 2, "if": 1})
    if rng.random() < 0.3:
        cond = kb.condition()
        body: list[str] = []
        _atomic(kb, body, phrases, 0, {})
        lines += [f"if {cond.code}:", *_indent(body)]
        phrases[-1] += f" when {cond.phrase}"
    else:
        _atomic(kb, lines, phrases, 0, {})
    called = re.search(r"wp\.atomic_(\w+)\(", "\n".join(lines))
    func = called.group(1) if called else "add"
    summary = f"{_each(kb)}, the kernel " + _sentence(phrases[:-1], phrases[-1] + ".")
    return kb.parts(f"atomic_{func}_{t}", lines, summary)


def struct(rng: random.Random, profile: Profile) -> KernelParts:
    f = _pick(rng, {"float32": 3, "float64": 1})
    types = {f, grammar.vec(3, f), "int32"}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector", "convert"), types))
    fields = [f, rng.choice((f, grammar.vec(3, f))), *rng.sample([f, grammar.vec(3, f), "int32"], rng.randint(0, 2))]
    kb.struct_input(fields)
    kb.array_inputs(rng.choice((f, grammar.vec(3, f))), rng.randint(1, 2))
    out_type = rng.choice(sorted(types - {"int32"}))
    kinds = {"assign": 2, "for": 1, "if": 1}
    return _program(kb, "struct", out_type, kinds)


def func(rng: random.Random, profile: Profile) -> KernelParts:
    t = _pick(rng, {"float32": 3, "float64": 1, "vec3": 1})
    scalar = TYPES[t].scalar
    types = {t, scalar}
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "math", "vector"), types))
    kb.array_inputs(t, rng.randint(1, 2))
    if t != scalar:
        kb.array_inputs(scalar, 1)
    lines: list[str] = []
    phrases: list[str] = []
    for _ in range(rng.randint(1, 1 + profile.nesting)):
        arg_types = tuple(rng.choice(sorted(types)) for _ in range(rng.randint(1, 3)))
        op = kb.helper(rng.choice(sorted(types)), arg_types, kb.depth(), statements=rng.randint(0, profile.nesting))
        kb.bind(grammar.apply(rng, kb.scope, op, depth=2), op.result, lines, phrases)
    store, result = _store(kb, t, ("helper",))
    lines.append(store)
    summary = f"{_each(kb)}, the kernel " + _sentence(phrases, f"writes {result.phrase} to {store.split('[')[0]}.")
    return kb.parts(_name("func", result.ops), lines, summary)


def multidim(rng: random.Random, profile: Profile) -> KernelParts:
    dims = rng.choice((2, 2, 3))
    t = _pick(rng, {"float32": 3, "float64": 1, "vec3": 1})
    scalar = TYPES[t].scalar
    kb = KernelBuilder(rng, profile, grammar.ops_for(("arith", "vector"), {t, scalar}), dims=dims)
    kb.array_inputs(t, rng.randint(1, 2))
    if rng.random() < 0.6:
        kb.reducible_input(scalar)
    kinds = {"assign": 2, "reduce": 3, "if": 1, "for": 1}
    return _program(kb, f"grid{dims}d", t, kinds, min_statements=1 if kb.reducible else 0)


def mixed(rng: random.Random, profile: Profile) -> KernelParts:
    """Everything at once: several types, helpers, structs, constants, blocks and atomics."""
    dims = rng.choice((1, 1, 2, 3))
    main = _pick(rng, {"float32": 4, "float64": 1, "int32": 1})
    extra = rng.sample(["vec3", "mat33", "quat", "float16", "int32", "bool", "vec2", "transform"], rng.randint(1, 3))
    types = {main, FLOAT, *extra}
    if "quat" in types or "transform" in types:
        types |= {"vec3"}
    kb = KernelBuilder(rng, profile, grammar.ops_for(tuple(GROUPS), types), dims=dims)
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


GROUPS = ("arith", "math", "int", "bool", "convert", "select", "vector", "matrix", "geometry")

CATEGORIES: dict[str, Callable[[random.Random, Profile], KernelParts]] = {
    "arithmetic": arithmetic,
    "vector": vector,
    "matrix": matrix,
    "control_flow": control_flow,
    "math": math,
    "atomic": atomic,
    "geometry": geometry,
    "struct": struct,
    "func": func,
    "multidim": multidim,
    "mixed": mixed,
}


def render(parts: KernelParts, include_backward: bool = True) -> str:
    """The complete module: imports, module options, constants, structs, helpers and the kernel."""
    text = "import warp as wp\n"
    if not include_backward:
        text += '\nwp.set_module_options({"enable_backward": False})\n'
    signature = ", ".join(f"{name}: {type_}" for name, type_ in parts.inputs + parts.outputs)
    tid = f"    {', '.join(TID_NAMES[: parts.dims])} = wp.tid()"
    kernel = ["@wp.kernel", f"def {parts.name}({signature}):", tid, *_indent(parts.body)]
    for block in [*parts.module_blocks, "\n".join(kernel) + "\n"]:
        text += "\n\n" + block
    return text


def check_choice(kind: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; choose from {sorted(allowed)}")


def generate(
    category: str,
    seed: int,
    index: int,
    include_backward: bool = True,
    difficulty: str = "mixed",
    max_depth: int | None = None,
    max_statements: int | None = None,
) -> KernelSpec:
    """The kernel at ``index`` of ``category`` for ``seed``: the same inputs give the same kernel."""
    check_choice("category", category, CATEGORIES)
    check_choice("difficulty", difficulty, DIFFICULTIES)
    rng = random.Random(f"warp-ir-pairs/{GENERATOR_VERSION}/{seed}/{category}/{difficulty}/{index}")
    level = _pick(rng, MIXED_WEIGHTS) if difficulty == "mixed" else difficulty
    profile = PROFILES[level].capped(max_depth, max_statements)
    parts = CATEGORIES[category](rng, profile)
    recipe = json.dumps(
        {
            "category": category,
            "seed": seed,
            "index": index,
            "include_backward": include_backward,
            "difficulty": difficulty,
            "max_depth": max_depth,
            "max_statements": max_statements,
        },
        sort_keys=True,
    )
    return KernelSpec(parts.name, category, parts.description, render(parts, include_backward), level, recipe)
