"""The statement builder: what a category policy writes a kernel with.

``KernelBuilder`` keeps the generation context (the scope of typed leaves and operations, the
kernel's inputs, the names taken at module level, what has been read), draws expressions and
helpers, and emits statements into the current ``Block``: one ``emit_<kind>`` method per statement
kind (``statements.py``), the way Warp's ``Adjoint.emit_<Node>`` methods emit code. Choices are
recorded as data as they are made: a block's lines carry their statement kind, expressions carry
the names they read, and module names are a set, so nothing is decided by reading the text back.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import replace

from generation.generated import expressions
from generation.generated.expressions import Expr, Scope, direction, named
from generation.generated.operations import FLOAT, RANDOM_STATE, Op, annotation
from generation.generated.parts import (
    ATOMIC_TYPES,
    COMPARED_AS,
    COMPARISONS,
    CONSTANT_NAMES,
    COUNT_NAMES,
    FIELD_NAMES,
    HELPER_NAMES,
    INPUT_NAMES,
    MASK_NAMES,
    OUTPUT_NAMES,
    PARAM_NAMES,
    REDUCIBLE_NAMES,
    STRUCT_ARGS,
    STRUCT_NAMES,
    TID_NAMES,
    TOTAL_NAMES,
    Block,
    Bound,
    KernelParts,
    Profile,
    array_of,
    element,
    indent,
    sentence,
    store,
)
from generation.generated.policy import Policy
from generation.generated.statements import Statements
from generation.source.warp_types import TYPES


class KernelBuilder(Statements):
    """The generation context of one kernel, and the statements a policy writes it with."""

    def __init__(
        self,
        rng: random.Random,
        profile: Profile,
        ops: list[Op],
        policy: Policy,
        dims: int | None = None,
    ):
        self.rng = rng
        self.profile = profile
        self.policy = policy
        odds = policy.odds
        self.scope = Scope(ops=list(ops), const_prob=odds["constant"], leaf_prob=odds["early_leaf"], hoister=self)
        self.block = Block()  # where statements are emitted now
        self.inputs: list[tuple[str, str]] = []
        self.outputs: list[tuple[str, str]] = []
        self.module_blocks: list[str] = []
        self.module_names: set[str] = set()  # constants, bounds, structs and helpers defined at module level
        self.helper_notes: list[str] = []
        self.locals: list[tuple[Expr, str]] = []  # locals of the current block, for use_all_locals
        self.reads: set[str] = set()  # names the kernel body reads
        self.counter = 0
        self.dims = dims or self.pick(policy.dims)
        self.subscript_arrays = rng.random() < policy.subscript_arrays  # the kernel's annotation form
        self.constant_bounds = False  # loops take literal bounds (a helper has no count argument)
        self.reserved: set[str] = set()  # names the category gives its locals: no argument takes one
        self.tile_orders: dict[int, str] = {}  # reversed index tiles, by length
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

    def pick(self, weights: dict):
        """One key of ``weights``, drawn with its weight."""
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def chance(self, name: str) -> bool:
        """Whether the policy's named event happens."""
        return self.policy.chance(self.rng, name)

    def array_annotation(self, type_name: str, ndim: int | None = None) -> str:
        return array_of(type_name, ndim or self.dims, self.subscript_arrays)

    def unused(self, names: tuple[str, ...]) -> list[str]:
        taken = {n for n, _ in self.inputs + self.outputs} | self.reserved
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
        shape = TYPES[type_name].shape
        for leaf in inputs:
            if len(shape) == 1 and self.chance("tile_indexed"):  # read in an order of its own
                (name,) = leaf.reads
                order = self.tile_order(shape[0])
                code = f"wp.tile_load_indexed({name}[{self.index}], indices={order}, shape=({shape[0]},), axis=0)"
                leaf = named(name, phrase=f"{leaf.phrase} in reverse", code=code)
            self.bind(leaf, type_name)

    def tile_order(self, n: int) -> str:
        """A tile of the indices ``n - 1`` down to 0 (``wp.tile_arange``), bound once per length."""
        if n not in self.tile_orders:
            self.tile_orders[n] = self.fresh("order")
            self.emit(f"{self.tile_orders[n]} = wp.tile_arange({n - 1}, -1, -1, dtype=int)")
        return self.tile_orders[n]

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
        value = expressions.constant(self.rng, type_name)
        self.module_blocks.append(f"{name} = wp.constant({value.code})\n")
        self.scope.add_leaf(type_name, Expr(name, name, const=True, shared=True))
        if self.chance("constant_twice"):
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
        return expressions.expression(self.rng, self.scope, type_name, self.depth() if depth is None else depth)

    def rooted(self, type_name: str, depth: int | None = None, groups: tuple[str, ...] | None = None) -> Expr:
        """An expression whose outermost operation comes from ``groups`` (any group when None)."""
        ops = expressions.reading_ops(self.scope, type_name, groups)
        if not ops:
            return self.expr(type_name, depth)
        return expressions.apply(self.rng, self.scope, expressions.choose(self.rng, ops), max(depth or self.depth(), 1))

    def use_all_locals(self, value: Expr, type_name: str) -> Expr:
        """Fold every local of the block the value does not read yet into it, so no statement is dead."""
        return expressions.fold(self.rng, self.scope, value, type_name, self.locals)

    def value_types(self) -> list[str]:
        """Types an expression can be built for: they have leaves and operations."""
        return [t for t in self.scope.leaves if self.scope.ops_returning(t)]

    def rooted_type(self, types: set[str], groups: tuple[str, ...]) -> str:
        """A result type among ``types`` that some operation of ``groups`` produces."""
        return self.rng.choice([t for t in sorted(types) if self.scope.ops_returning(t, groups)])

    def local_types(self, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Types a new local may have: ones the block's sink can fold in, so no local is dead (none
        when the sink has no operation to fold a value into it)."""
        if self.sink is not None and not expressions.joining_ops(self.scope, self.sink):
            return []
        types = [t for t in self.value_types() if kinds is None or TYPES[t].kind in kinds]
        return [t for t in types if self.sink is None or expressions.reachable(self.scope, t, self.sink)]

    def condition(self) -> Expr:
        """A data-dependent comparison (so the branch is not folded away): of a scalar, ``float16``
        only where there is no other, else of a value brought to a scalar type (``COMPARED_AS``:
        ``wp.length(v)``); a bool drawn where no value compares was a literal (``if True:``). A
        constant it compares with can go either way (``expressions.threshold``)."""
        scalars = [t for t in self.value_types() if TYPES[t].kind in ("float", "int")]
        comparable = [t for t in scalars if t != "float16"] or scalars
        if comparable:
            t = self.rng.choice(comparable)
            left = self.expr(t, self.rng.randint(0, 2))
        else:
            t, left = self.converted(COMPARED_AS)
            if left is None:
                return self.expr("bool", 1)
        mark = self.mark()
        constant = self.chance("condition_constant")
        right = expressions.threshold(self.rng, t, left) if constant else self.expr(t, 1)
        # `x < x`, `x > wp.abs(x)`: decided by construction, not by data; a constant drawn as an
        # expression (`(-10.0)`, where no leaf of the type exists) is drawn as a threshold instead
        if right.const or right.reads & left.reads or right.code == left.code:
            self.rollback(mark)
            right = expressions.threshold(self.rng, t, left)
        symbol, words = self.rng.choice(COMPARISONS)
        return Expr(
            f"{left.code} {symbol} {right.code}",
            f"{left.phrase} {words} {right.phrase}",
            left.ops + right.ops,
            reads=left.reads | right.reads,
        )

    def converted(self, type_names: tuple[str, ...]) -> tuple[str, Expr | None]:
        """A value brought to the first of ``type_names`` some value can reach, and that type
        (None where none can be)."""
        for type_name in type_names:
            types = [t for t in self.value_types() if expressions.reachable(self.scope, t, type_name)]
            for t in self.rng.sample(types, len(types)):
                mark = self.mark()
                value = expressions.convert(self.rng, self.scope, self.expr(t, self.rng.randint(0, 1)), t, type_name)
                if value is not None:
                    return type_name, value
                self.rollback(mark)
        return "", None

    # -- emitting ------------------------------------------------------------------------------

    def emit(self, line: str, *read: Expr, kind: str = "") -> None:
        """Add a line to the current block, recording what its expressions read."""
        self.block.add(line, kind)
        for expr in read:
            self.reads |= expr.reads

    def say(self, phrase: str) -> None:
        self.block.phrases.append(phrase)

    def hoist(self, code: str, reads: frozenset[str] = frozenset()) -> str:
        """Bind a call to a new local that only the statement being built reads (``t4 = wp.abs(x)``),
        so no call is passed straight to another; its name. A value the block has bound already is
        read from its local, as application code names a value once."""
        self.reads |= reads
        known = self.known(code, reads)
        if known is not None:
            return known
        name = self.fresh("t")
        self.block.add(f"{name} = {code}")
        self.remember(code, name, reads)
        return name

    def known(self, code: str, reads: frozenset[str]) -> str | None:
        """The local of the current block that holds ``code`` already (``Block.values``); None where
        none does, or where computing it again gives another value (a draw from a random state)."""
        bound = self.block.values.get(code)
        return bound.name if bound is not None and RANDOM_STATE not in reads else None

    def remember(self, code: str, name: str, reads: frozenset[str]) -> None:
        """The line just added binds ``code`` to ``name``: later lines of the block may read it."""
        if RANDOM_STATE not in reads:
            self.block.values[code] = Bound(name, len(self.block.lines) - 1, reads)

    def mark(self) -> int:
        return len(self.block.lines)

    def rollback(self, mark: int) -> None:
        del self.block.lines[mark:], self.block.kinds[mark:]
        self.block.values = {code: bound for code, bound in self.block.values.items() if bound.line < mark}

    def flat(self, value: Expr) -> Expr:
        """``value``, hoisted to a local where it is a call, for a statement that passes it to a call."""
        if value.root is None:
            return value
        return Expr(
            self.hoist(value.code, value.reads),
            value.phrase,
            value.ops,
            reads=value.reads,
            along=direction(value),
            outer=value.outer,
            terms=value.terms,
        )

    def bind(self, value: Expr, type_name: str) -> tuple[Expr, str]:
        """Bind ``value`` to a new local ``t<n>`` and make that local a leaf. A constant scalar is
        bound through its type's constructor (``t3 = float(-wp.static(GAIN * 2.0))``): Warp keeps a
        local bound to a constant a constant, which a loop may not reassign and a 64-bit
        constructor retypes in place."""
        code = value.code
        if value.const and TYPES[type_name].scalar == type_name and value.root != annotation(type_name):
            code = f"{annotation(type_name)}({code})"
        known = self.known(code, value.reads)
        if known is not None:  # the block holds this value already: its local, a leaf from now on
            leaf = next((leaf for leaf in self.scope.leaves.get(type_name, []) if leaf.code == known), None)
            if leaf is not None:
                return leaf, type_name
            return self.new_local(known, type_name, value.ops, direction(value), value.outer, value.terms)
        name = self.fresh("t")
        self.emit(f"{name} = {code}", value)
        self.remember(code, name, value.reads)
        self.say(f"sets {name} to {value.phrase}")
        return self.new_local(name, type_name, value.ops, direction(value), value.outer, value.terms)

    def new_local(
        self,
        name: str,
        type_name: str,
        ops: tuple[str, ...] = (),
        along: str | None = None,
        outer: str | None = None,
        terms: tuple[tuple[str, int], ...] | None = None,
    ) -> tuple[Expr, str]:
        """A local the rest of the block may read; it carries the operations that computed it, what
        its value is a multiple of (``Expr.along``), the operation that made it (``Expr.outer``) and
        the terms it sums (``Expr.terms``)."""
        local = named(name, ops=ops, along=along, outer=outer, terms=terms)
        self.scope.add_leaf(type_name, local)
        self.locals.append((local, type_name))
        return local, type_name

    def assigned_again(self, local: Expr) -> None:
        """``local`` was assigned again: what its binding made (its multiple, the operation that
        made it, the terms it sums) no longer says what it holds, and the block no longer holds
        the values that read it (``Block.values``)."""
        again = replace(local, along=None, outer=None, terms=None)
        self.block.values = {
            code: bound
            for code, bound in self.block.values.items()
            if bound.name != local.code and not local.reads & bound.reads
        }
        for leaves in self.scope.leaves.values():
            leaves[:] = [again if leaf is local else leaf for leaf in leaves]
        self.locals[:] = [(again if leaf is local else leaf, t) for leaf, t in self.locals]

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
        """Write a ``@wp.func`` over fresh parameters (locals, a loop and an early return, at the
        policy's odds, when ``statements``) and offer it as an operation; it may call the helpers
        before it. It uses ``ops``, by default the kernel's less those that read the kernel's own
        names (its random state, its struct argument)."""
        name = self.module_name(HELPER_NAMES)
        params = [chr(ord("x") + k) if k < 3 else f"p{k}" for k in range(len(arg_types))]
        sub = KernelBuilder(self.rng, self.profile, [], self.policy, dims=self.dims)
        ops = [op for op in self.scope.ops if not op.reads] if ops is None else ops
        inner = Scope(ops=ops, const_prob=self.policy.odds["helper_constant"], leaf_prob=self.policy.odds["early_leaf"])
        inner.hoister = sub
        parameters = [(named(param), type_name) for param, type_name in zip(params, arg_types, strict=True)]
        for leaf, type_name in parameters:
            inner.add_leaf(type_name, leaf)
        signature = [f"{p}: {annotation(t)}" for p, t in zip(params, arg_types, strict=True)]
        call_prefix, reads = "", frozenset()
        if self.struct and self.chance("helper_struct"):  # the helper also reads the kernel's struct
            struct, arg, fields = self.struct
            signature.insert(0, f"s: {struct}")
            call_prefix, reads = f"{arg}, ", frozenset([arg])
            for field_name, type_name in fields:
                if type_name != "int32":
                    inner.add_leaf(type_name, named("s", code=f"s.{field_name}"))
        sub.scope, sub.sink, sub.constant_bounds = inner, result, True  # its locals fold into what it returns
        for _ in range(statements if sub.local_types() else 0):
            t = self.rng.choice(sub.local_types())
            sub.bind(sub.rooted(t, depth), t)
        if statements and self.chance("helper_loop") and sub.accumulator_types():
            sub.emit_for(1, {"assign": 1})
        if statements and self.chance("helper_early_return"):
            cond = sub.condition()
            early = sub.flat(expressions.expression(self.rng, inner, result, max(1, depth - 1)))
            sub.emit(f"if {cond.code}:", cond, kind="if")
            sub.emit(f"    return {early.code}", early)
            sub.say(f"returns {early.phrase} early when {cond.phrase}")
        # What it returns folds in its locals and every parameter nothing read yet: a helper whose
        # result ignores an argument (`def f(x, y): return x`) makes whatever computed it dead.
        unread = [(leaf, t) for leaf, t in parameters if not leaf.reads <= sub.reads]
        value = expressions.expression(self.rng, inner, result, depth)
        final = sub.flat(expressions.fold(self.rng, inner, value, result, sub.locals + unread))
        sub.emit(f"return {final.code}")
        sub.say(f"returns {final.phrase}")
        header = f"@wp.func\ndef {name}({', '.join(signature)}):\n"
        self.module_blocks.append(header + "\n".join(indent(sub.block.lines)) + "\n")
        self.helper_notes.append(f"{name}({', '.join(params)}) " + ", then ".join(sub.block.phrases))
        placeholders = ", ".join(f"{{{k}}}" for k in range(len(arg_types)))
        call = f"{name}({call_prefix}{placeholders})"
        op = Op(name, name, result, arg_types, call, f"{name}({placeholders})", "helper", None, 2, reads)
        self.scope.add_op(op)
        return op

    def call_helper(self, statements: int = 0) -> None:
        """Write a helper and bind one call of it to a local."""
        if not self.local_types():
            return
        arg_types = tuple(self.rng.choice(list(self.scope.leaves)) for _ in range(self.rng.randint(1, 2)))
        op = self.helper(self.rng.choice(self.local_types()), arg_types, self.rng.randint(1, 2), statements)
        self.bind(expressions.apply(self.rng, self.scope, op, depth=2), op.result)

    # -- the application layer: guards, loads, helpers around the category's core, then stores -----

    def prologue(self) -> None:
        """What application kernels do before their work, at the policy's odds: return early for
        threads with nothing to do, read their inputs into named locals, and call a helper. The
        smallest size (a length cap's last step) keeps only the category's core."""
        if self.profile.compact:
            return
        if self.rng.random() < self.policy.guard:
            self.emit_guard()
        for name, type_name in list(self.arrays):
            folds = self.sink is None or expressions.reachable(self.scope, type_name, self.sink)
            if TYPES[type_name].kind != "tile" and folds and self.chance("load"):
                self.load(name, type_name)
        if self.rng.random() < self.policy.helper:
            self.call_helper(statements=self.rng.randint(1, 2))

    def with_layer(self, kinds: dict[str, float]) -> dict[str, float]:
        """The category's statement kinds (weights) with the layer's (chances per statement) added."""
        layer = {} if self.profile.compact else self.policy.kinds
        kinds = kinds or {"assign": 1.0}
        rest, total = 1.0 - sum(layer.values()), sum(kinds.values())
        return {k: kinds.get(k, 0.0) * rest / total + layer.get(k, 0.0) for k in kinds | layer}

    def load(self, name: str, type_name: str) -> Expr:
        """``a_i = a[i]``: the input's element in a named local, which reads of ``a[i]`` become."""
        local = f"{name}_{''.join(TID_NAMES[: self.dims])}"
        element_code = element(name, type_name, self.index)
        leaves = self.scope.leaves.get(type_name, [])
        if local in self.module_names or not any(leaf.code == element_code for leaf in leaves):
            return named(name, code=element_code)
        self.scope.leaves[type_name] = [leaf for leaf in leaves if leaf.code != element_code]
        self.emit(f"{local} = {element_code}", named(name))
        self.say(f"reads {name}[{self.index}] into {local}")
        return self.new_local(local, type_name)[0]

    def emit_guard(self) -> None:
        """``if i >= n: return``, ``if active[i] == 0: return`` or ``if a_i < 0.0: return``."""
        form = self.pick(self.policy.guard_forms)
        tids = TID_NAMES[: self.dims]
        if form == "bounds" and self.dims == 1:
            name = self.rng.choice(self.unused(COUNT_NAMES))
            self.inputs.append((name, "int"))
            self.reads.add(name)
            self.loop_bounds.append(named(name))
            test, words = f"i >= {name}", f"i is at least {name}"
        elif form == "bounds" and self.arrays:
            array = self.arrays[0][0]
            self.reads.add(array)
            test = " or ".join(f"{t} >= {array}.shape[{k}]" for k, t in enumerate(tids))
            words = f"({self.index}) is outside {array}"
        elif form == "mask" or not self.arrays:
            name = self.rng.choice(self.unused(MASK_NAMES))
            self.inputs.append((name, self.array_annotation("int32")))
            self.reads.add(name)
            flag = f"{name}[{self.index}]"
            test = f"{flag} == 0" if self.chance("mask_equals") else f"({flag} & 1) == 0"
            words = f"{name} is not set there"
        else:
            comparable = [(n, t) for n, t in self.arrays if TYPES[t].kind in ("float", "int") and t != "float16"]
            if not comparable:
                return
            name, t = self.rng.choice(comparable)
            value = self.load(name, t) if self.chance("guard_load") else named(name, code=f"{name}[{self.index}]")
            bound = expressions.threshold(self.rng, t, value)
            symbol, words = self.rng.choice(COMPARISONS)
            self.reads.add(name)
            test, words = f"{value.code} {symbol} {bound.code}", f"{value.phrase} {words} {bound.phrase}"
        self.emit(f"if {test}:", kind="if")
        self.emit("    return")
        self.say(f"returns early when {words}")

    def atomic_target(self, names: tuple[str, ...], type_name: str) -> str:
        """A 1D output that atomics add into (at a slot, not at the thread's index): an argument,
        and a target ``emit_atomic`` may draw."""
        target = self.rng.choice(self.unused(names))
        self.outputs.append((target, self.array_annotation(type_name, 1)))
        self.atomic_targets.append((target, type_name))
        return target

    def finish(self, prefix: str, result: Expr, out_type: str, out: str | None = None, names: int = 3) -> KernelParts:
        """The final store of ``result`` (a tile: stored, or added atomically, into the output's
        row), and at the policy's odds an atomic total of it too; the kernel's parts."""
        out = out or self.output(out_type)
        total = None
        if not self.profile.compact and not self.atomic_targets and self.chance("atomic"):
            if out_type in ATOMIC_TYPES or TYPES[out_type].kind == "vector" and TYPES[out_type].scalar == "float32":
                total = self.atomic_target(TOTAL_NAMES, out_type)
        if total is not None:
            value, _ = self.bind(result, out_type)
            result = Expr(value.code, result.phrase, result.ops, reads=value.reads)
        else:
            result = self.flat(result) if TYPES[out_type].kind == "tile" else result
        shape = TYPES[out_type].shape
        if len(shape) == 1 and shape[0] in self.tile_orders and self.chance("tile_indexed"):
            order = self.tile_orders[shape[0]]  # written back in the order it was read
            line = f"wp.tile_store_indexed({out}[{self.index}], indices={order}, t={result.code}, axis=0)"
            self.emit(line, result)
        else:
            accumulate = TYPES[out_type].kind == "tile" and self.chance("accumulate_tile")
            self.emit(store(out, out_type, self.index, result.code, accumulate), result)
        final = f"writes {result.phrase} to {out}"
        if total is not None:
            self.emit(f"wp.atomic_add({total}, 0, {result.code})")
            final += f" and adds it into {total}[0]"
        return self.parts(self.kernel_name(prefix, result.ops, names), self.summary(final + "."))

    def kernel_name(self, prefix: str, ops: tuple[str, ...], count: int = 3) -> str:
        """A readable kernel name from the first few distinct operations it uses."""
        return "_".join([prefix, *list(dict.fromkeys(ops))[:count]])

    def summary(self, final: str = "") -> str:
        """What the kernel does, in order; ``final`` ends it, else its last phrase does."""
        each = "For each element i" if self.dims == 1 else f"For each ({self.index})"
        phrases = self.block.phrases if final else self.block.phrases[:-1]
        return f"{each}, the kernel " + sentence(phrases, final or self.block.phrases[-1] + ".")

    def parts(self, name: str, summary: str) -> KernelParts:
        """The kernel: the inputs its body reads, and the helper notes added to the description."""
        used = [(n, t) for n, t in self.inputs if n in self.reads]
        description = summary
        if self.helper_notes:
            description += " Here " + "; ".join(self.helper_notes) + "."
        return KernelParts(name, self.block.lines, description, used, self.outputs, self.module_blocks, self.dims)
