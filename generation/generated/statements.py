"""The statement kinds a kernel body is drawn from, each with its own ``emit_<kind>`` (as Warp's
``Adjoint.emit_<Node>``), declared once in ``STATEMENT_KINDS`` with when it can be emitted at all,
as Warp's ``node_visitors`` table maps each node to its emitter. ``Statements`` is the part of
``KernelBuilder`` that emits statements; the rest of the builder (generation context, inputs,
expressions, blocks, helpers, the application layer) is in ``builder.py``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from generation.generated import expressions, operations
from generation.generated.expressions import Expr, named
from generation.generated.operations import FLOAT
from generation.generated.parts import (
    ATOMIC_FUNCS,
    BLOCK_STATEMENTS,
    INT_ATOMIC_FUNCS,
    RANDOM_INIT,
    STATIC_BOUND_NAMES,
    TID_NAMES,
    Block,
    typed,
)
from generation.source.warp_types import TYPES


class Statements:
    """Statement emission, mixed into ``KernelBuilder`` (whose state and expression methods it uses)."""

    def statements(self, count: int, nesting: int, kinds: dict[str, float]) -> None:
        """``count`` statements drawn from ``kinds`` (name -> weight); blocks only while ``nesting``."""
        allowed = {k: w for k, w in kinds.items() if nesting > 0 or k not in BLOCK_STATEMENTS}
        allowed = {k: w for k, w in allowed.items() if STATEMENT_KINDS[k].ready(self)}
        for _ in range(count):
            if not allowed:
                return
            kind = self.rng.choices(list(allowed), weights=list(allowed.values()))[0]
            STATEMENT_KINDS[kind].emit(self, nesting, kinds)

    def target_types(self) -> list[str]:
        """Types a nested block can update: it folds its own locals into the target, so the type
        needs a joining operation (``float32`` in an integer kernel has none)."""
        kinds = ("float", "int", "vector")
        types = [t for t in self.local_types(kinds) if expressions.joining_ops(self.scope, t)]
        return types or [t for t in self.local_types() if expressions.joining_ops(self.scope, t)]

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

    def nested(
        self,
        nesting: int,
        kinds: dict,
        target: tuple[Expr, str],
        extra: Expr | None = None,
        from_zero: bool = False,
        assigned: bool = True,
    ) -> tuple[Block, Expr]:
        """A block that may declare its own locals and ends by updating ``target`` with all of them
        (and with ``extra``, a loop index of the target's type, when given); the block and the
        update's value. ``from_zero``: the target starts at zero (a loop's accumulator) unless the
        update says otherwise (``operations.accumulator_start``), so it can move from there.
        ``assigned``: the target counts as assigned again once the block is drawn (a branch's
        caller says so itself, after the conditions, which read it before any branch runs)."""
        local, local_type = target
        with self.nested_block(sink=local_type) as body:
            self.statements(self.rng.randint(0, 2), nesting - 1, kinds)
            value = self.use_all_locals(self.rooted(local_type), local_type)  # an operation: never `t = t`
            if extra is not None:
                value = expressions.involve(self.rng, self.scope, value, local_type, extra, local_type)
            value = expressions.involve(self.rng, self.scope, value, local_type, local, local_type, from_zero)
            self.emit(f"{local.code} = {value.code}", value)
            self.say(f"sets {local.code} to {value.phrase}")
        if assigned:
            self.assigned_again(local)
        return body, value

    def emit_assign(self, nesting: int, kinds: dict) -> None:
        t = self.rng.choice(self.local_types())
        self.bind(self.rooted(t), t)

    def emit_if(self, nesting: int, kinds: dict) -> None:
        target = self.target()
        branches = self.rng.choice((1, 2, 2, 3))  # if / if-else / if-elif-else
        bodies = [self.nested(nesting, kinds, target, assigned=False)[0] for _ in range(branches)]
        # Every condition before the first header: what a condition binds goes above the chain,
        # and reads the values held before it, the target's among them.
        conditions = [self.condition() for _ in range(max(1, branches - 1))]
        text = []
        for k, body in enumerate(bodies):
            if k < len(conditions):
                cond, keyword = conditions[k], "if" if k == 0 else "elif"
                self.emit(f"{keyword} {cond.code}:", cond, kind=keyword)
                text.append(f"when {cond.phrase} it {', '.join(body.phrases)}")
            else:
                self.emit("else:", kind="else")
                text.append(f"otherwise it {', '.join(body.phrases)}")
            self.block.nest(body)
        self.say("; ".join(text))
        self.assigned_again(target[0])

    def loop_bound(self, unrolled: bool) -> Expr:
        """A loop bound: an int argument or struct field, or (when ``unrolled``) perhaps a constant."""
        if self.constant_bounds:
            count = str(self.rng.randint(2, 4))
            return Expr(count, count, const=True)
        if not unrolled or (self.loop_bounds and self.chance("bound_argument")):
            if not self.loop_bounds:
                self.count_param()
            return self.rng.choice(self.loop_bounds)
        if self.chance("bound_static"):
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
        index = named(it, it, code=typed(t, it), root=TYPES[t].annotation)
        body, update = self.nested(nesting, kinds, (named(acc), t), extra=index, from_zero=True)
        bound = self.loop_bound(unrolled=not body.has_block)
        start = operations.accumulator_start(t, update.ops[0] if update.ops else "")
        self.emit(f"{acc} = {typed(t, start)}")  # a typed value, not a literal, so Warp lets the loop mutate it
        self.emit(f"for {it} in range({bound.code}):", bound, kind="for")
        self.block.nest(body)
        self.say(f"loops {it} from 0 to {bound.phrase} where it {', '.join(body.phrases)}")
        self.new_local(acc, t)

    def emit_while(self, nesting: int, kinds: dict) -> None:
        target = self.target()
        counter, steps = self.fresh("k"), self.rng.randint(2, 6)
        body, _ = self.nested(nesting, kinds, target)
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
        value = self.flat(self.use_all_locals(self.expr(t), t))
        funcs = dict(ATOMIC_FUNCS) if TYPES[t].kind in ("float", "int") else {"atomic_add": "adds"}
        if TYPES[t].kind == "int":
            funcs |= INT_ATOMIC_FUNCS
        func = self.rng.choice(list(funcs))
        slot, slot_words = self.rng.choice(
            [("0", f"{target}[0]"), (f"i % {target}.shape[0]", f"{target}[i mod its length]")]
        )
        if func == "atomic_add" and self.chance("augassign_atomic"):
            self.emit(f"{target}[{slot}] += {value.code}", value)  # Warp makes this an atomic add
        elif func == "atomic_cas":  # swap in the value where the slot still holds a constant
            compare = expressions.constant(self.rng, t)
            self.emit(f"wp.atomic_cas({target}, {slot}, {compare.code}, {value.code})", value)
        else:
            self.emit(f"wp.{func}({target}, {slot}, {value.code})", value)
        self.atomics.append(func)
        self.say(f"atomically {funcs[func]} {value.phrase} into {slot_words}")

    def unpacks(self) -> list[operations.Unpack]:
        """The decompositions whose argument the scope holds and whose every result the block can fold in."""
        return [
            u
            for u in operations.UNPACKS
            if self.scope.leaves.get(u.arg)
            and all(r in self.scope.leaves or self.scope.ops_returning(r) for r in u.results)
            and all(self.sink is None or expressions.reachable(self.scope, r, self.sink) for r in u.results)
        ]

    def emit_unpack(self, nesting: int, kinds: dict) -> None:
        """``t3, t4, t5 = wp.svd3(m)``: a builtin that returns several values, each a new local."""
        unpack = self.rng.choice(self.unpacks())
        depth, mark = self.rng.randint(0, 1), self.mark()
        arg = self.expr(unpack.arg, depth)
        for _redraw in range(3):  # never wp.transpose(wp.transpose(m)), wp.normalize(wp.normalize(q))
            if not unpack.wraps or arg.root != unpack.wraps:
                break
            self.rollback(mark)  # nothing the discarded draw bound stays
            arg = self.expr(unpack.arg, depth)
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
        fallback = expressions.constant(self.rng, t)
        self.emit(f"if {cond.code}:", cond, kind="if")
        self.emit(f"    {out}[{self.index}] = {fallback.code}")
        self.emit("    return")
        self.say(f"writes {fallback.phrase} to {out} and returns early when {cond.phrase}")

    # -- tiles updated in place -------------------------------------------------------------------

    def tile_locals(self, dims: int | None = None) -> list[tuple[Expr, str]]:
        """The block's tile locals (of ``dims`` dimensions), which a statement may update in place."""
        return [
            (e, t) for e, t in self.locals if TYPES[t].kind == "tile" and (dims is None or len(TYPES[t].shape) == dims)
        ]

    def tile_updates(self) -> list[str]:
        """The in-place tile updates the block can make now."""
        square = [t for _, t in self.tile_locals(2) if TYPES[t].shape[0] == TYPES[t].shape[1]]
        one_d = Counter(t for _, t in self.tile_locals(1))
        forms = ["axpy"] if self.tile_locals() else []
        forms += ["assign"] * any(TYPES[t].shape == (8, 8) for _, t in self.tile_locals())
        forms += ["solve"] * bool(square) + ["sort"] * any(n >= 2 for n in one_d.values())
        return forms

    def emit_tile_update(self, nesting: int, kinds: dict) -> None:
        """A tile local changed in place: ``wp.tile_axpy``, ``wp.tile_assign`` of a corner, a
        Cholesky factorisation and solve in place, or two tiles sorted by the first."""
        form = self.rng.choice(self.tile_updates())
        if form == "axpy":
            dest, t = self.rng.choice(self.tile_locals())
            src = self.flat(self.expr(t, 1))
            alpha = self.rng.choice(("0.5", "2.0", "-1.0", "0.25"))
            self.emit(f"wp.tile_axpy({alpha}, {src.code}, {dest.code})", src, dest)
            self.say(f"adds {alpha} times {src.phrase} to {dest.code} in place")
        elif form == "assign":
            dest, t = self.rng.choice([(e, t) for e, t in self.tile_locals() if TYPES[t].shape == (8, 8)])
            src = self.flat(self.expr(operations.tile((4, 4)), 1))
            corner = self.rng.choice(("(0, 0)", "(4, 4)", "(0, 4)"))
            self.emit(f"wp.tile_assign({dest.code}, {src.code}, offset={corner})", src, dest)
            self.say(f"copies {src.phrase} into {dest.code} at {corner}")
        elif form == "solve":
            target, t = self.rng.choice([(e, t) for e, t in self.tile_locals(2) if len(set(TYPES[t].shape)) == 1])
            n = TYPES[t].shape[0]
            source = self.flat(self.expr(t, 0))
            transposed, gram, diagonal, factor = (self.fresh("t") for _ in range(4))
            self.emit(f"{transposed} = wp.tile_transpose({source.code})", source)
            self.emit(f"{gram} = wp.tile_matmul({source.code}, {transposed})")
            self.emit(f"{diagonal} = wp.tile_full(shape={n}, value={n}.0, dtype=float)")
            self.emit(f"{factor} = wp.tile_diag_add({gram}, {diagonal})")
            self.emit(f"wp.tile_cholesky_inplace({factor})")  # A Aᵀ + n I: positive definite
            solve = self.rng.choice(("cholesky_solve", "lower_solve", "upper_solve"))
            if solve == "upper_solve":
                upper = self.fresh("t")
                self.emit(f"{upper} = wp.tile_transpose({factor})")
                factor = upper
            self.emit(f"wp.tile_{solve}_inplace({factor}, {target.code})", target)
            self.say(
                f"solves {target.code} in place against the Cholesky factor of {source.phrase} times its transpose"
            )
        else:
            t = self.rng.choice([t for t, k in Counter(t for _, t in self.tile_locals(1)).items() if k >= 2])
            keys, values = self.rng.sample([e for e, u in self.tile_locals(1) if u == t], 2)
            self.emit(f"wp.tile_sort({keys.code}, {values.code})", keys, values)
            self.say(f"sorts {keys.code} and {values.code} in the order of {keys.code}")

    def emit_tile_scatter(self, nesting: int, kinds: dict) -> None:
        """Each thread's value gathered through a block's shared memory: pushed on a tile stack and
        popped back, or scatter-added into a shared tile, which the kernel then reads."""
        value = self.flat(self.expr(FLOAT, 1))
        cond = self.rng.choice(("True", f"{value.code} > 0.0", f"{value.code} < 1.0"))
        if self.chance("tile_stack") or not self.tile_scatter_types():
            # Every thread of a block pushes the same value (a reduction over the block's tile): under
            # a condition, none pushed in any launch (``wp.tile_min(t) > 0.0`` on data in [-2, 2]), and
            # the pop read nothing back. So each pushes, and the pop reads the value.
            stack, popped, slot = self.fresh("stack"), self.fresh("t"), self.fresh("slot")
            self.emit(f"{stack} = wp.tile_stack(capacity=64, dtype=float)", value)
            self.emit(f"wp.tile_stack_push({stack}, {value.code}, True)")
            count = self.fresh("count")
            self.emit(f"{count} = wp.tile_stack_count({stack})")
            self.emit(f"{popped}, {slot} = wp.tile_stack_pop({stack})")
            if self.chance("tile_stack_clear"):
                self.emit(f"wp.tile_stack_clear({stack})")
            local = self.fresh("t")
            self.emit(f"{local} = wp.where({slot} >= 0, {popped}, 0.0) + float({count})")
            self.say(f"pushes {value.phrase} on a block stack and sets {local} to what it pops back plus the count")
            self.new_local(local, FLOAT)
            return
        t = self.rng.choice(self.tile_scatter_types())
        n = TYPES[t].shape[0]
        shared, slot = self.fresh("t"), self.rng.randrange(n)
        self.emit(f'{shared} = wp.tile_zeros(shape={n}, dtype=float, storage="shared")', value)
        self.emit(f"wp.tile_scatter_add({shared}, {slot}, {value.code}, {cond})")
        if self.chance("scatter_masked"):
            self.emit(f"wp.tile_scatter_masked({shared}, {(slot + 1) % n}, {value.code}, {cond})")
        self.say(f"adds {value.phrase} from every thread into slot {slot} of the shared tile {shared}")
        self.new_local(shared, t)

    def tile_scatter_types(self) -> list[str]:
        """1D tile types a scattered tile can have: the block folds them into its sink."""
        sink = self.sink
        return [
            t
            for t in self.scope.leaves
            if TYPES[t].kind == "tile"
            and len(TYPES[t].shape) == 1
            and (sink is None or expressions.reachable(self.scope, t, sink))
        ]


