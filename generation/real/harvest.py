"""Harvesting real ``@wp.kernel`` functions from Python files no generator wrote.

Each top-level kernel becomes a small, self-contained module: the kernel plus the top-level
statements it needs (imports, constants, ``wp.func`` helpers, ``wp.struct`` types, overloads),
found by following names from the kernel's syntax tree. The row's code is then generated from
that module alone, so a harvested row is as honest as a generated one. Files are only parsed
here, never imported: a test file's side effects (settings, launches) cannot reach a build.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import shlex
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

from generation.real import bundle, declarations, importer, licenses
from generation.real.packages import PackageRoots, PipSource, Provenance, fetch_package, fetch_tests, module_roots
from generation.source.edits import without_backward
from generation.source.features import is_kernel
from generation.source.modules import module_name
from generation.source.spec import Failure, KernelSpec, SkipError, kernel_origin, origin_file

logger = logging.getLogger(__name__)

REAL_CATEGORY = "real"
# Where the installed warp package keeps kernels written by its authors.
WARP_KERNEL_FOLDERS = ("examples", "tests")
# A bigger .py file is data or generated code, not kernels to learn from: skipped unread. The
# biggest file among Warp's package and the packages the README measures is about 0.8 MB.
MAX_SOURCE_BYTES = 4_000_000


@dataclass
class Harvested:
    specs: list[KernelSpec] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)  # files and kernels that gave no spec, and why


def warp_package() -> Path:
    """The installed warp package's folder, found without importing it."""
    return Path(importlib.util.find_spec("warp").submodule_search_locations[0])


def warp_license() -> str:
    """The licence the installed warp-lang declares (Apache-2.0 for Warp 1.19)."""
    meta = metadata.metadata("warp-lang")
    return meta.get("License-Expression") or meta.get("License") or "unknown"


@dataclass(frozen=True)
class Root:
    """A file or folder to harvest, and how row origins start for the files under it."""

    path: Path
    label: str  # "warp/examples", a folder's own name; "" for a file given alone (its origin is its name)


@dataclass(frozen=True)
class SourceGroup:
    """Files harvested together (one static bundle, one import child): the paths a build gives,
    Warp's own kernels, or one package with its provenance."""

    roots: tuple[Root, ...]
    default_license: str  # for a file that states none
    provenance: Provenance | None = None  # None: files given as paths
    run_commands: tuple[str, ...] = ()  # run mode: the group's own commands (a package's sdist tests)


@dataclass(frozen=True)
class SourceFile:
    origin: str  # the file's path as rows name it: relative to what was given, never a machine path
    path: Path
    root: Path  # the folder it was found under (a given file's own folder): licence files are looked for up to it


def warp_group() -> SourceGroup:
    """Warp's own examples and tests, under Warp's licence and provenance."""
    roots = tuple(Root(warp_package() / folder, f"warp/{folder}") for folder in WARP_KERNEL_FOLDERS)
    return SourceGroup(roots, warp_license(), Provenance("warp-lang", metadata.version("warp-lang"), warp_license()))


def path_group(paths: tuple[str, ...]) -> SourceGroup:
    """Files and folders a build names: ``.py`` files, or folders holding them."""
    roots = [Path(p) for p in paths]
    missing = [str(p) for p in roots if not p.exists()]
    if missing:
        raise ValueError(f"paths {missing} do not exist; give .py files or folders that hold them")
    not_python = [str(p) for p in roots if p.is_file() and p.suffix != ".py"]
    if not_python:
        raise ValueError(f"paths {not_python} are not .py files; give .py files or folders that hold them")
    return SourceGroup(named_roots(roots), "unknown")


def package_group(package: PackageRoots, tests: Path | None = None) -> SourceGroup:
    """A package's files; with ``tests`` (its sdist's test folder), those too, harvested as ``tests/``
    (their kernels are the package's, and ``built_by`` names a test by its file there), and run by
    pytest as the group's run command."""
    roots = named_roots(package.roots)
    if tests is None:
        return SourceGroup(roots, package.provenance.license, package.provenance)
    command = shlex.join(["pytest", "-q", str(tests)])  # run_step keeps pytest off the project's cache and xdist
    return SourceGroup((*roots, Root(tests, tests.name)), package.provenance.license, package.provenance, (command,))


