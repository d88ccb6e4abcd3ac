"""Static bundling: a harvested kernel whose file imports from other harvested files (relative
imports, or absolute imports of the package being harvested) gets the definitions it reaches
written into its own module, so that Warp needs nothing but the row's ``python_source``.

Nothing is imported or run here: files are parsed, and definitions are followed by name through
``from .types import Model``, ``from pkg.math import f`` and module aliases (``u.helper(x)``
becomes ``helper(x)``), transitively, across files. A name that two bundled definitions share is
renamed in the later one (``helper_2``), with every reference to it. Besides the kernel and its
``wp.overload``/``set_module_options`` lines, a bundled row holds declarations only: ``@wp.func``
(with overloads), ``@wp.struct``, and assignments of literals, Warp types and constants, and
arithmetic on them (``wp.constant(...)``, ``wp.vec(...)``, ``2 * PI``, ``math.sqrt(PI)``,
``int(N / 2)``). Every expression importing the row evaluates, the kernel's own decorators,
defaults, annotations and ``wp.static`` arguments included, must run nothing
(``declarations.first_effect``). Imports may only be of ``ALLOWED_PACKAGES``; a kernel that needs
anything else is a counted skip that names it. Imports of ``warp`` itself stay imports (made
absolute when relative), since Warp is what builds the rows.

A kernel whose file is enough (nothing crosses into another harvested file) is written as the plain
slice of its file: the statements it needs, verbatim and in file order, imports included.
"""

from __future__ import annotations

import ast
import functools
import textwrap
from dataclasses import dataclass, field, replace

from generation.real import declarations
from generation.source.edits import definition_name_edit, edited_text, outermost
from generation.source.features import is_kernel, warp_decorated
from generation.source.modules import ALLOWED_PACKAGES, BUILTIN_NAMES
from generation.source.spec import SkipError


@dataclass
class Module:
    """One parsed harvested file, named as Python would import it."""

    name: str
    is_package: bool  # an ``__init__.py``: relative imports start from the module itself
    origin: str
    tree: ast.Module
    lines: list[str]
    _bindings: dict | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Binding:
    """What a module-level name is: ``def`` (statements of this module), ``symbol`` (a name of
    another harvested module), ``module`` (another harvested module), ``import`` (an allowed
    import, kept as ``text``), ``forbidden`` (an import of ``target``, a package not allowed) or
    ``unresolved`` (an import of ``target``, which no harvested file is)."""

    kind: str
    target: str = ""  # module name (symbol, module), package (forbidden)
    name: str = ""  # symbol: the name in the target module; import: the name imported from ``package``
    text: str = ""  # import: the statement as the row writes it
    statements: tuple = ()  # def: the statements that bind it; import: the import statement
    package: str = ""  # import: the dotted module imported, or imported from
    rewritten: bool = False  # import: a relative import the row writes as an absolute one


def _import_text(module_path: str, name: str, alias: str | None) -> str:
    return f"from {module_path} import {name}" + (f" as {alias}" if alias and alias != name else "")


