"""Writing a kernel Warp knows after an import as one self-contained module (import mode).

A kernel found by importing a package (``generation/real/importer.py``) may come from a factory
that closed over a dtype and sizes, call helpers from other files, or be one overload of a generic
kernel registered in a loop. Its source text alone does not say what it computes. Here every name
a kernel or one of its helpers reads is looked up as Warp looks it up (the closure, then the
function's module) and written out in the row's module:

- literals, Warp types and Warp values (vectors, matrices) as module-level constants;
- ``@wp.func`` helpers (with their overloads and custom gradients) and ``@wp.struct`` types from the
  harvested files as definitions, renamed where two share a name;
- modules and objects of ``source.modules.ALLOWED_PACKAGES`` as imports;
- the argument annotations of a function defined inside a function from the types Warp resolved
  (they were evaluated in the factory's scope, which the row does not have);
- a generic kernel's overload as ``wp.overload(kernel, {...})`` with its concrete types.

Anything else (a torch dtype, a plain object) is a ``SkipError`` naming the name and its type.
Every choice is made from the live objects; emitted text is never read back.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import keyword
import math
import sys
import textwrap
import types
import typing
from collections.abc import Callable

import warp as wp

from generation.backend import warp_api
from generation.source.edits import definition_name_edit, edited_text, outermost
from generation.source.modules import ALLOWED_PACKAGES, BUILTIN_NAMES
from generation.source.spec import SkipError

# How each composite type is made from its parameters (``_wp_type_params_``), the most specific first.
COMPOSITES = (
    (wp.types.type_is_quaternion, "wp.types.quaternion(dtype={dtype})"),
    (wp.types.type_is_transformation, "wp.types.transformation(dtype={dtype})"),
    (wp.types.type_is_matrix, "wp.types.matrix(shape=({shape}), dtype={dtype})"),
    (wp.types.type_is_vector, "wp.types.vector(length={shape}, dtype={dtype})"),
)
_MISSING = object()
# What ``@wp.kernel(...)`` takes; a kernel's other options are written as module options.
KERNEL_DECORATOR_OPTIONS = frozenset(inspect.signature(wp.kernel).parameters) - {"f"}
# Module options that change the code Warp generates, written when a kernel's module sets them.
CODEGEN_MODULE_OPTIONS = ("enable_backward", "max_unroll", "fast_math", "fuse_fp")


def _warp_names() -> dict[int, str]:
    """``wp.NAME`` for every type and builtin function Warp exports (the shortest name of each object)."""
    names: dict[int, str] = {}
    for name, value in sorted(vars(wp).items(), key=lambda item: (len(item[0]), item[0])):
        if not name.startswith("_") and (isinstance(value, type) or isinstance(value, wp.Function)):
            names.setdefault(id(value), f"wp.{name}")
    return names


WARP_NAMES = _warp_names()


def lookup(func: Callable, name: str) -> object:
    """What ``name`` means inside ``func``, as Warp resolves it: its closure, then its module's globals."""
    code = func.__code__
    if name in code.co_freevars:
        try:
            return func.__closure__[code.co_freevars.index(name)].cell_contents
        except ValueError:  # an empty cell: a name the factory had not bound yet
            return _MISSING
    return func.__globals__.get(name, _MISSING)


def _top_package(value: object) -> str:
    module = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    return (module or type(value).__module__ or "").split(".")[0]