def named_roots(paths) -> tuple[Root, ...]:
    """Each path as a root whose files' origins start with its name (a file alone: its own name)."""
    return tuple(Root(path, "" if path.is_file() else path.name) for path in paths)


def source_files(group: SourceGroup | None = None) -> list[SourceFile]:
    """The files of a group (Warp's examples and tests by default), sorted; origins are relative
    paths (``warp/examples/core/example_sph.py``), never machine paths."""
    found = []
    for root in (group or warp_group()).roots:
        if root.path.is_file():
            found.append(SourceFile(f"{root.label}/{root.path.name}".lstrip("/"), root.path, root.path.parent))
            continue
        for file in sorted(root.path.rglob("*.py")):
            found.append(SourceFile(f"{root.label}/{file.relative_to(root.path).as_posix()}", file, root.path))
    return found


def _overloaded(statement: ast.stmt) -> str | None:
    """The kernel a top-level ``wp.overload(kernel, ...)`` gives concrete types to, else None."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return None
    call = statement.value
    used = {n.id for n in ast.walk(call.args[0]) if isinstance(n, ast.Name)} if call.args else set()
    return used.pop() if ast.unparse(call.func) in ("wp.overload", "warp.overload") and len(used) == 1 else None


def _module_options(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and "set_module_options" in ast.unparse(statement.value)


def kernel_lines(tree: ast.Module) -> dict[str, list[ast.stmt]]:
    """For each kernel of a file (by name), the top-level lines that belong with it, in file order:
    its ``wp.overload``s and the module options. Read once per file."""
    lines = [(s, _overloaded(s)) for s in tree.body if isinstance(s, ast.Expr)]
    options = [s for s, _ in lines if _module_options(s)]
    names = {kernel for _, kernel in lines if kernel} | {s.name for s in tree.body if is_kernel(s)}
    return {name: [s for s, kernel in lines if kernel == name or s in options] for name in names}


def kernel_module(
    index: bundle.Index, module: bundle.Module, kernel: ast.FunctionDef, lines: list[ast.stmt]
) -> tuple[str, list[str]]:
    """The row's module for a kernel with its ``lines`` (``kernel_lines``), and the other files it
    drew on (``SkipError`` when it cannot be made): its file's plain slice when the file is enough,
    else the bundle of what it reaches in other harvested files."""
    kernel_bundle = bundle.Bundle(index, module, kernel)
    source = kernel_bundle.source([kernel, *lines])
    return source, [index.modules[name].origin for name in kernel_bundle.module_order() if name != module.name]


HARVEST_MODES = ("static", "import", "run")


@dataclass(frozen=True)
class HarvestOptions:
    """What to harvest and how: the build options a harvest reads, travelling together."""

    paths: tuple[str, ...] = ()  # files and folders; () is Warp's own examples and tests
    license: str | None = None  # one licence for every row, over what each file says
    include_backward: bool = True  # False: each row's source sets ``enable_backward: False``
    mode: str = "static"  # ``HARVEST_MODES``: read the files, import them in a child process, or run a command there
    import_timeout: float = importer.DEFAULT_TIMEOUT  # import mode: seconds one step may take
    import_setup: str | None = None  # import mode: a script the child runs after the imports
    packages: tuple[str, ...] = ()  # pip requirements, downloaded into the cache (``packages.py``)
    modules: tuple[str, ...] = ()  # installed packages by import name
    pip: PipSource = PipSource()  # where packages are downloaded from
    # run mode: ``pytest ARGS`` or ``python FILE ARGS``, run after the imports; several run as parts
    run_command: str | tuple[str, ...] | None = None
    run_timeout: float = 600  # run mode: seconds each command may run

    @property
    def default_source(self) -> bool:
        """Whether nothing was named, so Warp's own examples and tests are harvested."""
        return not (self.paths or self.packages or self.modules)


