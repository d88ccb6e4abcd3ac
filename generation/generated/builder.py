"""The statement builder: what a category policy writes a kernel with.

``KernelBuilder`` keeps the generation context (the scope of typed leaves and operations, the
kernel's inputs, the names taken at module level, what has been read) and emits statements into
the current ``Block``, one ``emit_<kind>`` method per statement kind, the way Warp's
``Adjoint.emit_<Node>`` methods emit code. Choices are recorded as data as they are made: a
block's lines carry their statement kind, expressions carry the names they read, and module
names are a set, so nothing is decided by reading the emitted text back.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from generation.generated import grammar
from generation.generated.grammar import FLOAT, Expr, Op, Scope, annotation, named
from generation.source.warp_types import TYPES

FLOAT_INPUTS = ("a", "b", "c", "x", "y", "z", "u", "w")
VECTOR_INPUTS = ("p", "q", "r", "pos", "vel", "dirs")
MATRIX_INPUTS = ("m", "rot", "basis", "frame")
GEOMETRY_INPUTS = ("pose", "xform", "orient", "spin")
OUTPUT_NAMES = ("out", "result", "dst", "res")
PARAM_NAMES = ("alpha", "beta", "scale", "gain")
COUNT_NAMES = ("n", "count", "iters")
REDUCIBLE_NAMES = ("samples", "stack", "field", "grid")
HELPER_NAMES = ("blend", "shade", "combine", "score", "mix", "response", "warp_fn", "kernel_fn")
STRUCT_NAMES = ("Params", "Material", "Settings", "State", "Coeffs")
STRUCT_ARGS = ("params", "cfg", "props")
FIELD_NAMES = ("gain", "bias", "offset", "axis", "weight", "center", "stiffness", "damping", "steps", "frame")
CONSTANT_NAMES = ("GAIN", "EPS_SCALE", "BIAS", "DECAY", "SPREAD")
STATIC_BOUND_NAMES = ("STEPS", "ITERS", "TAPS")
TID_NAMES = ("i", "j", "k")
INPUT_NAMES = {"float": FLOAT_INPUTS, "int": FLOAT_INPUTS, "bool": ("mask", "flag", "keep"), "vector": VECTOR_INPUTS}
INPUT_NAMES |= {"matrix": MATRIX_INPUTS, "quat": GEOMETRY_INPUTS, "transform": GEOMETRY_INPUTS, "tile": FLOAT_INPUTS}

BLOCK_STATEMENTS = ("if", "for", "while")
ATOMIC_FUNCS = {"atomic_add": "adds", "atomic_sub": "subtracts", "atomic_min": "takes the minimum of"}
ATOMIC_FUNCS |= {"atomic_max": "takes the maximum of"}
INT_ATOMIC_FUNCS = {"atomic_and": "bitwise-ands", "atomic_or": "bitwise-ors", "atomic_xor": "bitwise-xors"}
INT_ATOMIC_FUNCS |= {"atomic_exch": "exchanges", "atomic_cas": "compares and swaps"}
ATOMIC_TYPES = ("float32", "float64", "int32", "uint32", "int64", "uint64")  # widths Warp's atomics take
COMPARISONS = [(">", "is greater than"), ("<", "is less than"), (">=", "is at least"), ("<=", "is at most")]


@dataclass(frozen=True)
class Profile:
    """Size limits of one difficulty: expression depth, statements, block nesting, extras."""

    depth: tuple[int, int]  # expression depth, drawn in this range
    statements: tuple[int, int]  # statements before the final store
    nesting: int  # how deep blocks (if/for/while) may nest
    helper_prob: float  # chance of a wp.func helper where a category allows one
    extra_prob: float  # chance of optional extras: scalar params, constants, second outputs


@dataclass
class Block:
    """Statements in order, each line with the kind of statement it starts ("" for other lines),
    and the English phrases that describe them."""

    lines: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)

    def add(self, line: str, kind: str = "") -> None:
        self.lines.append(line)
        self.kinds.append(kind)

    def nest(self, body: Block) -> None:
        """``body`` one level in, below a header line just added."""
        self.lines.extend(indent(body.lines))
        self.kinds.extend(body.kinds)

    def forms(self) -> list[str]:
        """The block statements (if, for, while) at any depth, in source order."""
        return [kind for kind in self.kinds if kind in BLOCK_STATEMENTS]

    @property
    def has_block(self) -> bool:
        return bool(self.forms())


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


def indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]


def sentence(phrases: list[str], final: str) -> str:
    """Verb phrases in order: ``sets t0 to ...; then ...; and finally writes ...``."""
    if not phrases:
        return final
    return "; then ".join(phrases) + "; and finally " + final


def array_of(type_name: str, dims: int = 1) -> str:
    """The array argument that holds ``type_name`` values for a ``dims``-D launch: one element per
    index, or for a tile one row (1D tile) or slice (2D tile) per index, one dimension more each."""
    t = TYPES[type_name]
    ndim = dims + len(t.shape)
    dtype = annotation(t.scalar) if t.kind == "tile" else annotation(type_name)
    return f"wp.array(dtype={dtype})" if ndim == 1 else f"wp.array{ndim}d(dtype={dtype})"


def element(name: str, type_name: str, index: str) -> str:
    """Code that reads the ``type_name`` value of array ``name`` at ``index``: ``a[i]``, or the
    tile ``wp.tile_load(a[i], shape=8)``."""
    t = TYPES[type_name]
    if t.kind == "tile":
        return f"wp.tile_load({name}[{index}], shape={grammar.tile_shape(t.shape)})"
    return f"{name}[{index}]"


def store(name: str, type_name: str, index: str, code: str, accumulate: bool = False) -> str:
    """The statement that writes ``code`` (a ``type_name`` value) to array ``name`` at ``index``."""
    if TYPES[type_name].kind == "tile":
        return f"wp.tile_{'atomic_add' if accumulate else 'store'}({name}[{index}], {code})"
    return f"{name}[{index}] {'+=' if accumulate else '='} {code}"


RANDOM_INIT = "state = wp.rand_init({seed}, {index})"  # the draws of the random group read this state


def typed(t: str, value: str) -> str:
    """``value`` (a literal or an int variable) converted to scalar type ``t``: ``float(it)``."""
    if TYPES[t].kind == "float" and value.isdigit():
        value += ".0"
    return f"{TYPES[t].annotation}({value})"


class KernelBuilder:
    """The generation context of one kernel, and the statements a policy writes it with."""

    def __init__(self, rng: random.Random, profile: Profile, ops: list[Op], const_prob: float = 0.2, dims: int = 1):
        self.rng = rng
        self.profile = profile
        self.scope = Scope(ops=list(ops), const_prob=const_prob)
        self.block = Block()  # where statements are emitted now
        self.inputs: list[tuple[str, str]] = []
        self.outputs: list[tuple[str, str]] = []
        self.module_blocks: list[str] = []
        self.module_names: set[str] = set()  # constants, bounds, structs and helpers defined at module level
        self.helper_notes: list[str] = []
        self.locals: list[tuple[Expr, str]] = []  # locals of the current block, for use_all_locals
        self.reads: set[str] = set()  # names the kernel body reads
        self.counter = 0
        self.dims = dims
        self.loop_bounds: list[Expr] = []  # int bounds: count params, struct fields
        self.reducible: list[tuple[str, str]] = []  # (array name, type) with one dimension more than the launch
        self.atomic_targets: list[tuple[str, str]] = []
        self.arrays: list[tuple[str, str]] = []  # array inputs read one element per index, and their types
        self.atomics: list[str] = []  # the atomic functions emitted, in order
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
        return array_of(type_name, ndim or self.dims)

    def unused(self, names: tuple[str, ...]) -> list[str]:
        taken = {n for n, _ in self.inputs + self.outputs}
        return [n for n in names if n not in taken]

    def module_name(self, names: tuple[str, ...]) -> str:
        """A module-level name from ``names`` that is not taken yet, now taken."""
        name = self.rng.choice([n for n in names if n not in self.module_names])
        self.module_names.add(name)
        return name

    def array_inputs(self, type_name: str, count: int, names: tuple[str, ...] | None = None) -> None:
        names = names or INPUT_NAMES[TYPES[type_name].kind]
        for name in self.rng.sample(self.unused(names), count):
            self.inputs.append((name, self.array_annotation(type_name)))
            self.scope.add_leaf(type_name, named(name, code=element(name, type_name, self.index)))
            self.arrays.append((name, type_name))

    def load_inputs(self, type_name: str) -> None:
        """Read each input of ``type_name`` into a local once (``t0 = wp.tile_load(a[i], shape=8)``),
        which the rest of the kernel reads instead of the input."""
        inputs, self.scope.leaves[type_name] = self.scope.leaves.get(type_name, []), []
        for leaf in inputs:
            self.bind(leaf, type_name)

    def scalar_param(self, type_name: str = FLOAT) -> None:
        name = self.rng.choice(self.unused(PARAM_NAMES))
        self.inputs.append((name, annotation(type_name)))
        self.scope.add_leaf(type_name, named(name))

    def count_param(self) -> None:
        """An int argument used as a loop bound."""
        name = self.rng.choice(self.unused(COUNT_NAMES))
        self.inputs.append((name, "int"))
        self.loop_bounds.append(named(name))

    def reducible_input(self, type_name: str) -> None:
        """An array with one more dimension than the launch, summed over its last axis."""
        name = self.rng.choice(self.unused(REDUCIBLE_NAMES))
        self.inputs.append((name, self.array_annotation(type_name, self.dims + 1)))
        self.reducible.append((name, type_name))

    def module_constant(self, type_name: str = FLOAT) -> None:
        """A ``wp.constant`` at module level, folded into the generated code."""
        name = self.module_name(CONSTANT_NAMES)
        value = grammar.constant(self.rng, type_name)
        self.module_blocks.append(f"{name} = wp.constant({value.code})\n")
        self.scope.add_leaf(type_name, Expr(name, name, const=True))
        if self.rng.random() < 0.5:
            self.scope.add_leaf(type_name, Expr(f"wp.static({name} * 2.0)", f"twice {name}", const=True))

    def struct_input(self, field_types: list[str]) -> str:
        """A ``@wp.struct`` argument; its fields become leaves (int fields become loop bounds)."""
        struct = self.rng.choice(STRUCT_NAMES)
        self.module_names.add(struct)
        names = self.rng.sample(FIELD_NAMES, len(field_types))
        fields = [f"    {n}: {annotation(t)}" for n, t in zip(names, field_types, strict=True)]
        self.module_blocks.append(f"@wp.struct\nclass {struct}:\n" + "\n".join(fields) + "\n")
        arg = self.rng.choice(STRUCT_ARGS)
        self.inputs.append((arg, struct))
        self.struct = (struct, arg, list(zip(names, field_types, strict=True)))
        for n, t in zip(names, field_types, strict=True):
            leaf = named(arg, code=f"{arg}.{n}")
            if t == "int32":
                self.loop_bounds.append(leaf)
            else:
                self.scope.add_leaf(t, leaf)
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
        ops = grammar.reading_ops(self.scope, self.scope.ops_returning(type_name, groups))
        if not ops:
            return self.expr(type_name, depth)
        return grammar.apply(self.rng, self.scope, grammar.choose(self.rng, ops), max(depth or self.depth(), 1))

    def use_all_locals(self, value: Expr, type_name: str) -> Expr:
        """Fold every local of the block the value does not read yet into it, so no statement is dead."""
        return grammar.fold(self.rng, self.scope, value, type_name, self.locals)

    def value_types(self) -> list[str]:
        """Types an expression can be built for: they have leaves and operations."""
        return [t for t in self.scope.leaves if self.scope.ops_returning(t)]

    def rooted_type(self, types: set[str], groups: tuple[str, ...]) -> str:
        """A result type among ``types`` that some operation of ``groups`` produces."""
        return self.rng.choice([t for t in sorted(types) if self.scope.ops_returning(t, groups)])

    def local_types(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Types a new local may have: ones the block's sink can fold in, so no local is dead (none
        when the sink has no operation to fold a value into it)."""
        if self.sink is not None and not grammar.joining_ops(self.scope, self.sink):
            return []
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
        if right.reads & left.reads:  # `x < x`, `x > wp.abs(x)`: decided by construction, not by data
            right = grammar.constant(self.rng, t)
        symbol, words = self.rng.choice(COMPARISONS)
        return Expr(
            f"{left.code} {symbol} {right.code}",
            f"{left.phrase} {words} {right.phrase}",
            left.ops + right.ops,
            reads=left.reads | right.reads,
        )

    # -- emitting ------------------------------------------------------------------------------

    def emit(self, line: str, *read: Expr, kind: str = "") -> None:
        """Add a line to the current block, recording what its expressions read."""
        self.block.add(line, kind)
        for expr in read:
            self.reads |= expr.reads

    def say(self, phrase: str) -> None:
        self.block.phrases.append(phrase)

    def bind(self, value: Expr, type_name: str) -> tuple[Expr, str]:
        """Bind ``value`` to a new local ``t<n>`` and make that local a leaf."""
        name = self.fresh("t")
        self.emit(f"{name} = {value.code}", value)
        self.say(f"sets {name} to {value.phrase}")
        return self.new_local(name, type_name, value.ops)

    def new_local(self, name: str, type_name: str, ops: tuple[str, ...] = ()) -> tuple[Expr, str]:
        """A local the rest of the block may read; it carries the operations that computed it."""
        local = named(name, ops=ops)
        self.scope.add_leaf(type_name, local)
        self.locals.append((local, type_name))
        return local, type_name

    @contextlib.contextmanager
    def emitting_into(self, block: Block) -> Iterator[Block]:
        """Emit into ``block`` (a body to put under a header), in the same scope."""
        saved, self.block = self.block, block
        try:
            yield block
        finally:
            self.block = saved

    @contextlib.contextmanager
    def nested_block(self, sink: str | None) -> Iterator[Block]:
        """A block of its own: its locals stay inside it and fold into ``sink``; the enclosing
        scope and locals are back when it ends."""
        saved = self.scope, self.locals, self.sink
        self.scope, self.locals, self.sink = self.scope.copy(), [], sink
        try:
            with self.emitting_into(Block()) as body:
                yield body
        finally:
            self.scope, self.locals, self.sink = saved

    # -- helpers ---------------------------------------------------------------------------

    def helper(
        self, result: str, arg_types: tuple[str, ...], depth: int, statements: int = 0, ops: list[Op] | None = None
    ) -> Op:
        """Write a ``@wp.func`` over fresh parameters (locals and an early return when
        ``statements``) and offer it as an operation; it may call the helpers before it. It uses
        ``ops``, by default the kernel's less those that read the kernel's own names (its random
        state, its struct argument)."""
        name = self.module_name(HELPER_NAMES)
        params = [chr(ord("x") + k) if k < 3 else f"p{k}" for k in range(len(arg_types))]
        inner = Scope(ops=[op for op in self.scope.ops if not op.reads] if ops is None else ops, const_prob=0.25)
        for param, type_name in zip(params, arg_types, strict=True):
            inner.add_leaf(type_name, named(param))
        signature = [f"{p}: {annotation(t)}" for p, t in zip(params, arg_types, strict=True)]
        call_prefix, reads = "", frozenset()
        if self.struct and self.rng.random() < 0.6:  # the helper also reads the kernel's struct
            struct, arg, fields = self.struct
            signature.insert(0, f"s: {struct}")
            call_prefix, reads = f"{arg}, ", frozenset([arg])
            for field_name, type_name in fields:
                if type_name != "int32":
                    inner.add_leaf(type_name, named("s", code=f"s.{field_name}"))
        sub = KernelBuilder(self.rng, self.profile, [], dims=self.dims)
        sub.scope, sub.sink = inner, result  # its locals must fold into what it returns
        for _ in range(statements if sub.local_types() else 0):
            t = self.rng.choice(sub.local_types())
            sub.bind(sub.rooted(t, depth), t)
        if statements and self.rng.random() < 0.6:
            cond = sub.condition()
            early = grammar.expression(self.rng, inner, result, max(1, depth - 1))
            sub.emit(f"if {cond.code}:", kind="if")
            sub.emit(f"    return {early.code}")
            sub.say(f"returns {early.phrase} early when {cond.phrase}")
        final = sub.use_all_locals(grammar.expression(self.rng, inner, result, depth), result)
        sub.emit(f"return {final.code}")
        sub.say(f"returns {final.phrase}")
        header = f"@wp.func\ndef {name}({', '.join(signature)}):\n"
        self.module_blocks.append(header + "\n".join(indent(sub.block.lines)) + "\n")
        self.helper_notes.append(f"{name}({', '.join(params)}) " + ", then ".join(sub.block.phrases))
        placeholders = ", ".join(f"{{{k}}}" for k in range(len(arg_types)))
        call = f"{name}({call_prefix}{placeholders})"
        op = Op(name, name, result, arg_types, call, f"{name}({placeholders})", "helper", None, 2, reads)
        self.scope.ops.append(op)
        return op

    def maybe_helper(self, statements: int = 0) -> None:
        """With the profile's chance, write a helper and bind one call of it to a local."""
        if self.rng.random() >= self.profile.helper_prob or not self.local_types():
            return
        arg_types = tuple(self.rng.choice(list(self.scope.leaves)) for _ in range(self.rng.randint(1, 2)))
        op = self.helper(self.rng.choice(self.local_types()), arg_types, self.rng.randint(1, 2), statements)
        self.bind(grammar.apply(self.rng, self.scope, op, depth=2), op.result)

    # -- statements ------------------------------------------------------------------------

    def statements(self, count: int, nesting: int, kinds: dict[str, float]) -> None:
        """``count`` statements drawn from ``kinds`` (name -> weight); blocks only while ``nesting``."""
        allowed = {k: w for k, w in kinds.items() if nesting > 0 or k not in BLOCK_STATEMENTS}
        allowed = {k: w for k, w in allowed.items() if STATEMENT_READY[k](self)}
        for _ in range(count):
            if not allowed:
                return
            kind = self.rng.choices(list(allowed), weights=list(allowed.values()))[0]
            getattr(self, f"emit_{kind}")(nesting, kinds)

    def target_types(self) -> list[str]:
        """Types a nested block can update: it folds its own locals into the target, so the type
        needs a joining operation (``float32`` in an integer kernel has none)."""
        kinds = ("float", "int", "vector")
        types = [t for t in self.local_types(kinds) if grammar.joining_ops(self.scope, t)]
        return types or [t for t in self.local_types() if grammar.joining_ops(self.scope, t)]

    def accumulator_types(self) -> list[str]:
        """Scalar types a loop can accumulate into (and fold its body's locals into)."""
        return [t for t in self.target_types() if TYPES[t].kind in ("float", "int")]

    def target(self) -> tuple[Expr, str]:
        """A local of the current block that a nested block updates (bound now if there is none)."""
        types = self.target_types()
        mutable = [(e, t) for e, t in self.locals if t in types]
        if mutable:
            return self.rng.choice(mutable)
        t = self.rng.choice(types)
        return self.bind(self.rooted(t), t)

    def nested(self, nesting: int, kinds: dict, target: tuple[Expr, str], extra: Expr | None = None) -> Block:
        """A block that may declare its own locals and ends by updating ``target`` with all of them
        (and with ``extra``, a loop index of the target's type, when given)."""
        local, local_type = target
        with self.nested_block(sink=local_type) as body:
            self.statements(self.rng.randint(0, 2), nesting - 1, kinds)
            value = self.use_all_locals(self.rooted(local_type), local_type)  # an operation: never `t = t`
            if extra is not None:
                value = grammar.involve(self.rng, self.scope, value, local_type, extra, local_type)
            value = grammar.involve(self.rng, self.scope, value, local_type, local, local_type)
            self.emit(f"{local.code} = {value.code}", value)
            self.say(f"sets {local.code} to {value.phrase}")
        return body

    def emit_assign(self, nesting: int, kinds: dict) -> None:
        t = self.rng.choice(self.local_types())
        self.bind(self.rooted(t), t)

    def emit_if(self, nesting: int, kinds: dict) -> None:
        target = self.target()
        branches = self.rng.choice((1, 2, 2, 3))  # if / if-else / if-elif-else
        text = []
        for k in range(branches):
            body = self.nested(nesting, kinds, target)
            if k == 0 or k < branches - 1:
                cond = self.condition()
                keyword = "if" if k == 0 else "elif"
                self.emit(f"{keyword} {cond.code}:", cond, kind=keyword)
                text.append(f"when {cond.phrase} it {', '.join(body.phrases)}")
            else:
                self.emit("else:", kind="else")
                text.append(f"otherwise it {', '.join(body.phrases)}")
            self.block.nest(body)
        self.say("; ".join(text))

    def loop_bound(self, unrolled: bool) -> Expr:
        """A loop bound: an int argument or struct field, or (when ``unrolled``) perhaps a constant."""
        roll = self.rng.random()
        if not unrolled or (self.loop_bounds and roll < 0.4):
            if not self.loop_bounds:
                self.count_param()
            return self.rng.choice(self.loop_bounds)
        if roll < 0.55:
            name = self.rng.choice(STATIC_BOUND_NAMES)
            if name not in self.module_names:
                self.module_names.add(name)
                self.module_blocks.append(f"{name} = {self.rng.randint(2, 6)}\n")
            return Expr(f"wp.static({name})", name, const=True)
        count = str(self.rng.randint(2, 8))
        return Expr(count, count, const=True)

    def emit_for(self, nesting: int, kinds: dict) -> None:
        """A loop that accumulates into a new local.

        Warp unrolls a loop over a constant (``wp.static`` too) into one copy of its body per trip,
        so a body with blocks gets an argument as its bound: unrolled nests of blocks made kernels of
        1.6 MB of CUDA that NVRTC took 68 s to compile.
        """
        t = self.rng.choice(self.accumulator_types())
        acc = self.fresh("s")
        it = self.fresh("it")
        body = self.nested(nesting, kinds, (named(acc), t), extra=named(it, it, code=typed(t, it)))
        bound = self.loop_bound(unrolled=not body.has_block)
        self.emit(f"{acc} = {typed(t, '0')}")  # a typed value, not a literal, so Warp lets the loop mutate it
        self.emit(f"for {it} in range({bound.code}):", bound, kind="for")
        self.block.nest(body)
        self.say(f"loops {it} from 0 to {bound.phrase} where it {', '.join(body.phrases)}")
        self.new_local(acc, t)

    def emit_while(self, nesting: int, kinds: dict) -> None:
        target = self.target()
        counter, steps = self.fresh("k"), self.rng.randint(2, 6)
        body = self.nested(nesting, kinds, target)
        self.emit(f"{counter} = int(0)")
        self.emit(f"while {counter} < {steps}:", kind="while")
        self.block.nest(body)
        self.emit(f"    {counter} += 1")
        self.say(f"repeats {steps} times: it {', '.join(body.phrases)}")

    def emit_reduce(self, nesting: int, kinds: dict) -> None:
        """Sum an array's extra last dimension: the launch indexes the others."""
        name, t = self.rng.choice(self.reducible)
        acc, it = self.fresh("s"), self.fresh("it")
        self.emit(f"{acc} = {typed(t, '0')}")
        self.emit(f"for {it} in range({name}.shape[{self.dims}]):", named(name), kind="for")
        self.emit(f"    {acc} += {name}[{self.index}, {it}]")
        self.say(f"{acc} = the sum of {name}[{self.index}, :]")
        self.new_local(acc, t)

    def emit_atomic(self, nesting: int, kinds: dict) -> None:
        target, t = self.rng.choice(self.atomic_targets)
        value = self.use_all_locals(self.expr(t), t)
        funcs = dict(ATOMIC_FUNCS) if TYPES[t].kind in ("float", "int") else {"atomic_add": "adds"}
        if TYPES[t].kind == "int":
            funcs |= INT_ATOMIC_FUNCS
        func = self.rng.choice(list(funcs))
        slot, slot_words = self.rng.choice(
            [("0", f"{target}[0]"), (f"i % {target}.shape[0]", f"{target}[i mod its length]")]
        )
        if func == "atomic_add" and self.rng.random() < 0.3:
            self.emit(f"{target}[{slot}] += {value.code}", value)  # Warp makes this an atomic add
        elif func == "atomic_cas":  # swap in the value where the slot still holds a constant
            compare = grammar.constant(self.rng, t)
            self.emit(f"wp.atomic_cas({target}, {slot}, {compare.code}, {value.code})", value)
        else:
            self.emit(f"wp.{func}({target}, {slot}, {value.code})", value)
        self.atomics.append(func)
        self.say(f"atomically {funcs[func]} {value.phrase} into {slot_words}")

    def unpacks(self) -> list[grammar.Unpack]:
        """The decompositions whose argument the scope holds and whose every result the block can fold in."""
        return [
            u
            for u in grammar.UNPACKS
            if self.scope.leaves.get(u.arg)
            and all(r in self.scope.leaves or self.scope.ops_returning(r) for r in u.results)
            and all(self.sink is None or grammar.reachable(self.scope, r, self.sink) for r in u.results)
        ]

    def emit_unpack(self, nesting: int, kinds: dict) -> None:
        """``t3, t4, t5 = wp.svd3(m)``: a builtin that returns several values, each a new local."""
        unpack = self.rng.choice(self.unpacks())
        arg = self.expr(unpack.arg, self.rng.randint(0, 1))
        names = [self.fresh("t") for _ in unpack.results]
        self.emit(f"{', '.join(names)} = {unpack.template.format(arg.code)}", arg)
        self.say(f"sets {', '.join(names)} to {unpack.phrase.format(arg.phrase)}")
        for name, type_name in zip(names, unpack.results, strict=True):
            self.new_local(name, type_name, (unpack.base, *arg.ops))

    def emit_neighbour(self) -> None:
        """``x_next = x[wp.min(i + 1, x.shape[0] - 1)]``: an input's neighbour along one axis of the
        launch, clamped at the border, read into a local the kernel folds in."""
        arrays = [(n, t) for n, t in self.arrays if TYPES[t].kind in ("float", "vector") and t in self.local_types()]
        if not arrays:
            return
        name, t = self.rng.choice(arrays)
        axis = self.rng.randrange(self.dims)
        tid = TID_NAMES[axis]
        side, step, words = self.rng.choice(
            [
                ("next", f"wp.min({tid} + 1, {name}.shape[{axis}] - 1)", "next"),
                ("prev", f"wp.max({tid} - 1, 0)", "previous"),
            ]
        )
        local = f"{name}_{side}"
        if local in {n for n, _ in self.inputs} or any(local == leaf.code for leaf, _ in self.locals):
            return
        index = ", ".join(step if k == axis else TID_NAMES[k] for k in range(self.dims))
        self.emit(f"{local} = {name}[{index}]", named(name))
        self.say(f"sets {local} to the {words} element of {name}, clamped at the border")
        self.new_local(local, t)

    def emit_random_init(self, seed: str = "seed") -> None:
        """An int argument that seeds a generator state per thread, which the random draws read."""
        self.inputs.append((seed, "int"))
        index = self.rng.choice((self.index.split(", ")[0], f"{self.index.split(', ')[0]} * 7 + 1"))
        self.emit(RANDOM_INIT.format(seed=seed, index=index), named(seed))
        self.say(f"seeds a random generator from {seed} and the thread index")

    def emit_return(self, nesting: int, kinds: dict) -> None:
        out, t = self.rng.choice(self.outputs_written)
        cond = self.condition()
        fallback = grammar.constant(self.rng, t)
        self.emit(f"if {cond.code}:", cond, kind="if")
        self.emit(f"    {out}[{self.index}] = {fallback.code}")
        self.emit("    return")
        self.say(f"writes {fallback.phrase} to {out} and returns early when {cond.phrase}")

    def parts(self, name: str, summary: str) -> KernelParts:
        """The kernel: the inputs its body reads, and the helper notes added to the description."""
        used = [(n, t) for n, t in self.inputs if n in self.reads]
        description = summary
        if self.helper_notes:
            description += " Here " + "; ".join(self.helper_notes) + "."
        return KernelParts(name, self.block.lines, description, used, self.outputs, self.module_blocks, self.dims)


# When each statement kind can be emitted at all.
STATEMENT_READY = {
    "assign": lambda kb: bool(kb.local_types()),
    "if": lambda kb: bool(kb.target_types()),
    "for": lambda kb: bool(kb.accumulator_types()),
    "while": lambda kb: bool(kb.target_types()),
    "reduce": lambda kb: bool(kb.reducible),
    "atomic": lambda kb: bool(kb.atomic_targets),
    "return": lambda kb: bool(kb.outputs_written),
    "unpack": lambda kb: bool(kb.unpacks()),
}