def _local_names(function: ast.FunctionDef) -> set[str]:
    """Names a function binds itself: its arguments and what it assigns (they never mean a global)."""
    arguments = function.args
    extra = [a for a in (arguments.vararg, arguments.kwarg) if a]
    names = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, *extra]}
    return names | {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _chain(node: ast.AST) -> list[str] | None:
    """``["u", "helper"]`` for ``u.helper``; None when the expression is not names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        inner = _chain(node.value)
        return None if inner is None else [*inner, node.attr]
    return None


def _span(node: ast.AST, replacement: str) -> tuple[int, int, int, int, str]:
    return node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, replacement


def _float_text(value: float) -> str:
    return repr(value) if math.isfinite(value) else f'float("{value}")'


class Synthesis:
    """One row's module, built up from a kernel: imports, then constants and definitions, each
    after what it uses, then the kernel. ``harvested(path)`` says whether a file is one of those
    being harvested (its definitions are written out; other packages' are imported)."""

    def __init__(self, harvested: Callable[[str], bool]):
        self.harvested = harvested
        self.imports: list[str] = []
        self.blocks: list[str] = []
        self.names: dict[object, str] = {}  # what a module-level name holds (a key) -> the name
        self.taken: set[str] = set(BUILTIN_NAMES)
        self.files: list[str] = []  # the files definitions were written out from, in order
        self.claim(("module", "warp", "wp"), "wp", ("import", "warp"))

    # -- names ----------------------------------------------------------------------------------

    def claim(self, key: object, preferred: str, binds: tuple[str, ...] = ()) -> tuple[str, bool]:
        """The module-level name for ``key``, and whether it is new (the caller then defines it).
        ``binds``: ``("import", module)`` or ``("from", module, name)``, the import that binds it."""
        if key in self.names:
            return self.names[key], False
        name, n = preferred, 1
        while name in self.taken:
            n += 1
            name = f"{preferred}_{n}"
        self.names[key] = name
        self.taken.add(name)
        if binds:
            self.imports.append(_import_text(binds, name))
        return name, True

    def reference(self, name: str, value: object) -> str:
        """The module-level name under which the row holds ``value`` (read as ``name``)."""
        if isinstance(value, types.ModuleType):
            if _top_package(value) not in ALLOWED_PACKAGES:
                raise SkipError("needs_package", f"{name!r} is the module {value.__name__!r}, not allowed")
            return self.claim(("module", value.__name__, name), name, ("import", value.__name__))[0]
        text = self.value_text(name, value)
        if text.isidentifier() and not keyword.iskeyword(text):  # already a name of the row: a definition, an import
            return text
        final, new = self.claim(("value", text), name)
        if new:
            self.blocks.append(f"{final} = {text}\n")
        return final

    def imported(self, name: str, value: object) -> str | None:
        """The name of an import of ``value`` from an allowed package, if it is importable by name."""
        module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
        if not module or not qualname or "<locals>" in qualname or module.split(".")[0] not in ALLOWED_PACKAGES:
            return None
        try:
            if getattr(importlib.import_module(module), qualname, None) is not value:
                return None
        except ImportError:
            return None
        return self.claim(("import", module, qualname), name, ("from", module, qualname))[0]

    # -- values ---------------------------------------------------------------------------------

    def value_text(self, name: str, value: object) -> str:
        """``value`` as a Python expression the row can hold."""
        if value is None or isinstance(value, str):
            return repr(value)
        if isinstance(value, (bool, int, float)):
            return _number_text(value)
        if isinstance(value, list):
            return f"[{', '.join(self.value_text(name, item) for item in value)}]"
        if isinstance(value, tuple):  # ``for f in wp.static(FUNCS)``: helpers are written out one by one
            items = [self.value_text(name, item) for item in value]
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        if isinstance(value, wp.Function):
            if not value.is_builtin():
                return self.define_function(value)
            if id(value) in WARP_NAMES:  # wp.sin
                return WARP_NAMES[id(value)]
        elif isinstance(value, type) or wp.types.is_array(value) or wp.types.type_is_struct(value):
            return self.type_text(name, value)
        elif wp.types.type_is_composite(type(value)):  # a vector or matrix value
            flat = [value] if not hasattr(value, "__len__") else list(_flatten(value))
            return f"{self.type_text(name, type(value))}({', '.join(_number_text(x) for x in flat)})"
        elif warp_api.is_scalar_type(type(value)):  # wp.float32(2.0)
            return f"{self.type_text(name, type(value))}({_number_text(value.value)})"
        imported = self.imported(name, value)
        if imported:
            return imported
        package = _top_package(value)
        if package and package not in ALLOWED_PACKAGES:
            raise SkipError("needs_package", f"{name!r} holds a value of package {package!r}")
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        raise SkipError("closure_value", f"{name!r} holds a {kind}, which a row cannot write out")

    def type_text(self, name: str, type_: object) -> str:
        """A Warp type as the expression that makes it (``wp.array(dtype=wp.vec3, ndim=2)``)."""
        if type_ is None or type_ is type(None):  # ``-> None``
            return "None"
        if type_ in (int, float, bool):
            return type_.__name__
        if typing.get_origin(type_) is tuple:  # a function returning several values
            return f"tuple[{', '.join(self.param_text(name, arg) for arg in typing.get_args(type_))}]"
        if id(type_) in WARP_NAMES:
            return WARP_NAMES[id(type_)]
        if wp.types.is_array(type_):  # an array instance or Warp's lighter annotation of one
            kind = getattr(type(type_), "_concrete_cls", type(type_)).__name__
            return f"wp.{kind}(dtype={self.type_text(name, type_.dtype)}, ndim={type_.ndim})"
        if wp.types.type_is_struct(type_):
            return self.define_struct(type_)
        dtype = getattr(type_, "_wp_scalar_type_", None)
        if dtype is not None:
            alias = getattr(wp, wp.types.type_repr(type_), None)  # vector(3, float64) is wp.vec3d
            if alias is not None and wp.types.types_equal(alias, type_):
                return f"wp.{wp.types.type_repr(type_)}"
            # Warp's own parameters, which may be Any (``vector(length=Any, dtype=float)``, a generic type)
            *shape, scalar = [self.param_text(name, p) for p in type_._wp_type_params_]
            for test, make in COMPOSITES:
                if test(type_):
                    return make.format(shape=", ".join(shape), dtype=scalar)
        imported = self.imported(name, type_)
        if imported:
            return imported
        raise SkipError("closure_value", f"{name!r} is the type {type_!r}, which a row cannot write out")

    def param_text(self, name: str, param: object) -> str:
        """One parameter of a composite type: a size, a scalar type, or ``Any``."""
        if param is typing.Any:
            return self.imported("Any", typing.Any)
        return repr(param) if isinstance(param, int) else self.type_text(name, param)

    # -- definitions ----------------------------------------------------------------------------

    def define_function(self, function: wp.Function) -> str:
        """A ``@wp.func`` from the harvested files written out (each overload, custom gradient and
        replay), or imported from an allowed package."""
        key = ("function", id(function))
        if key in self.names:
            return self.names[key]
        file = inspect.getsourcefile(function.func) or ""
        if not self.harvested(file):
            return self.imported(function.func.__name__, function) or self._outside(function.func.__name__, function)
        name, _ = self.claim(key, function.func.__name__)
        self.files.append(file)
        texts = []
        for overload in _definitions(function):
            decorator = _func_decorator(overload)
            texts.append(self.function_text(overload.func, overload.adj.source, decorator, name, overload.input_types))
        for attribute, decorator in (("custom_grad_func", "func_grad"), ("custom_replay_func", "func_replay")):
            extra = getattr(function, attribute)
            if extra is not None:
                extra_name, _ = self.claim(("function", id(extra)), extra.func.__name__)
                decorator = f"@wp.{decorator}({name})"
                texts.append(self.function_text(extra.func, extra.adj.source, decorator, extra_name, extra.input_types))
        self.blocks.append("\n\n".join(texts))
        return name

    def define_struct(self, struct) -> str:
        """A ``@wp.struct`` from the harvested files written out, or imported from an allowed package."""
        key = ("struct", id(struct))
        if key in self.names:
            return self.names[key]
        cls = struct.cls
        file = inspect.getsourcefile(cls) or ""
        if not self.harvested(file):
            return self.imported(cls.__name__, struct) or self._outside(cls.__name__, struct)
        name, _ = self.claim(key, cls.__name__)
        self.files.append(file)
        try:
            source = textwrap.dedent(inspect.getsource(cls))
        except (OSError, TypeError):  # made by code (a class built in a function): written from its fields
            return self._struct_from_fields(struct, name)
        node = ast.parse(source).body[0]
        lines = source.splitlines(True)
        namespace = sys.modules[cls.__module__].__dict__
        edits = []
        resolve = lambda n: namespace.get(n, _MISSING)  # noqa: E731
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                field = statement.target.id
                edits += self.annotation(statement.annotation, resolve, cls.__annotations__[field], field)
                if statement.value is not None:  # a default: ``c: float = field(default=1.0)``
                    edits += self.references(statement.value, resolve, set())
            else:
                edits += self.references(statement, resolve, set())
        if name != node.name:
            edits.append(definition_name_edit(lines, node, name))
        self.blocks.append("@wp.struct\n" + edited_text(lines, node.lineno, node.end_lineno, outermost(edits)))
        return name

    def _struct_from_fields(self, struct, name: str) -> str:
        """A ``@wp.struct`` whose class has no source to read (a package builds it with ``type(...)``
        or in a factory): each field with the type Warp holds for it, in Warp's order."""
        fields = [f"    {field}: {self.type_text(field, var.type)}" for field, var in struct.vars.items()]
        self.blocks.append(f"@wp.struct\nclass {name}:\n" + ("\n".join(fields) or "    pass") + "\n")
        return name

    def _outside(self, name: str, value: object) -> str:
        package = _top_package(value)
        if package not in ALLOWED_PACKAGES:
            raise SkipError("needs_package", f"{name!r} comes from package {package!r}")
        raise SkipError("not_importable", f"{name!r} is defined outside the harvested files, in a function")

    def function_text(self, func: Callable, source: str, decorator: str, final: str, arg_types: dict) -> str:
        """A function's definition (Warp's own dedented source) under ``decorator``, named ``final``,
        with every name it reads bound in the row; ``arg_types`` are the types Warp holds for its
        arguments (overloads made from one Python function each hold their own)."""
        node = ast.parse(source).body[0]
        lines = source.splitlines(True)
        local = _local_names(node)
        resolve = lambda name: lookup(func, name)  # noqa: E731
        edits = []
        annotations = func.__annotations__
        arguments = node.args
        for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            if argument.annotation is not None:
                evaluated = arg_types.get(argument.arg, annotations.get(argument.arg))
                edits += self.annotation(argument.annotation, resolve, evaluated, argument.arg)
        if node.returns is not None:
            edits += self.annotation(node.returns, resolve, annotations.get("return"), "return")
        for default in [*arguments.defaults, *[d for d in arguments.kw_defaults if d is not None]]:
            edits += self.references(default, resolve, set())
        shadowed = local - self.taken  # while its body binds names, none of them may name what it reads
        self.taken |= shadowed
        for statement in node.body:
            edits += self.references(statement, resolve, local)
        self.taken -= shadowed - set(self.names.values())
        if final != node.name:
            edits.append(definition_name_edit(lines, node, final))
        return decorator + "\n" + edited_text(lines, node.lineno, node.end_lineno, outermost(edits))

    def annotation(self, node: ast.expr, resolve: Callable[[str], object], evaluated: object, name: str) -> list:
        """An annotation's edits: its own text, bound in the row, while that text still means what
        Python evaluated when the definition ran; else the evaluated type written out (a factory's
        ``dtype``, which the row has no scope for; a module run again under other settings)."""
        if isinstance(evaluated, str) or _still_means(node, resolve, evaluated):  # a str: ``from __future__
            return self.references(node, resolve, set())  # import annotations``, read in the row's namespace
        return [_span(node, self.type_text(name, evaluated))]

    def references(self, node: ast.AST, resolve: Callable[[str], object], local: set[str]) -> list:
        """Bind every outside name ``node`` reads; the edits that rename the ones the row calls otherwise."""
        chain = _chain(node)
        if chain is None or chain[0] in local:
            if isinstance(node, ast.Name):
                return []
            return [edit for child in ast.iter_child_nodes(node) for edit in self.references(child, resolve, local)]
        root = resolve(chain[0])
        if root is _MISSING:
            return []  # a builtin (range, float), or a name Warp reports itself
        if isinstance(root, types.ModuleType) and _top_package(root) in ALLOWED_PACKAGES or len(chain) == 1:
            final = self.reference(chain[0], root)  # wp.tid stays wp.tid: only the root name is the row's
            head = node
            while isinstance(head, ast.Attribute):
                head = head.value
            return [] if final == chain[0] else [_span(head, final)]
        value = root
        for attribute in chain[1:]:  # u.helper, config.N: the object itself, bound under its last name
            value = getattr(value, attribute, _MISSING)
            if value is _MISSING:
                return []
        return [_span(node, self.unshadowed(self.reference(chain[-1], value), local))]

    def unshadowed(self, final: str, local: set[str]) -> str:
        """``final``, or an alias of it where the function reading it binds that name itself
        (``fine_ijk = ...`` beside ``Grid.fine_ijk(...)``), made earlier for another function."""
        if final not in local:
            return final
        alias, new = self.claim(("alias", final), f"{final}_ref")
        if new:
            self.blocks.append(f"{alias} = {final}\n")
        return alias

    # -- the row --------------------------------------------------------------------------------

    def kernel_source(self, kernel: wp.Kernel, overload: wp.Kernel | None = None) -> str:
        """The row's module: ``kernel`` (with ``overload``'s concrete types declared, if given) and
        everything it reads."""
        func = kernel.func
        name, _ = self.claim(("kernel", id(kernel)), func.__name__)
        # Options the decorator takes go on it; others (``max_unroll``, which code may set through
        # ``wp.Kernel(options=...)``) are set for the row's module, which holds this kernel alone.
        literal = {k: v for k, v in sorted(kernel.options.items()) if _literal(v)}
        options = ", ".join(f"{k}={v!r}" for k, v in literal.items() if k in KERNEL_DECORATOR_OPTIONS)
        decorator = "@wp.kernel" + (f"({options})" if options else "")
        kernel_text = self.function_text(func, kernel.adj.source, decorator, name, kernel.adj.arg_types)
        tail = []
        if overload is not None:
            arg_types = ", ".join(f'"{k}": {self.type_text(k, t)}' for k, t in overload.adj.arg_types.items())
            tail.append(f"wp.overload({name}, {{{arg_types}}})\n")
        module_options = _module_options(kernel) | _kernel_codegen_options(kernel)
        head = [f"wp.set_module_options({module_options!r})\n"] if module_options else []
        parts = ["\n".join(self.imports) + "\n", *head, *self.blocks, kernel_text, *tail]
        return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def _import_text(imported: tuple[str, ...], name: str) -> str:
    """``import numpy as np``, ``import math``, ``from typing import Any``: the statement binding ``name``."""
    text = f"import {imported[1]}" if imported[0] == "import" else f"from {imported[1]} import {imported[2]}"
    return text if name == imported[-1] else f"{text} as {name}"


def _still_means(node: ast.expr, resolve: Callable[[str], object], evaluated: object) -> bool:
    """Whether evaluating ``node`` now, with the names the row will bind, gives ``evaluated``."""
    names = {n.id: resolve(n.id) for n in ast.walk(node) if isinstance(n, ast.Name)}
    namespace = {name: value for name, value in names.items() if value is not _MISSING}
    try:
        value = eval(ast.unparse(node), {"__builtins__": builtins} | namespace)  # noqa: S307 - import mode runs the package
        return value is evaluated or value == evaluated or bool(wp.types.types_equal(value, evaluated))
    except Exception:  # noqa: BLE001 - a name the factory's scope had: the text no longer says it
        return False


def _literal(value: object) -> bool:
    """A value whose ``repr`` is its Python literal (an ``IntEnum`` member is an int whose is not)."""
    return value is None or type(value) in (bool, int, float, str)


def _module_options(kernel: wp.Kernel) -> dict:
    """The codegen options the kernel's module sets away from a fresh module's defaults."""
    return _codegen_options(kernel.module.options)


def _kernel_codegen_options(kernel: wp.Kernel) -> dict:
    """The codegen options set on the kernel itself that its decorator cannot say (``max_unroll``
    through ``wp.Kernel(options=...)``), away from a fresh module's defaults."""
    return _codegen_options({k: v for k, v in kernel.options.items() if k not in KERNEL_DECORATOR_OPTIONS})


def _codegen_options(options: dict) -> dict:
    defaults = wp.get_module("wirp_module_option_defaults").options
    return {k: options[k] for k in CODEGEN_MODULE_OPTIONS if k in options and options[k] != defaults.get(k)}


def _definitions(function: wp.Function) -> list[wp.Function]:
    """The ``@wp.func`` definitions behind one name, in source order: generic templates and
    concrete overloads, not the instances Warp made of a template for the types it met."""
    written = [*function.user_templates.values(), *function.user_overloads.values()]
    written = [f for f in written if f.generic_parent is None] or [function]
    return sorted(written, key=lambda f: f.func.__code__.co_firstlineno)


def _func_decorator(function: wp.Function) -> str:
    if function.native_snippet is not None:
        snippets = (function.native_snippet, function.adj_native_snippet, function.replay_snippet)
        return f"@wp.func_native({', '.join(repr(s) for s in snippets)})"
    return "@wp.func"


def _flatten(value) -> list:
    out = []
    for item in value:
        out += _flatten(item) if hasattr(item, "__len__") else [item]
    return out


def _number_text(value) -> str:
    """A number as Python writes it: an IntEnum member as the int Warp sees, inf and nan spelled out."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    return _float_text(float(value))