@dataclass(frozen=True)
class Found:
    """A kernel a harvest found, before it becomes a ``KernelSpec``."""

    name: str
    origin: str  # ``kernel_origin``: file, qualname and overload
    python_source: str
    other_files: list[str]  # the other harvested files its definitions came from
    doc: str
    recipe: dict


@dataclass(frozen=True)
class ParsedFile:
    source: SourceFile
    text: str
    module: bundle.Module


def harvest(options: HarvestOptions = HarvestOptions()) -> Harvested:
    """Every kernel of the files as a ``KernelSpec``, under ``options.license`` when given, else under
    the licences of the files it came from (``licenses.file_license``); files and kernels that give no
    spec are listed with why (``SyntaxError``, ``nested_kernel``, ``needs_package``...).

    The paths, each package and each module are harvested apart (``source_groups``), and each
    row and skip carries its package's provenance. Mode "static" reads the files (top-level
    kernels, imports inside the files bundled); "import" imports them in a child process, runs
    ``import_setup`` if given, and takes every kernel Warp then knows (``importer.py``), each step
    given at most ``import_timeout`` seconds."""
    result = Harvested()
    for group in source_groups(options, result.skipped):
        harvest_group(group, options, result)
    logger.info("harvested %d kernels (%s); skipped %d", len(result.specs), options.mode, len(result.skipped))
    return result


def source_groups(options: HarvestOptions, skipped: list[Failure]) -> list[SourceGroup]:
    """What a build harvests, a group each: the paths it gives, then each package and module
    (fetched into the cache first), or else Warp's own kernels. A package that gives no files
    (no Python in it, a Warp it cannot run on) is added to ``skipped``."""
    if options.default_source:
        return [warp_group()]
    groups = [path_group(options.paths)] if options.paths else []
    named = [fetch_package(r, options.pip) for r in options.packages] + [module_roots(m) for m in options.modules]
    with_tests = options.mode == "run" and not options.run_command  # a command given runs instead
    for number, package in enumerate(named):
        if package.failure is not None:
            skipped.append(replace(package.failure, package=package.provenance.key))
            continue
        tests = fetch_tests(package.provenance, options.pip) if with_tests and number < len(options.packages) else None
        if isinstance(tests, Failure):  # imported, as import mode would: said and counted
            logger.warning("%s; run mode imports it without running anything", tests.message)
            skipped.append(replace(tests, package=package.provenance.key))
            tests = None
        groups.append(package_group(package, tests))
    return groups


def harvest_group(group: SourceGroup, options: HarvestOptions, result: Harvested) -> None:
    """The specs and skips of one group's files, each carrying the group's package."""
    skipped: list[Failure] = []
    parsed = parse_files(group, skipped)
    file_licenses = {
        p.source.origin: licenses.file_license(p.text, p.source.path, p.source.root, group.default_license)
        for p in parsed
    }
    if options.mode == "static":
        found = static_kernels(parsed, skipped)
    else:
        found = imported_kernels(parsed, options, skipped, group.run_commands)
    package = group.provenance if group.provenance and group.provenance.name else None
    for kernel in found:
        # A row drawing on several files carries each file's licence (an SPDX AND expression).
        files = [origin_file(kernel.origin), *kernel.other_files]
        row_license = options.license or " AND ".join(sorted({file_licenses[f] for f in files}))
        result.specs.append(kernel_spec(kernel, row_license, options.include_backward, package))
    result.skipped += [replace(f, package=package.key) for f in skipped] if package else skipped


def parse_files(group: SourceGroup, skipped: list[Failure]) -> list[ParsedFile]:
    """Each file of the group read and parsed; one that is too large, unreadable or not Python is
    added to ``skipped``."""
    parsed = []
    for source in source_files(group):
        size = source.path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            limit = f"over the {MAX_SOURCE_BYTES:,}-byte limit for a source file"
            skipped.append(Failure("too_large", f"{source.origin}: {size:,} bytes, {limit}"))
            continue
        try:
            text = source.path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
            skipped.append(Failure(type(error).__name__, f"{source.origin}: {error}"))
            continue
        name, is_package = module_name(source.path, source.root)
        parsed.append(
            ParsedFile(source, text, bundle.Module(name, is_package, source.origin, tree, text.splitlines(True)))
        )
    return parsed


