"""How kernels are shaped, read from their syntax: what separates real Warp kernels from expression soup.

Per ``@wp.kernel``: whether a builtin is applied to its own result (``wp.atan(wp.atan(x))``), the
expression depth of each statement, the statements that index an array argument with something
other than the thread index (neighbours, gathers, scatters), and whether it loops.
"""

from __future__ import annotations

import ast
import statistics
from dataclasses import dataclass, field

from generation.source.features import call_name, child_fields, is_kernel, is_tid_assignment, statements

# Nodes that make an expression one level deeper (a subscript or attribute does not).
_DEEPER = frozenset((ast.Call, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp))


@dataclass
class KernelShape:
    self_nesting: bool = False
    depths: list[int] = field(default_factory=list)  # one per statement
    indirect: int = 0  # statements that index an array argument with more than the thread index
    loop: bool = False


def _self_nested(node: ast.AST) -> bool:
    """``wp.f(wp.f(x), ...)``: a builtin called on its own result."""
    if type(node) is not ast.Call:
        return False
    name = call_name(node.func)
    return bool(name) and any(type(a) is ast.Call and call_name(a.func) == name for a in node.args)


def _expressions(statement: ast.stmt) -> list[ast.AST]:
    """What a statement computes: its value, test or iterable, and for stores the target too."""
    if isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [statement.value, *targets] if statement.value is not None else targets
    if isinstance(statement, (ast.Expr, ast.Return)):
        return [statement.value] if statement.value is not None else []
    if isinstance(statement, (ast.If, ast.While)):
        return [statement.test]
    if isinstance(statement, ast.For):
        return [statement.iter]
    return []


@dataclass
class _Reading:
    """What one walk over a statement's expressions finds (``kernel_shape``)."""

    arrays: set[str]  # the kernel's array arguments
    tids: set[str]  # the names ``wp.tid()`` assigns
    self_nesting: bool = False
    indirect: bool = False

    def read(self, node: ast.AST) -> int:
        """How deeply operations nest in the expression (``a[i] + 1.0`` is 1, ``wp.sin(a[i] * 2.0)``
        is 2), noting a self-nested call or an indirect array index on the way."""
        kind = type(node)
        if kind is ast.Call:
            self.self_nesting = self.self_nesting or _self_nested(node)
        elif kind is ast.Subscript and type(node.value) is ast.Name and node.value.id in self.arrays:
            tid_only = all(type(e) is ast.Name and e.id in self.tids for e in _indices(node.slice))
            self.indirect = self.indirect or not tid_only
        below = 0
        for name in child_fields(kind):
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        below = max(below, self.read(item))
            elif isinstance(value, ast.AST):
                below = max(below, self.read(value))
        return below + 1 if kind in _DEEPER else below


def kernel_shape(kernel: ast.FunctionDef) -> KernelShape:
    """The kernel's shape in one walk of its statements and one of each statement's expressions."""
    arrays = {a.arg for a in kernel.args.args if a.annotation is not None and "array" in ast.unparse(a.annotation)}
    inside = list(statements(kernel))
    tids = set()
    for node in inside:
        if type(node) is ast.Assign and is_tid_assignment(node):
            target = node.targets[0]
            tids |= {t.id for t in (target.elts if isinstance(target, ast.Tuple) else [target]) if type(t) is ast.Name}
    shape = KernelShape()
    for statement in inside:
        if isinstance(statement, (ast.For, ast.While)):
            shape.loop = True
        expressions = _expressions(statement)
        if not expressions or (isinstance(statement, ast.Assign) and is_tid_assignment(statement)):
            continue
        reading = _Reading(arrays, tids)
        shape.depths.append(max(reading.read(e) for e in expressions))
        shape.self_nesting |= reading.self_nesting
        shape.indirect += reading.indirect
    return shape


def _indices(index: ast.AST) -> list[ast.AST]:
    return list(index.elts) if isinstance(index, ast.Tuple) else [index]


def shapes(sources) -> list[KernelShape]:
    """The shape of every ``@wp.kernel`` of the sources (texts, or parsed trees) that parse."""
    found = []
    for source in sources:
        try:
            tree = source if isinstance(source, ast.AST) else ast.parse(source)
        except SyntaxError:
            continue
        found += [kernel_shape(node) for node in statements(tree) if is_kernel(node)]
    return found


@dataclass(frozen=True)
class Realism:
    kernels: int
    self_nesting: float  # share of kernels
    p90_depth: float
    indirect: float  # share of statements
    loops: float  # share of kernels


def realism(kernel_shapes: list[KernelShape]) -> Realism:
    depths = sorted(d for s in kernel_shapes for d in s.depths)
    n = max(len(kernel_shapes), 1)
    p90 = statistics.quantiles(depths, n=10)[-1] if len(depths) >= 2 else float(depths[0] if depths else 0)
    return Realism(
        kernels=len(kernel_shapes),
        self_nesting=sum(s.self_nesting for s in kernel_shapes) / n,
        p90_depth=p90,
        indirect=sum(s.indirect for s in kernel_shapes) / max(len(depths), 1),
        loops=sum(s.loop for s in kernel_shapes) / n,
    )
