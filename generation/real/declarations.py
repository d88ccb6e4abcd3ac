"""Which expressions of a harvested file a row may keep: those that run nothing when evaluated.

Static harvest promises that it never runs code from the files it reads. A row's module is imported
to generate its code, and importing it evaluates expressions: decorators and their arguments,
default values, annotations (Warp evaluates string annotations too), class bodies, constant
initialisers, ``wp.overload`` and module-option lines, and the argument of every ``wp.static(...)``
(Warp evaluates it while generating code). Each of those must be a declaration in the strict sense:
literals, names, Warp types and their constructors, ``math`` functions, a few pure builtins, and
arithmetic, comparison and indexing on them. Calls are checked by what their name is bound to in
the file, never by their spelling, so ``import os as math`` or ``int = os.system`` gains nothing,
and no private or dunder attribute is followed (``wp.__builtins__["exec"]``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from generation.source.modules import BUILTIN_NAMES

# Builtins a declaration may name or call: pure functions and type constructors.
SAFE_BUILTINS = frozenset(
    {"int", "float", "bool", "complex", "str", "tuple", "list", "dict", "set", "frozenset", "range", "slice"}
    | {"abs", "min", "max", "round", "pow", "divmod", "len", "sum", "any", "all"}
)
# Builtins a declaration may read without calling them (``scalar_type: type = wp.float32``).
READABLE_BUILTINS = SAFE_BUILTINS | {"type", "object"}
# Packages whose public names a declaration may read as values (``np.pi``, ``typing.Any``).
VALUE_PACKAGES = frozenset({"warp", "math", "numpy", "typing", "enum"})
# The standard library's enum bases a declared class may derive from, and the enum helpers it may call.
ENUM_BASES = frozenset({"Enum", "IntEnum", "Flag", "IntFlag"})
ENUM_CALLS = frozenset({"auto", "unique"})
# What a declaration may call in Warp: its types and their constructors, and the declarations
# themselves (decorators, constants, overloads, module options, static expressions).
WARP_CALLS = re.compile(
    r"(?:vec[2-4]?|mat(?:\d\d)?|quat|transform|spatial_vector|spatial_matrix)(?:h|f|d|i|ui|b|ub|s|us|l|ul)?"
    r"|u?int(?:8|16|32|64)|float(?:16|32|64)|bool|vector|matrix|quaternion|transformation"
    r"|(?:indexed)?(?:fabric)?array(?:array)?(?:[1-4]d)?"
    r"|fixedarray|tile_stack"
    r"|constant|kernel|func|func_native|func_grad|func_replay|struct|overload|set_module_options|static"
)
# The Warp calls whose value is a type a file may call in turn (``vec3b = wp.types.vector(3, wp.bool)``).
WARP_TYPE_FACTORIES = frozenset({"vector", "matrix", "vec", "mat", "quaternion", "transformation"})
NUMPY_CALLS = re.compile(r"u?int(?:8|16|32|64)|float(?:16|32|64)|bool_|dtype")


@dataclass(frozen=True)
class Bound:
    """What a file binds a name to, as far as this check needs: ``module`` for an import of a module
    or of a name from one (``package`` is the dotted module, ``name`` the dotted name in it or ""),
    ``type`` for a Warp type the file declares (a ``@wp.struct``, ``wp.types.vector(...)``),
    ``other`` for any other definition of the file."""

    kind: str
    package: str = ""
    name: str = ""


DECLARED_TYPE = "<a type the file declares>"  # the path of a call of one: no builtin has this name
Lookup = Callable[[str], "Bound | None"]  # None: the file binds nothing by that name


def is_static_call(node: ast.AST) -> bool:
    """``wp.static(expr)``: Warp evaluates ``expr`` in Python while generating code."""
    return isinstance(node, ast.Call) and ast.unparse(node.func) in ("wp.static", "warp.static", "static")


def evaluated(statement: ast.stmt) -> list[ast.expr]:
    """The expressions of a top-level statement that importing the row and generating its code evaluate.
    A decorator is returned as a call of itself (Python calls it), a string annotation parsed (Warp
    evaluates it); a statement of a kind no declaration has is returned whole, so it never passes."""
    if isinstance(statement, ast.FunctionDef):
        arguments = statement.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        expressions = [_called(d) for d in statement.decorator_list]
        expressions += [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]
        expressions += [_annotation(a.annotation) for a in every if a and a.annotation]
        expressions += [_annotation(statement.returns)] if statement.returns else []
        statics = [node for node in ast.walk(statement) if is_static_call(node)]
        return expressions + [value for node in statics for value in _call_values(node)]
    if isinstance(statement, ast.ClassDef):
        expressions = [_called(d) for d in statement.decorator_list] + statement.bases
        expressions += [keyword.value for keyword in statement.keywords]
        return expressions + [e for s in statement.body for e in evaluated(s)]
    if isinstance(statement, ast.AnnAssign):
        return [_annotation(statement.annotation)] + ([statement.value] if statement.value else [])
    if isinstance(statement, (ast.Assign, ast.Expr)):
        return [statement.value]
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.Pass)):
        return []  # which packages may be imported is the bundle's rule (``ALLOWED_PACKAGES``)
    return [statement]


def first_effect(statement: ast.stmt, lookup: Lookup) -> ast.AST | None:
    """The first expression of ``statement`` that could run code when evaluated, or None."""
    for expression in evaluated(statement):
        found = _effect(expression, lookup)
        if found is not None:
            return found
    return None


def _effect(node: ast.AST, lookup: Lookup) -> ast.AST | None:
    if isinstance(node, ast.Constant):
        return None
    if isinstance(node, ast.Name):
        return None if _value_name(node.id, lookup) else node
    if isinstance(node, ast.Attribute):
        return node if node.attr.startswith("_") else _effect(node.value, lookup)
    if isinstance(node, ast.Call):
        default = environment_default(node, lookup)
        if default is not None:  # the row holds the default in its place (``Bundle.take``)
            return _effect(default, lookup)
        if not _callable(node.func, lookup):
            return node
        return _first(_call_values(node), lookup)
    children = _OPERANDS.get(type(node))
    if children is None:
        return node  # lambdas, comprehensions, f-strings, walrus, await, yield, statements
    return _first(children(node), lookup)


def _first(nodes, lookup: Lookup) -> ast.AST | None:
    return next((found for n in nodes if n is not None and (found := _effect(n, lookup)) is not None), None)


# Expressions that only combine the values of their operands, and where those are.
_OPERANDS: dict[type, Callable[[ast.AST], list]] = {
    ast.Tuple: lambda n: n.elts,
    ast.List: lambda n: n.elts,
    ast.Set: lambda n: n.elts,
    ast.Dict: lambda n: [*n.keys, *n.values],
    ast.UnaryOp: lambda n: [n.operand],
    ast.BinOp: lambda n: [n.left, n.right],
    ast.BoolOp: lambda n: n.values,
    ast.Compare: lambda n: [n.left, *n.comparators],
    ast.IfExp: lambda n: [n.test, n.body, n.orelse],
    ast.Subscript: lambda n: [n.value, n.slice],
    ast.Slice: lambda n: [n.lower, n.upper, n.step],
    ast.Starred: lambda n: [n.value],
}


# How a file reads a setting from the environment: ``os.getenv(NAME, default)``, ``os.environ.get(...)``.
ENVIRONMENT_READS = frozenset({("os", "getenv"), ("os", "environ", "get")})


def environment_default(node: ast.AST, lookup: Lookup) -> ast.expr | None:
    """The default of an environment read with a literal name and a default
    (``int(os.getenv("TILE_DIM", 256))``), else None. Static mode writes the default in its place:
    the row holds the value the file has where the variable is not set, whatever the builder's
    environment says, and nothing is read."""
    if not (isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords):
        return None
    name = node.args[0]
    path = _call_path(node.func, lookup)
    if path is None or tuple(path) not in ENVIRONMENT_READS:
        return None
    return node.args[1] if isinstance(name, ast.Constant) and isinstance(name.value, str) else None


def _value_name(name: str, lookup: Lookup) -> bool:
    """A name may be read when it is the file's definition, an import from a value package, a safe
    builtin, or bound nowhere in the file (a kernel's local in ``wp.static``, or a name Warp reports)."""
    bound = lookup(name)
    if bound is None:
        return name not in BUILTIN_NAMES or name in READABLE_BUILTINS
    return bound.kind != "module" or bound.package.split(".")[0] in VALUE_PACKAGES


def alias(value: ast.expr | None, lookup: Lookup) -> Bound | None:
    """What a name assigned ``value`` stands for when calls go through it: another name
    (``wptype = wp.float32``), or a Warp type the file makes (``vec3b = wp.types.vector(...)``)."""
    if isinstance(value, ast.Call):
        path = _call_path(value.func, lookup)
        return Bound("type") if _allowed(path) and path[-1] in WARP_TYPE_FACTORIES else None
    parts = _dotted_parts(value) if value is not None else []
    bound = lookup(parts[0]) if parts and not any(part.startswith("_") for part in parts) else None
    if bound is None or bound.kind != "module":
        return bound if bound is not None and len(parts) == 1 else None
    return Bound("module", bound.package, ".".join(filter(None, [bound.name, *parts[1:]])))


# What a Warp kernel argument may be annotated with to be generic (its types come from a launch or
# a ``wp.overload``): ``typing.Any`` and Warp's generic scalar aliases.
GENERIC_TYPES = frozenset({("typing", "Any"), ("warp", "Scalar"), ("warp", "Float"), ("warp", "Int")})


def is_generic(function: ast.FunctionDef, lookup: Lookup) -> bool:
    """Whether a kernel definition has an argument whose annotation names a generic type
    (``a: wp.array(dtype=Any)``, ``x: wp.Float``), as Warp would judge it, from the file alone."""
    arguments = function.args
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        if argument.annotation is None:
            continue
        for node in ast.walk(_annotation(argument.annotation)):
            if isinstance(node, (ast.Name, ast.Attribute)):
                path = _call_path(node, lookup)
                if path and tuple(path) in GENERIC_TYPES:
                    return True
            if isinstance(node, ast.Call) and not any(k.arg == "dtype" for k in node.keywords):
                path = _call_path(node.func, lookup)  # ``wp.array(ndim=2)``: its dtype is Any
                if path and path[0] == "warp" and ARRAY_TYPES.fullmatch(path[-1]):
                    return True
    return False


ARRAY_TYPES = re.compile(r"(?:indexed)?(?:fabric)?array(?:[1-4]d)?")


def _call_path(func: ast.expr, lookup: Lookup) -> list[str] | None:
    """The dotted module path a call's name is bound to (``["warp", "vec3"]`` for ``wp.vec3``), or
    ``[name]`` for a builtin; None for a private part, a non-name, or a definition of the file."""
    parts = _dotted_parts(func)
    if not parts or any(part.startswith("_") for part in parts):
        return None
    bound = lookup(parts[0])
    if bound is None:
        return parts if len(parts) == 1 and parts[0] in BUILTIN_NAMES else None
    if bound.kind == "type":
        return [DECLARED_TYPE] if len(parts) == 1 else None
    if bound.kind != "module":
        return None
    return [*bound.package.split("."), *(bound.name.split(".") if bound.name else []), *parts[1:]]


def _callable(func: ast.expr, lookup: Lookup) -> bool:
    """Whether a call of ``func`` is a declaration: decided by what its dotted name is bound to."""
    return _allowed(_call_path(func, lookup))


def _allowed(path: list[str] | None) -> bool:
    """Whether a call of what ``_call_path`` found is a declaration."""
    if not path:
        return False
    top, inner, last = path[0], path[1:-1], path[-1]
    if len(path) == 1:  # a builtin, or a type the file declares
        return top in SAFE_BUILTINS or top == DECLARED_TYPE
    if top == "math":
        return not inner
    if top == "warp":
        return inner in ([], ["types"]) and WARP_CALLS.fullmatch(last) is not None
    if top == "numpy":
        return not inner and NUMPY_CALLS.fullmatch(last) is not None
    if top == "enum":
        return not inner and last in ENUM_CALLS
    return False


def declared_class(statement: ast.ClassDef, lookup: Lookup) -> str | None:
    """What a class is as a declaration: ``"enum"`` (an ``enum.IntEnum`` and the like, whose members
    kernels read as constants) or ``"type"`` (a subclass of a Warp vector or matrix type,
    ``class vec10f(wp.types.vector(length=10, dtype=float))``); None for any other class. Its
    body may only hold assignments, a docstring and ``pass``; what they evaluate is checked as for
    every statement (``first_effect``)."""
    plain_body = all(
        isinstance(s, (ast.Assign, ast.AnnAssign, ast.Pass))
        or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in statement.body
    )
    if not statement.bases or statement.keywords or not plain_body:
        return None
    paths = [_call_path(base.func if isinstance(base, ast.Call) else base, lookup) for base in statement.bases]
    if all(p and len(p) == 2 and p[0] == "enum" and p[1] in ENUM_BASES for p in paths):
        return "enum" if not any(isinstance(b, ast.Call) for b in statement.bases) else None
    warp_types = all(
        isinstance(b, ast.Call) and _allowed(p) and p[-1] in WARP_TYPE_FACTORIES
        for b, p in zip(statement.bases, paths, strict=True)
    )
    return "type" if warp_types and not any(isinstance(s, ast.AnnAssign | ast.Assign) for s in statement.body) else None


def _dotted_parts(node: ast.expr) -> list[str]:
    """``a.b.c`` as ``["a", "b", "c"]``; [] for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    return [node.id, *parts] if isinstance(node, ast.Name) else []


def _call_values(node: ast.Call) -> list[ast.expr]:
    return [*node.args, *(keyword.value for keyword in node.keywords)]


def _called(decorator: ast.expr) -> ast.expr:
    """Python calls a bare decorator with the function: check it as the call it is."""
    if isinstance(decorator, ast.Call):  # ``@wp.kernel(...)``: the call makes the decorator Warp applies
        return decorator
    return ast.copy_location(ast.Call(func=decorator, args=[], keywords=[]), decorator)


def _annotation(node: ast.expr) -> ast.expr:
    """An annotation as Warp evaluates it: a string annotation is parsed, its text is what runs."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            parsed = ast.parse(node.value.strip(), mode="eval").body
        except SyntaxError:
            return node  # Warp fails on it before running anything
        for part in ast.walk(parsed):  # errors name the annotation's line, not the string's
            ast.copy_location(part, node)
        return parsed
    return node
