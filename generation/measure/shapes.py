"""The shapes of Warp kernels, counted from their syntax: how close generated kernels are to real ones.

One ``KernelShapes`` per ``@wp.kernel``, read from the kernel's own body (statements of its helpers
and of nested functions are not the kernel's). The definitions, each a yes or no per kernel:

- ``if``: an ``if`` statement (``elif`` included, a conditional expression ``a if c else b`` not);
- ``early_return``: a ``return`` inside an ``if``;
- ``launch_2d_3d``: ``wp.tid()`` unpacked into two or three indices (``i, j = wp.tid()``);
- ``for``: a ``for`` loop;
- ``array_subscript``: an argument annotated in Warp's current form, ``wp.array[T]`` (or
  ``wp.array2d[T]``...), against ``array_call``, the older ``wp.array(dtype=T)``;
- ``constant_index``: a subscript with an integer literal among its indices (``x[i, 0]``, ``v[2]``;
  a shape, ``x.shape[0]``, is not one);
- ``indirect``: an array argument indexed through another read: an index holding an element of an
  array argument (``x[idx[i]]``), or a name assigned from one (``j = idx[i]; x[j]``); a shape
  (``x[wp.min(i + 1, x.shape[0] - 1)]``) is not a read;
- ``own_func``: a call of a ``@wp.func`` of the same source (a package's helpers count across
  its files): by bare name (``blend(a, b)``) or through a module (``utils.blend(a, b)``);
- ``atomics``: a ``wp.atomic_*`` call, or ``+=``/``-=`` on an array argument's element (Warp makes
  that an atomic add);
- ``tile``: a ``wp.tile*`` or ``wp.untile`` call;
- ``struct_arg``: an argument whose annotation names a ``@wp.struct`` of the same source;
- ``over_10_statements``: more than 10 statements at any depth (the ``wp.tid()`` line included,
  a docstring not);
- ``nested_call``: a call passed directly as an argument of a call (``f(g(x))``; ``f(g(x) + 1)`` is not).

Besides the shapes, each kernel gives the kinds of its statements, the ``wp.`` builtins it calls,
and the types of its arguments: what ``bench/fit_policy.py`` turns into the generator's odds.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from generation.source.features import call_name, is_kernel, is_tid_assignment, nodes, warp_decorated

SHAPES = (
    "if",
    "early_return",
    "launch_2d_3d",
    "for",
    "array_subscript",
    "array_call",
    "constant_index",
    "indirect",
    "own_func",
    "atomics",
    "tile",
    "struct_arg",
    "over_10_statements",
    "nested_call",
)
# How the shapes are written in tables (the words).
SHAPE_LABELS = {
    "if": "an `if`",
    "early_return": "an early `return` inside an `if`",
    "launch_2d_3d": "a 2D/3D launch (`i, j = wp.tid()`)",
    "for": "a `for` loop",
    "array_subscript": "`wp.array[T]` annotations",
    "array_call": "`wp.array(dtype=T)` annotations",
    "constant_index": "an integer constant index (`x[i, 0]`)",
    "indirect": "indirect indexing (`x[idx[i]]`)",
    "own_func": "calls a `@wp.func` of its own",
    "atomics": "atomics",
    "tile": "tile operations",
    "struct_arg": "a struct argument",
    "over_10_statements": "more than 10 statements",
    "nested_call": "a call nested in a call (`f(g(x))`)",
}
# What a default build's kernels must have (issue 34): the share of kernels, as (at least, at most).
SHAPE_TARGETS = {
    "if": (0.40, 1.0),
    "early_return": (0.20, 1.0),
    "launch_2d_3d": (0.25, 1.0),
    "own_func": (0.40, 1.0),
    "nested_call": (0.0, 0.35),
    "over_10_statements": (0.45, 1.0),
    "array_subscript": (0.30, 0.90),
    "for": (0.20, 0.60),
    "indirect": (0.0, 0.30),
    "atomics": (0.05, 0.35),
    "tile": (0.03, 1.0),
}


def target_words(shape: str) -> str:
    """``SHAPE_TARGETS[shape]`` as a table writes it ("at least 40%", "at most 35%", "20% to 60%"; "" for none)."""
    if shape not in SHAPE_TARGETS:
        return ""
    low, high = SHAPE_TARGETS[shape]
    if high >= 1:
        return f"at least {low:.0%}"
    return f"at most {high:.0%}" if low == 0 else f"{low:.0%} to {high:.0%}"


_ARRAY_TYPES = {f"{prefix}.array{suffix}" for prefix in ("wp", "warp") for suffix in ("", "1d", "2d", "3d", "4d")}
_BLOCKS = ("body", "orelse", "finalbody")  # where statements hold statements (if, for, while, with, try)
# Statement kinds, by node type; a call statement is told by what it calls.
_KINDS = {
    ast.Assign: "assign",
    ast.AnnAssign: "assign",
    ast.AugAssign: "augassign",
    ast.If: "if",
    ast.For: "for",
    ast.While: "while",
    ast.Return: "return",
    ast.Continue: "continue",
    ast.Break: "break",
}


@dataclass
class KernelShapes:
    """What one kernel has (``SHAPES``), and what it is written with."""

    has: dict[str, bool]
    dims: int
    statements: int
    kinds: Counter = field(default_factory=Counter)  # statement kinds (``_KINDS``; calls as "call")
    calls: Counter = field(default_factory=Counter)  # wp.NAME(...) builtins, by NAME
    arg_types: Counter = field(default_factory=Counter)  # argument annotations, arrays by their dtype


@dataclass(frozen=True)
class Declared:
    """What a source (a module, or a package's files together) defines for its kernels to use."""

    funcs: frozenset[str]
    structs: frozenset[str]


def declared(trees: Iterable[ast.AST]) -> Declared:
    return _definitions(trees)[0]


def _definitions(trees: Iterable[ast.AST]) -> tuple[Declared, list[ast.FunctionDef]]:
    """What ``trees`` declare, and their kernels, from one walk."""
    funcs, structs, kernels = set(), set(), []
    for tree in trees:
        for node in nodes(tree):
            if type(node) is ast.FunctionDef:
                if is_kernel(node):
                    kernels.append(node)
                elif warp_decorated(node, "func"):
                    funcs.add(node.name)
            elif type(node) is ast.ClassDef and warp_decorated(node, "struct"):
                structs.add(node.name)
    return Declared(frozenset(funcs), frozenset(structs)), kernels


def _body(kernel: ast.FunctionDef) -> list[ast.stmt]:
    """The kernel's statements at any depth, in order, without nested definitions or a docstring."""
    found: list[ast.stmt] = []

    def visit(block: list[ast.stmt]) -> None:
        for statement in block:
            if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                continue
            found.append(statement)
            for name in _BLOCKS:
                visit(getattr(statement, name, None) or [])

    body = kernel.body
    docstring = body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    visit(body[1:] if docstring else body)
    return found


def _indices(node: ast.Subscript) -> list[ast.AST]:
    return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]