@dataclass(frozen=True)
class StatementKind:
    """A statement kind: how it is emitted, and whether a builder can emit it now."""

    emit: Callable[[Statements, int, dict], None]
    ready: Callable[[Statements], bool]


# Each statement kind, once: kind -> (emitter, ready), as Warp's ``node_visitors``.
STATEMENT_KINDS = {
    "assign": StatementKind(Statements.emit_assign, lambda kb: bool(kb.local_types())),
    "if": StatementKind(Statements.emit_if, lambda kb: bool(kb.target_types())),
    "for": StatementKind(Statements.emit_for, lambda kb: bool(kb.accumulator_types())),
    "while": StatementKind(Statements.emit_while, lambda kb: bool(kb.target_types())),
    "reduce": StatementKind(Statements.emit_reduce, lambda kb: bool(kb.reducible)),
    "atomic": StatementKind(Statements.emit_atomic, lambda kb: bool(kb.atomic_targets)),
    "return": StatementKind(Statements.emit_return, lambda kb: bool(kb.outputs_written)),
    "unpack": StatementKind(Statements.emit_unpack, lambda kb: bool(kb.unpacks())),
    "tile_update": StatementKind(Statements.emit_tile_update, lambda kb: bool(kb.tile_updates())),
    "tile_scatter": StatementKind(
        Statements.emit_tile_scatter, lambda kb: FLOAT in kb.scope.leaves or bool(kb.scope.ops_returning(FLOAT))
    ),
}