class Index:
    """Every harvested module by dotted name, and the bindings of each."""

    def __init__(self, modules: list[Module]):
        self.modules = {module.name: module for module in modules}
        self.tops = {name.split(".")[0] for name in self.modules}  # the packages being harvested
        self._following: set[tuple[str, str]] = set()  # (module, name) being looked up, to stop at a cycle

    def absolute(self, module: Module, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{node.module}" if node.module else package

    def bindings(self, module: Module) -> dict[str, Binding]:
        if module._bindings is None:
            module._bindings = {}  # while in progress: a star-import cycle sees no names, never loops
            module._bindings = self._bindings(module)
        return module._bindings

    def _bindings(self, module: Module) -> dict[str, Binding]:
        bound: dict[str, Binding] = {}
        defined: dict[str, list[ast.stmt]] = {}
        fallbacks = {id(s) for s in guarded_imports(module.tree)[1]}

        def bind(name: str, binding: Binding, statement: ast.stmt) -> None:
            # A fallback import binds only what the guarded one could not give a row.
            if id(statement) not in fallbacks or bound.get(name, Binding("forbidden")).kind in (
                "forbidden",
                "unresolved",
            ):
                bound[name] = replace(binding, statements=(statement,))

        for statement in top_statements(module.tree):
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    local = alias.asname or alias.name.split(".")[0]
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    binding = self._import_binding(module, target, None, ast.unparse(statement), alias)
                    bind(local, binding, statement)
            elif isinstance(statement, ast.ImportFrom):
                base = self.absolute(module, statement)
                for alias in statement.names:
                    if alias.name != "*":
                        binding = self._import_binding(module, base, alias.name, "", alias, bool(statement.level))
                        bind(alias.asname or alias.name, binding, statement)
                    elif base in self.modules and base.split(".")[0] != "warp":  # every public name of a harvested file
                        public = [n for n in self.bindings(self.modules[base]) if not n.startswith("_")]
                        bound.update({n: Binding("symbol", target=base, name=n) for n in public})
            elif not is_kernel(statement):
                for name in defined_names(statement):
                    defined.setdefault(name, []).append(statement)
        for name, statements in defined.items():
            bound[name] = Binding("def", statements=tuple(statements))
        return bound

    def _import_binding(
        self, module: Module, base: str, name: str | None, text: str, alias: ast.alias, relative: bool = False
    ) -> Binding:
        full = f"{base}.{name}" if name else base
        top = base.split(".")[0]
        if self.kept_as_import(top):
            text = text or _import_text(base, name, alias.asname)
            return Binding("import", name=name or "", text=text, rewritten=relative, package=base)
        if full in self.modules:
            return Binding("module", target=full)
        if name and base in self.modules:
            return Binding("symbol", target=base, name=name)
        if top in self.tops or not top:
            return Binding("unresolved", target=full)
        return Binding("forbidden", target=top)

    def lookup(self, module: Module) -> declarations.Lookup:
        """What ``module`` binds each name to, as ``declarations`` judges calls and values."""
        return functools.partial(self._bound, module)

    def _bound(self, module: Module, name: str) -> declarations.Bound | None:
        key = (module.name, name)
        if key in self._following:  # an alias of itself, or an import cycle
            return declarations.Bound("other")
        self._following.add(key)
        try:
            return self._meaning(module, name)
        finally:
            self._following.discard(key)

    def _meaning(self, module: Module, name: str) -> declarations.Bound | None:
        binding = self.bindings(module).get(name)
        if binding is None:  # a star import of Warp's own modules binds ``wp`` to Warp
            warp_star = any(_allowed_star_import(self, module, s) for s in module.tree.body)
            return declarations.Bound("module", "warp") if name in ("wp", "warp") and warp_star else None
        if binding.kind == "import":
            return declarations.Bound("module", binding.package, binding.name)
        if binding.kind == "forbidden":
            return declarations.Bound("module", binding.target)
        if binding.kind == "symbol":
            return self._bound(self.modules[binding.target], binding.name)
        statements = binding.statements
        if binding.kind == "def" and any(warp_decorated(s, "struct") for s in statements):
            return declarations.Bound("type")
        if binding.kind == "def" and any(self.declared_class(module, s) == "type" for s in statements):
            return declarations.Bound("type")
        if binding.kind == "def" and len(statements) == 1 and isinstance(statements[0], (ast.Assign, ast.AnnAssign)):
            return declarations.alias(statements[0].value, self.lookup(module)) or declarations.Bound("other")
        return declarations.Bound("other")

    def declared_class(self, module: Module, statement: ast.stmt) -> str | None:
        """``declarations.declared_class`` of a class statement of ``module`` (None for anything else)."""
        if not isinstance(statement, ast.ClassDef):
            return None
        return declarations.declared_class(statement, self.lookup(module))

    def kept_as_import(self, package: str) -> bool:
        """Whether an import of ``package`` stays an import in a row: Warp always (it builds the row),
        another allowed package unless it is one being harvested."""
        return package == "warp" or (package in ALLOWED_PACKAGES and package not in self.tops)


IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


def guarded_imports(tree: ast.Module) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The imports of a file's ``try: import ... except ImportError: import ...`` blocks: those the
    ``try`` makes, and the fallbacks its handlers make."""
    guarded, fallbacks = [], []
    for statement in tree.body:
        if (
            isinstance(statement, ast.Try)
            and statement.handlers
            and all(_catches_import_error(h) for h in statement.handlers)
        ):
            guarded += [s for s in statement.body if isinstance(s, (ast.Import, ast.ImportFrom))]
            fallbacks += [s for h in statement.handlers for s in h.body if isinstance(s, (ast.Import, ast.ImportFrom))]
    return guarded, fallbacks


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return all(isinstance(c, ast.Name) and c.id in IMPORT_ERRORS for c in caught)


def top_statements(tree: ast.Module) -> list[ast.stmt]:
    """A file's top-level statements as a row may take them: an import guarded by
    ``try``/``except ImportError`` counts as one (the guarded import first, a fallback for what it
    cannot give), in file order. An ``if TYPE_CHECKING:`` block, like any other block, binds nothing
    a row takes: it never runs."""
    guarded, fallbacks = guarded_imports(tree)
    nested = sorted(guarded + fallbacks, key=lambda s: (s.lineno, s.col_offset))
    return sorted([s for s in tree.body if not isinstance(s, ast.Try)] + nested, key=lambda s: s.lineno)


def defined_names(statement: ast.stmt) -> set[str]:
    """The module-level names a definition or assignment binds: plain names only (``wp.config.mode = ...``
    sets an attribute, it binds nothing)."""
    if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
        return {statement.name}
    if isinstance(statement, (ast.Assign, ast.AnnAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        names = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        return {t.id for t in names if isinstance(t, ast.Name)}
    return set()


def is_declaration(statement: ast.stmt, index: Index, module: Module) -> bool:
    """What a bundled file may contribute (see the module docstring)."""
    if isinstance(statement, ast.FunctionDef):
        return warp_decorated(statement, "func") or warp_decorated(statement, "func_native")
    if isinstance(statement, ast.ClassDef):
        return warp_decorated(statement, "struct") or index.declared_class(module, statement) is not None
    if isinstance(statement, (ast.Assign, ast.AnnAssign)):
        return statement.value is not None  # what it evaluates is checked as for every statement
    return False


def _local_names(statement: ast.stmt) -> set[str]:
    """Names a function binds for itself (arguments), which never refer to module-level names."""
    return {arg.arg for node in ast.walk(statement) if isinstance(node, ast.arguments) for arg in _args(node)}


def _args(arguments: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (arguments.vararg, arguments.kwarg) if a]
    return [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, *extra]


@dataclass
class _Emitted:
    module: Module
    statement: ast.stmt
    edits: list[tuple[int, int, int, int, str]]  # (line, col, end line, end col, replacement), 1-based lines


class Bundle:
    """The definitions one kernel reaches, across files, written as one module.

    Every statement it brings, from its own file or another, must be a declaration (``is_declaration``),
    except the kernel and its ``wp.overload``/``set_module_options`` lines. The row lists the allowed
    imports, then each file's statements in file order, a file after the files it needs.
    """

    def __init__(self, index: Index, module: Module, kernel: ast.FunctionDef):
        self.index, self.home = index, module
        self.imports: dict[str, str] = {}  # local name -> import statement text
        self.names: dict[tuple[str, str], str] = {(module.name, kernel.name): kernel.name}
        self.taken: set[str] = {kernel.name}
        self.visited: set[int] = set()
        self.emitted: list[_Emitted] = []
        self.needs: dict[str, list[str]] = {module.name: []}  # module -> the modules its statements use
        self.crossed = False  # whether anything came from another file or an internal import
        self.unresolved: set[str] = set()  # names nothing binds: a star import of the kernel's file may
        self.following: set[tuple[str, str]] = set()  # the imports being followed, to stop at a cycle
        self.not_declared: list[str] = []  # statements it needs that are not declarations

    def final_name(self, module: Module, name: str) -> str:
        key = (module.name, name)
        if key not in self.names:
            final, n = name, 1
            while final in self.taken or final in self.imports:
                n += 1
                final = f"{name}_{n}"
            self.names[key] = final
            self.taken.add(final)
        return self.names[key]

    def resolve(self, module: Module, name: str, user: Module) -> str | Module | None:
        """The name ``name`` of ``module`` has in the row (after following imports), or the
        harvested module it names; None for builtins and names nothing binds (Warp reports those).
        ``user`` is the module whose statement uses it."""
        binding = self.index.bindings(module).get(name)
        if binding is None:
            if name not in BUILTIN_NAMES:
                self.unresolved.add(name)
            return None
        if binding.kind == "def":
            final = self.final_name(module, name)
            if module is not user:
                self.needs.setdefault(user.name, []).append(module.name)
            for statement in binding.statements:
                self.take(module, statement)
            return final
        if binding.kind == "import":
            self.crossed |= binding.rewritten  # the plain slice would keep the relative import
            self.visited.update(id(statement) for statement in binding.statements)
            if self.imports.setdefault(name, binding.text) != binding.text:
                raise SkipError("name_clash", f"{module.origin}: {name!r} is imported as two different things")
            if name in self.taken:
                raise SkipError("name_clash", f"{module.origin}: the import {name!r} clashes with a definition")
            return name
        self.crossed = True
        if binding.kind == "unresolved":
            raise SkipError("unresolved_import", f"{module.origin}: no harvested file is {binding.target!r}")
        if binding.kind == "forbidden":
            raise SkipError("needs_package", f"{module.origin}: needs package {binding.target!r}")
        target = self.index.modules[binding.target]
        if binding.kind == "module":
            return target
        key = (module.name, name)
        if key in self.following:  # a imports x from b, b imports x from a
            raise SkipError("import_cycle", f"{module.origin}: {name!r} is imported in a cycle and defined nowhere")
        self.following.add(key)
        try:
            return self.resolve(target, binding.name, user) or self._missing(target, binding.name)
        finally:
            self.following.discard(key)

    def _missing(self, module: Module, name: str):
        raise SkipError("unresolved_import", f"{module.origin}: defines no {name!r}")

    def take(self, module: Module, statement: ast.stmt, declaration: bool = True) -> None:
        """Bring ``statement`` in, and everything it uses."""
        if id(statement) in self.visited:
            return
        self.visited.add(id(statement))
        self.crossed |= module is not self.home
        # Raised once the whole bundle is known (``source``), naming the line that would run code.
        effect = declarations.first_effect(statement, self.index.lookup(module))
        if effect is not None or (declaration and not is_declaration(statement, self.index, module)):
            line = (effect or statement).lineno
            self.not_declared.append(f"{module.origin}:{line}: {module.lines[line - 1].strip()}")
        edits, replaced = self._environment_defaults(module, statement)
        local = _local_names(statement)
        for node in ast.walk(statement):
            if id(node) in replaced:  # written as its default: what it named is not needed
                continue
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id not in local:
                target = self.resolve(module, node.value.id, module)
                if isinstance(target, Module):  # u.helper -> the bundled helper's name
                    final = self.resolve(target, node.attr, module) or self._missing(target, node.attr)
                    edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, final))
            elif isinstance(node, ast.Name) and node.id not in local:  # a file may bind a builtin's name
                final = self.resolve(module, node.id, module)
                if isinstance(final, str) and final != node.id:
                    edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, final))
        if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            final = self.final_name(module, statement.name)
            if final != statement.name:
                edits.append(definition_name_edit(module.lines, statement, final))
        # an attribute's own Name was resolved too: keep the outermost edit of overlapping ones
        self.emitted.append(_Emitted(module, statement, outermost(edits)))

    def _environment_defaults(self, module: Module, statement: ast.stmt) -> tuple[list, set[int]]:
        """Edits writing each environment read of ``statement`` as its default
        (``declarations.environment_default``), and the ids of the nodes they replace."""
        lookup = self.index.lookup(module)
        edits, replaced = [], set()
        for node in ast.walk(statement):
            default = declarations.environment_default(node, lookup) if id(node) not in replaced else None
            if default is not None:
                text = ast.get_source_segment("".join(module.lines), default) or ast.unparse(default)
                edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text))
                replaced |= {id(part) for part in ast.walk(node)} - {id(part) for part in ast.walk(default)}
        return edits, replaced

    def module_order(self) -> list[str]:
        """Modules a file after the files it needs (depth first from the kernel's file; a cycle is cut)."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name not in seen:
                seen.add(name)
                for needed in self.needs.get(name, []):
                    visit(needed)
                order.append(name)

        visit(self.home.name)
        return order

    def source(self, kernel_lines: list[ast.stmt]) -> str:
        """The row's module: the kernel and ``kernel_lines`` (its overloads and module options)
        with everything they use."""
        for statement in kernel_lines:
            self.take(self.home, statement, declaration=False)
        if self.not_declared:
            raise SkipError("not_a_declaration", self.not_declared[0][:200])
        if not self.crossed:
            return self._plain_source()
        blocks = list(dict.fromkeys(self.imports.values()))
        if self.unresolved:  # names a star import of allowed packages may bind, as the plain slice keeps them
            stars = [s for s in self.home.tree.body if _allowed_star_import(self.index, self.home, s)]
            blocks += [f"from {self.index.absolute(self.home, s)} import *" for s in stars]
        if not any(block.startswith("import warp as wp") for block in blocks):
            blocks.insert(0, "import warp as wp")
        rank = {name: k for k, name in enumerate(self.module_order())}
        emitted = sorted(self.emitted, key=lambda item: (rank[item.module.name], item.statement.lineno))
        return "\n\n".join(["\n".join(blocks) + "\n", *(_text(item) for item in emitted)])

    def _plain_source(self) -> str:
        """The kernel's file is enough: the statements the bundle took from it, imports included,
        verbatim and in file order (star imports of allowed packages when a name may come from one)."""
        home = self.home
        chosen = [
            statement
            for statement in top_statements(home.tree)
            if id(statement) in self.visited or (self.unresolved and _allowed_star_import(self.index, home, statement))
        ]
        edits = {id(item.statement): item.edits for item in self.emitted}
        blocks = [_text(_Emitted(home, statement, edits.get(id(statement), []))) for statement in chosen]
        if not any("import warp as wp" in block for block in blocks):
            blocks.insert(0, "import warp as wp\n")
        return "\n\n".join(blocks)


def _allowed_star_import(index: Index, module: Module, statement: ast.stmt) -> bool:
    if not (isinstance(statement, ast.ImportFrom) and any(alias.name == "*" for alias in statement.names)):
        return False
    return index.kept_as_import(index.absolute(module, statement).split(".")[0])


def _text(item: _Emitted) -> str:
    statement = item.statement
    start = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
    text = edited_text(item.module.lines, start, statement.end_lineno, item.edits)
    return textwrap.dedent(text) if statement.col_offset else text  # an import from a ``try`` block