def _integer(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _text(node: ast.AST) -> str:
    """``ast.unparse(node)``, without its cost for the dotted names most annotations are."""
    if type(node) is ast.Name:
        return node.id
    if type(node) is ast.Attribute and type(node.value) is ast.Name:
        return f"{node.value.id}.{node.attr}"
    return ast.unparse(node)


def _arg_type(annotation: ast.AST | None) -> str:
    """An argument's type as the fit counts it: an array by its element type (``array:vec3``)."""
    if annotation is None:
        return "?"
    if isinstance(annotation, ast.Subscript) and _text(annotation.value) in _ARRAY_TYPES:
        return "array:" + _text(annotation.slice).removeprefix("wp.")
    if isinstance(annotation, ast.Call) and _text(annotation.func) in _ARRAY_TYPES:
        dtype = next((k.value for k in annotation.keywords if k.arg == "dtype"), None)
        dtype = dtype or (annotation.args[0] if annotation.args else None)
        return "array:" + (_text(dtype).removeprefix("wp.") if dtype is not None else "?")
    return _text(annotation).removeprefix("wp.")


def kernel_shapes(kernel: ast.FunctionDef, names: Declared) -> KernelShapes:
    """The shapes of one ``@wp.kernel`` whose source declares ``names``."""
    args = kernel.args.args
    annotations = [a.annotation for a in args]
    types = [_arg_type(a) for a in annotations]
    arrays = {a.arg for a, t in zip(args, types, strict=True) if t.startswith("array:")}
    body = _body(kernel)
    has = dict.fromkeys(SHAPES, False)
    has["array_subscript"] = any(
        isinstance(a, ast.Subscript) and t.startswith("array:") for a, t in zip(annotations, types, strict=True)
    )
    has["array_call"] = any(
        isinstance(a, ast.Call) and t.startswith("array:") for a, t in zip(annotations, types, strict=True)
    )
    has["struct_arg"] = any(a is not None and _text(a).split(".")[-1] in names.structs for a in annotations)
    has["over_10_statements"] = len(body) > 10
    shapes = KernelShapes(has, 1, len(body))
    shapes.arg_types.update(types)
    read_from_arrays: set[str] = set()  # names assigned from an array argument's element
    for statement in body:
        if type(statement) is ast.Assign and any(
            type(n) is ast.Subscript and type(n.value) is ast.Name and n.value.id in arrays
            for n in nodes(statement.value)
        ):
            read_from_arrays |= {t.id for t in statement.targets if type(t) is ast.Name}
    in_if: set[int] = set()
    for statement in body:
        kind = _KINDS.get(type(statement), "other")
        if type(statement) is ast.Expr and type(statement.value) is ast.Call:
            kind = "call"
        shapes.kinds[kind] += 1
        if type(statement) is ast.If:
            has["if"] = True
            in_if |= {id(s) for s in nodes(statement) if type(s) is ast.Return}
        elif type(statement) is ast.For:
            has["for"] = True
        elif type(statement) is ast.Return and id(statement) in in_if:
            has["early_return"] = True
        elif is_tid_assignment(statement):
            target = statement.targets[0]
            shapes.dims = max(shapes.dims, len(target.elts) if isinstance(target, ast.Tuple) else 1)
        elif (
            type(statement) is ast.AugAssign
            and isinstance(statement.op, (ast.Add, ast.Sub))
            and type(statement.target) is ast.Subscript
            and type(statement.target.value) is ast.Name
            and statement.target.value.id in arrays
        ):
            has["atomics"] = True
        for node in _own_nodes(statement):
            _read_node(node, shapes, names, arrays, read_from_arrays)
    has["launch_2d_3d"] = shapes.dims >= 2
    return shapes


def _own_nodes(statement: ast.stmt) -> list[ast.AST]:
    """The nodes of a statement itself, not of the statements in its blocks (counted on their own)."""
    if isinstance(statement, (ast.If, ast.While)):
        return nodes(statement.test)
    if isinstance(statement, ast.For):
        return nodes(statement.target) + nodes(statement.iter)
    return nodes(statement)


def _read_node(node: ast.AST, shapes: KernelShapes, names: Declared, arrays: set[str], assigned: set[str]) -> None:
    has = shapes.has
    kind = type(node)
    if kind is ast.Call:
        name = call_name(node.func)
        if name.startswith(("wp.", "warp.")):
            builtin = name.split(".", 1)[1]
            shapes.calls[builtin] += 1
            has["atomics"] |= builtin.startswith("atomic_")
            has["tile"] |= builtin.startswith("tile") or builtin == "untile"
        else:
            called = node.func.id if type(node.func) is ast.Name else getattr(node.func, "attr", "")
            has["own_func"] |= called in names.funcs
        arguments = [*node.args, *(k.value for k in node.keywords)]
        has["nested_call"] |= any(type(a) is ast.Call for a in arguments)
    elif kind is ast.Subscript:
        indices = _indices(node)
        is_shape = type(node.value) is ast.Attribute and node.value.attr == "shape"
        has["constant_index"] |= not is_shape and any(_integer(e) for e in indices)
        if type(node.value) is ast.Name and node.value.id in arrays:
            inside = [n for e in indices for n in nodes(e)]
            has["indirect"] |= any(
                (type(n) is ast.Subscript and type(n.value) is ast.Name and n.value.id in arrays | assigned)
                or (type(n) is ast.Name and n.id in assigned)
                for n in inside
            )


@dataclass
class HelperShapes:
    """What one ``@wp.func`` has: branches, early returns, loops."""

    has_if: bool
    early_return: bool
    has_for: bool


def helper_shapes(trees: list[ast.AST]) -> list[HelperShapes]:
    """The shapes of every ``@wp.func`` in ``trees``."""
    found = []
    for tree in trees:
        for node in nodes(tree):
            if type(node) is ast.FunctionDef and warp_decorated(node, "func"):
                body = _body(node)
                early = any(type(s) is ast.If and any(type(r) is ast.Return for r in nodes(s)) for s in body)
                found.append(
                    HelperShapes(any(type(s) is ast.If for s in body), early, any(type(s) is ast.For for s in body))
                )
    return found


def source_shapes(trees: list[ast.AST]) -> list[KernelShapes]:
    """The shapes of every ``@wp.kernel`` in ``trees``, which together are one source (a module, a
    package): a helper or struct any of them declares is the source's own."""
    names, kernels = _definitions(trees)
    return [kernel_shapes(kernel, names) for kernel in kernels]


def shares(found: list[KernelShapes]) -> dict[str, float]:
    """The share of kernels with each shape."""
    n = max(len(found), 1)
    return {shape: sum(k.has[shape] for k in found) / n for shape in SHAPES}


@dataclass
class Tally:
    """Shapes, statement kinds, builtins and argument types summed over kernels."""

    kernels: int = 0
    shapes: Counter = field(default_factory=Counter)
    dims: Counter = field(default_factory=Counter)
    statements: Counter = field(default_factory=Counter)  # kernels by statement count
    kinds: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)
    arg_types: Counter = field(default_factory=Counter)

    def add(self, found: Iterable[KernelShapes]) -> Tally:
        for k in found:
            self.kernels += 1
            self.shapes.update(shape for shape, yes in k.has.items() if yes)
            self.dims[k.dims] += 1
            self.statements[k.statements] += 1
            self.kinds.update(k.kinds)
            self.calls.update(k.calls)
            self.arg_types.update(k.arg_types)
        return self

    def shares(self) -> dict[str, float]:
        return {shape: self.shapes[shape] / max(self.kernels, 1) for shape in SHAPES}


def tally_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Tally))
