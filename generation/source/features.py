"""What a kernel's Python source uses, read from its syntax tree: features for rows and statistics,
and a normalized tree (names and constants canonicalised) to tell really different kernels apart.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from generation.source.warp_types import TYPES

_WARP_TYPE = re.compile(
    r"\bwp\.(" + "|".join(sorted((t for t in TYPES if "." not in t), key=len, reverse=True)) + r")\b"
)
_DTYPE_ALIASES = {"float": "float32", "int": "int32", "bool": "bool"}
_KEEP_NAMES = {"wp", "float", "int", "bool", "range", "len", "abs", "min", "max", "print"}


def warp_decorated(node: ast.AST, name: str) -> bool:
    """Whether ``node`` carries Warp's decorator ``name`` (``kernel``, ``func``, ``struct``): as
    ``@wp.name``, ``@warp.name`` or a bare imported ``@name``, with or without arguments.
    Not ``@ti.kernel``: Warp's benchmarks hold Taichi kernels too."""
    spellings = (f"wp.{name}", f"warp.{name}", name)
    for decorator in getattr(node, "decorator_list", []):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) in spellings:
            return True
    return False


def is_kernel(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and warp_decorated(node, "kernel")


def is_warp_body(node: ast.AST) -> bool:
    """A ``@wp.kernel`` or ``@wp.func``: code Warp generates."""
    return type(node) is ast.FunctionDef and (is_kernel(node) or warp_decorated(node, "func"))


def warp_calls(tree: ast.AST) -> Counter[str]:
    """``wp.NAME(...)`` calls inside the ``@wp.kernel`` and ``@wp.func`` bodies of ``tree``, by NAME
    (a kernel or helper defined inside another is counted once, with the body around it)."""
    calls: Counter[str] = Counter()
    for body in statements(tree, enter=lambda statement: not is_warp_body(statement)):
        if is_warp_body(body):
            for node in nodes(body):
                if type(node) is ast.Call:
                    name = call_name(node.func)
                    if name.startswith(("wp.", "warp.")):
                        calls[name.split(".", 1)[1]] += 1
    return calls


# The objects behind ``wp.uint64`` handles, by the builtins that take them first.
HANDLE_KINDS = {"wp.mesh_": "mesh", "wp.hash_grid_": "hash_grid", "wp.bvh_": "bvh", "wp.volume_": "volume"}


@dataclass(frozen=True)
class Launch:
    """What launching a kernel needs, read from its source in one parse: how many indices it takes,
    whether it runs tiled, which arguments are handles of which object, which are CSR offsets, and
    which integer arrays hold values only (never an index, a count or a handle's argument)."""

    dims: int
    tiled: bool
    handles: dict[str, str]
    offsets: set[str]
    value_ints: set[str] = frozenset()


def launch_of(python_source: str, kernel_name: str) -> Launch:
    tree = ast.parse(python_source)
    kernel = next(node for node in ast.walk(tree) if is_kernel(node) and node.name == kernel_name)
    tiled = any(name.startswith("tile") for name in warp_calls(tree))  # its helpers' calls count too
    helpers = {node.name: node for node in ast.walk(tree) if type(node) is ast.FunctionDef and node is not kernel}
    offsets = _offset_arrays(kernel)
    values = {
        name for name in _int_arrays(kernel) - offsets if not _indexes_with(kernel, {name}, set(), helpers, set())
    }
    return Launch(_launch_dims(kernel), tiled, _handle_kinds(kernel), offsets, values)


def _handle_kinds(kernel: ast.FunctionDef) -> dict[str, str]:
    """Which arguments are handles of which object (``{"mesh": "mesh"}``): the argument passed
    first to ``wp.mesh_*``, ``wp.hash_grid_*``, ``wp.bvh_*`` or ``wp.volume_*`` calls."""
    arguments = {arg.arg for arg in kernel.args.args}
    kinds = {}
    for node in ast.walk(kernel):
        if type(node) is ast.Call and node.args and type(node.args[0]) is ast.Name and node.args[0].id in arguments:
            name = call_name(node.func)
            for prefix, kind in HANDLE_KINDS.items():
                if name.startswith(prefix):
                    kinds.setdefault(node.args[0].id, kind)
    return kinds


# An integer array in either form: wp.array(dtype=int), wp.array[wp.int32].
_INT_ARRAY = re.compile(r"(dtype=(wp\.)?u?int(8|16|32|64)?\)|\[(wp\.)?u?int(8|16|32|64)?\])$")


def _int_arrays(kernel: ast.FunctionDef) -> set[str]:
    return {
        arg.arg
        for arg in kernel.args.args
        if arg.annotation is not None and _INT_ARRAY.search(ast.unparse(arg.annotation))
    }


def _offset_arrays(kernel: ast.FunctionDef) -> set[str]:
    """Integer arrays read one past an index (``offsets[i + 1]``): CSR offsets, one longer than the
    launch and monotone (a float field read at ``i + 1`` is a neighbour, not an offset)."""
    arguments = _int_arrays(kernel)
    found = set()
    for node in ast.walk(kernel):
        if type(node) is ast.Subscript and type(node.value) is ast.Name and node.value.id in arguments:
            index = node.slice
            if type(index) is ast.BinOp and type(index.op) is ast.Add and ast.unparse(index.right) == "1":
                found.add(node.value.id)
    return found


# Warp builtins whose integer arguments are indices, counts or sizes (``wp.atomic_add(a, k, v)``,
# ``wp.mesh_eval_position(mesh, face, ...)``, ``wp.tile_load(a, shape=n)``), by name prefix.
_INDEXING_BUILTINS = ("wp.atomic_", "wp.tile", "wp.mesh_", "wp.hash_grid_", "wp.bvh_", "wp.volume_", "wp.array")
_CONVERSIONS = {"int", "float", "bool", "abs", "min", "max"}


def _indexes_with(function: ast.FunctionDef, arrays: set[str], values: set[str], helpers: dict, seen: set) -> bool:
    """Whether a value read from ``arrays`` (or held by ``values``) can reach an index in
    ``function``: a subscript, a loop's bound, an indexing builtin's argument, or a helper that
    indexes with it (followed into the module's helpers; one that is not there counts). A local
    assigned such a value is followed too. Answers yes where unsure."""
    names = set(values)

    def reads(node: ast.AST) -> bool:
        return any(
            (type(n) is ast.Subscript and type(n.value) is ast.Name and n.value.id in arrays)
            or (type(n) is ast.Name and n.id in names)
            for n in ast.walk(node)
        )

    grown = True
    while grown:  # the locals that hold such a value, to a fixed point
        grown = False
        for node in ast.walk(function):
            if type(node) is ast.Assign:
                targets, value = node.targets, node.value
            elif type(node) in (ast.AugAssign, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            if reads(value):
                for target in targets:  # not an array element it is stored in: that is an output
                    for name in (
                        n.id for n in ast.walk(target) if type(target) is not ast.Subscript and type(n) is ast.Name
                    ):
                        grown |= name not in names
                        names.add(name)
    for node in ast.walk(function):
        if type(node) is ast.Subscript and reads(node.slice):
            return True
        if (type(node) is ast.For and reads(node.iter)) or (type(node) is ast.While and reads(node.test)):
            return True
        if type(node) is ast.Call and _indexing_call(node, arrays, reads, helpers, seen):
            return True
    return False


def _indexing_call(call: ast.Call, arrays: set[str], reads, helpers: dict, seen: set) -> bool:
    """Whether ``call`` may index with what ``reads`` finds in its arguments, or with an array of
    ``arrays`` passed whole."""
    name = call_name(call.func) or (call.func.id if type(call.func) is ast.Name else "")
    held = [k for k, arg in enumerate(call.args) if reads(arg)]
    whole = [k for k, arg in enumerate(call.args) if type(arg) is ast.Name and arg.id in arrays]
    if not held and not whole and not any(reads(keyword.value) for keyword in call.keywords):
        return False
    if name.startswith(_INDEXING_BUILTINS) or (whole and name not in helpers):
        return True  # an index, or an array a builtin reads whole (``wp.lower_bound(a, v)`` needs it sorted)
    if name.startswith(("wp.", "warp.")) or name in _CONVERSIONS:
        return False  # arithmetic: its value is followed where it is assigned
    helper = helpers.get(name)
    if helper is None or call.keywords or name in seen or len(call.args) > len(helper.args.args):
        return True
    params = [arg.arg for arg in helper.args.args]
    inner_arrays, inner_values = {params[k] for k in whole}, {params[k] for k in held}
    return _indexes_with(helper, inner_arrays, inner_values, helpers, seen | {name})


def _tid_dims(assign: ast.Assign) -> int:
    """``i, j = wp.tid()`` takes two indices: a 2D launch."""
    target = assign.targets[0]
    return len(target.elts) if isinstance(target, ast.Tuple) else 1


def is_tid_assignment(node: ast.AST) -> bool:
    return type(node) is ast.Assign and type(node.value) is ast.Call and call_name(node.value.func) in _TID_CALLS


def _launch_dims(kernel: ast.FunctionDef) -> int:
    """How many indices the kernel takes from its first ``wp.tid()`` (1 if it assigns none)."""
    tids = sorted((node for node in ast.walk(kernel) if is_tid_assignment(node)), key=lambda node: node.lineno)
    return _tid_dims(tids[0]) if tids else 1


def _range_kind(call: ast.Call) -> str:
    """``for_const``, ``for_static``, ``for_shape`` or ``for_arg``: what bounds a ``for ... in range(...)``."""
    if not (isinstance(call, ast.Call) and ast.unparse(call.func) == "range"):
        return "for_iter"  # a query or other iterator: for x in wp.mesh_query_...(...)
    bound = call.args[-1] if call.args else None
    if isinstance(bound, ast.Constant):
        return "for_const"
    text = ast.unparse(bound) if bound is not None else ""
    if "wp.static(" in text:
        return "for_static"
    if ".shape[" in text:
        return "for_shape"
    return "for_arg"


def _block_depth(statements: list[ast.stmt], depth: int = 0) -> int:
    """How deep if/for/while blocks nest in ``statements`` (blocks nest only through statement lists)."""
    deepest = depth
    for statement in statements:
        if isinstance(statement, (ast.If, ast.For, ast.While)):
            deepest = max(deepest, _block_depth(statement.body + statement.orelse, depth + 1))
    return deepest


def call_name(func: ast.AST) -> str:
    """``wp.sin`` for a call of ``wp.sin``; "" for anything but ``name.attribute``."""
    return f"{func.value.id}.{func.attr}" if type(func) is ast.Attribute and type(func.value) is ast.Name else ""


def nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` but the load and store markers (``ast.Load``...), as ``ast.walk``
    finds them but in depth-first order, at a third of its cost (rows and the card read every
    kernel's tree)."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        found.append(node)
        for name in child_fields(type(node)):
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        stack.append(item)
            elif isinstance(value, ast.AST):
                stack.append(value)
    return found


# The fields of each node class that can hold nodes: all but an expression's load or store marker
# and the identifiers, constants and comments every tree has many of.
_NOT_CHILDREN = {"ctx", "id", "attr", "arg", "value:Constant", "kind", "type_comment", "name", "module", "level"}
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node class that can hold nodes (``_NOT_CHILDREN`` aside), read once a class."""
    if kind not in _CHILD_FIELDS:
        _CHILD_FIELDS[kind] = tuple(
            field
            for field in kind._fields
            if field not in _NOT_CHILDREN and f"{field}:{kind.__name__}" not in _NOT_CHILDREN
        )
    return _CHILD_FIELDS[kind]


def statements(tree: ast.AST, enter: Callable[[ast.stmt], bool] = lambda statement: True) -> Iterator[ast.stmt]:
    """The statements of ``tree`` in source order, each followed by those nested in it (those that
    ``enter`` allows): definitions and blocks, never an expression's nodes (a tenth of the tree)."""
    for name in tree._fields:
        value = getattr(tree, name, None)
        if type(value) is not list:
            continue
        for item in value:
            if isinstance(item, ast.stmt):
                yield item
                if enter(item):
                    yield from statements(item, enter)
            elif isinstance(item, (ast.excepthandler, ast.match_case)):
                yield from statements(item, enter)


def kernel_features(python_source: str, tree: ast.Module | None = None) -> list[str]:
    """Sorted feature tags: launch and array dimensions, statement kinds, types, atomics, helpers
    (``tree``: the source already parsed, where the caller has it)."""
    tree = tree or ast.parse(python_source)
    found: set[str] = set()
    for match in _WARP_TYPE.finditer(python_source):
        found.add(f"type:{match.group(1)}")
    for match in re.finditer(r"(?:dtype=|wp\.array\d?d?\[)(float|int|bool)\b", python_source):
        found.add(f"type:{_DTYPE_ALIASES[match.group(1)]}")
    kernels, tids, returns = [], [], []  # one walk; kernel-only features are placed by line after it
    for node in nodes(tree):
        kind = type(node)
        if kind not in _READ_KINDS:
            continue
        if kind is ast.FunctionDef:
            if warp_decorated(node, "func"):
                found.add("wp_func")
            if warp_decorated(node, "kernel"):
                kernels.append(node)
        elif kind is ast.ClassDef and warp_decorated(node, "struct"):
            found.add("wp_struct")
        elif kind is ast.Call:
            name = call_name(node.func)
            if name in _CALL_FEATURES:
                found.add(_CALL_FEATURES[name])
            if name.startswith(_CALL_PREFIXES):
                found.update(feature for prefix, feature in _CALL_PREFIX_FEATURES if name.startswith(prefix))
        elif kind is ast.For:
            found.add(_range_kind(node.iter))
        elif kind is ast.Assign and is_tid_assignment(node):
            tids.append(node)
        elif kind is ast.Return:
            returns.append(node)
        else:
            for name, test in _NODE_FEATURES.get(kind, {}).items():
                if test(node):
                    found.add(name)
    for kernel in kernels:
        found |= _kernel_features(kernel, tids, returns)
    return sorted(found)


def _kernel_features(kernel: ast.FunctionDef, tids: list[ast.Assign], returns: list[ast.Return]) -> set[str]:
    """Launch dimensions, early returns, nesting and array arguments of one kernel."""
    found = set()

    def inside(node: ast.AST) -> bool:
        return kernel.lineno <= node.lineno <= kernel.end_lineno

    for tid in filter(inside, tids):
        found.add(f"launch_{_tid_dims(tid)}d")
    if any(node is not kernel.body[-1] for node in filter(inside, returns)):
        found.add("early_return")
    if _block_depth(kernel.body) >= 2:
        found.add("nested_blocks")
    for arg in kernel.args.args:
        annotation = ast.unparse(arg.annotation) if arg.annotation else ""
        match = re.match(r"wp\.array(\d)?d?[(\[]", annotation)  # wp.array(dtype=...) or wp.array2d[float]
        if match:
            found.add(f"array_{match.group(1) or 1}d")
    return found


_TID_CALLS = ("wp.tid", "warp.tid")
# Families of builtins, by the start of their names.
_CALL_PREFIX_FEATURES = (
    ("wp.tile", "tile"),
    ("wp.rand", "random"),
    ("wp.sample_", "random"),
    ("wp.mesh_", "query"),
    ("wp.bvh_", "query"),
    ("wp.hash_grid_", "query"),
    ("wp.volume_", "query"),
    ("wp.svd", "decomposition"),
    ("wp.qr3", "decomposition"),
    ("wp.eig3", "decomposition"),
)
_CALL_PREFIXES = tuple(prefix for prefix, _ in _CALL_PREFIX_FEATURES)
_CALL_FEATURES = {
    "wp.static": "wp_static",
    "wp.constant": "wp_constant",
    "wp.where": "wp_where",
    "wp.atomic_add": "atomic_add",
    "wp.atomic_sub": "atomic_sub",
    "wp.atomic_min": "atomic_min",
    "wp.atomic_max": "atomic_max",
    "wp.atomic_and": "atomic_bitwise",
    "wp.atomic_or": "atomic_bitwise",
    "wp.atomic_xor": "atomic_bitwise",
}
_NODE_FEATURES: dict[type, dict[str, Callable[[ast.AST], bool]]] = {
    ast.If: {
        "if": lambda n: True,
        "elif": lambda n: len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If),
        "else": lambda n: bool(n.orelse) and not isinstance(n.orelse[0], ast.If),
    },
    ast.While: {"while": lambda n: True},
    ast.AugAssign: {"atomic_augassign": lambda n: isinstance(n.target, ast.Subscript)},
    ast.BoolOp: {"bool_logic": lambda n: True},
}
# The node kinds ``kernel_features`` reads (most of a tree is names, constants and operators).
_READ_KINDS = {ast.FunctionDef, ast.ClassDef, ast.Call, ast.For, ast.Assign, ast.Return, *_NODE_FEATURES}


class _Canonical(ast.NodeTransformer):
    """Rename identifiers by first appearance (``v0``, ``v1``...) and blank out constants."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def rename(self, name: str) -> str:
        if name in _KEEP_NAMES:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.rename(node.arg)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.ClassDef) -> ast.AST:
        node.name = self.rename(node.name)
        self.generic_visit(node)
        return node

    visit_ClassDef = visit_FunctionDef  # a struct's name is renamed as a function's is

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if not (isinstance(node.value, ast.Name) and node.value.id == "wp"):
            node.attr = self.rename(node.attr)  # struct fields; wp.<builtin> keeps its name
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant(value=type(node.value).__name__), node)


def normalized_ast(python_source: str) -> str:
    """The source's syntax tree with identifiers and constants canonicalised, as text."""
    tree = _Canonical().visit(ast.parse(python_source))
    return ast.dump(tree, annotate_fields=False)


def structure_key(source: str | ast.Module) -> bytes:
    """The normalized syntax tree as compact bytes: equal exactly when ``normalized_ast`` is, at
    a fraction of its cost (planning keys every draw). One walk in field order renames as
    ``_Canonical`` does (the same first-appearance numbering) and writes each node as it goes."""
    out: list[str] = []
    _serialize(source if isinstance(source, ast.AST) else ast.parse(source), out, {})
    return "\x1f".join(out).encode()


def _serialize(node: ast.AST, out: list[str], names: dict[str, str]) -> None:
    kind = type(node)
    out.append(kind.__name__)
    if kind is ast.Constant:  # blanked to its type, as _Canonical.visit_Constant does
        out += [repr(type(node.value).__name__), "None"]
        return
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            _serialize(value, out, names)
        elif isinstance(value, list):
            out.append("[")
            for item in value:
                if isinstance(item, ast.AST):
                    _serialize(item, out, names)
                else:
                    out.append(repr(item))
            out.append("]")
        elif isinstance(value, str) and _renamed(kind, field, node):
            out.append(value if value in _KEEP_NAMES else names.setdefault(value, f"v{len(names)}"))
        else:
            out.append(repr(value))


def _renamed(kind: type, field: str, node: ast.AST) -> bool:
    """The identifier fields ``_Canonical`` renames."""
    if kind is ast.Attribute:
        return field == "attr" and not (isinstance(node.value, ast.Name) and node.value.id == "wp")
    return (kind, field) in _RENAMED_FIELDS


_RENAMED_FIELDS = {(ast.Name, "id"), (ast.arg, "arg"), (ast.FunctionDef, "name"), (ast.ClassDef, "name")}