def static_kernels(parsed: list[ParsedFile], skipped: list[Failure]) -> list[Found]:
    """Each top-level kernel as its file's slice or its bundle across files; nested kernels and
    kernels that cannot be bundled are added to ``skipped``."""
    index = bundle.Index([p.module for p in parsed])
    found = []
    for p in parsed:
        origin, tree = p.source.origin, p.module.tree
        top_level = [node for node in tree.body if is_kernel(node)]
        lines = kernel_lines(tree)
        for node in ast.walk(tree):
            if is_kernel(node) and node not in top_level:
                skipped.append(Failure("nested_kernel", f"{origin}: {node.name} is defined inside a function or class"))
        for kernel in top_level:
            where = kernel_origin(origin, kernel.name)
            try:
                python_source, other_files = kernel_module(index, p.module, kernel, lines[kernel.name])
            except SkipError as error:
                skipped.append(Failure(error.kind, f"{where}: {error}"))
                continue
            overloaded = any(_overloaded(line) == kernel.name for line in lines[kernel.name])
            if not overloaded and declarations.is_generic(kernel, index.lookup(p.module)):
                # Its types come from a launch: no code without them. Counted here, before the plan
                # deals files to the splits, as code generation would count it.
                why = "is generic and has no wp.overload: its types come from a launch"
                skipped.append(Failure("GenericKernelError", f"{where}: {why}"))
                continue
            recipe = {"origin": origin, "kernel": kernel.name}
            found.append(Found(kernel.name, where, python_source, other_files, ast.get_docstring(kernel) or "", recipe))
    return found


def imported_kernels(
    parsed: list[ParsedFile], options: HarvestOptions, skipped: list[Failure], own_commands: tuple[str, ...] = ()
) -> list[Found]:
    """Every kernel Warp knows after the child imported the files (and ran the setup script and, in
    run mode, the command, or else the group's ``own_commands``: with what built each kernel in its recipe)."""
    files = [(p.source.origin, p.source.path, p.source.root) for p in parsed]
    commands = (options.run_command,) if isinstance(options.run_command, str) else options.run_command or ()
    commands = commands or own_commands
    runs = tuple(importer.RunCommand(command, options.run_timeout) for command in commands)
    imported = importer.import_kernels(files, options.import_timeout, options.import_setup, runs)
    for shown, why in imported.run_failures:
        logger.warning("the run command %r %s", shown, why)
    skipped += imported.failures
    found = []
    for k in imported.kernels:
        recipe = {"origin": k.origin, "kernel": k.qualname, "line": k.line, "mode": options.mode}
        recipe |= {"overload": k.overload} if k.overload else {}
        recipe |= {"run": k.run} if k.run else {}
        recipe |= {"built_by": k.built_by} if k.built_by else {}
        found.append(
            Found(k.name, kernel_origin(k.origin, k.qualname, k.overload), k.python_source, k.files, k.doc, recipe)
        )
    return found


def kernel_spec(kernel: Found, license_: str, include_backward: bool, package: Provenance | None) -> KernelSpec:
    origin = origin_file(kernel.origin)
    recipe = kernel.recipe | ({"files": kernel.other_files} if kernel.other_files else {})
    text = f"The `{kernel.name}` kernel from {origin}"
    return KernelSpec(
        kernel.name,
        REAL_CATEGORY,
        f"{text}: {kernel.doc.strip()}" if kernel.doc else text + ".",
        kernel.python_source if include_backward else without_backward(kernel.python_source),
        difficulty="",
        recipe=json.dumps(recipe, sort_keys=True),
        origin=kernel.origin,
        license=license_,
        package=package.name if package else "",
        package_version=package.version if package else "",
    )
