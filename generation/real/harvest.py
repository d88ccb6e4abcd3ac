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
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from generation.real import bundle, importer, licenses
from generation.source.features import is_kernel
from generation.source.modules import module_name
from generation.source.spec import Failure, KernelSpec

logger = logging.getLogger(__name__)

REAL_CATEGORY = "real"
# Where the installed warp package keeps kernels written by its authors.
WARP_KERNEL_FOLDERS = ("examples", "tests")
NO_BACKWARD = 'wp.set_module_options({"enable_backward": False})\n'
# A bigger .py file is data or generated code, not kernels to learn from: skipped unread. The
# biggest file among Warp's package and the packages the README measures is about 0.8 MB.
MAX_SOURCE_BYTES = 4_000_000


@dataclass
class Harvest:
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
class SourceFile:
    origin: str  # the file's path as rows name it: relative to what was given, never a machine path
    path: Path
    root: Path  # the folder it was found under (a given file's own folder): licence files are looked for up to it


def source_files(paths: tuple[str, ...] = ()) -> list[SourceFile]:
    """The files to harvest, sorted: the warp package's examples and tests when ``paths`` is
    empty, else every ``.py`` file under the given files and folders. Origins are relative paths
    (``warp/examples/core/example_sph.py``), never machine paths."""
    if paths:
        roots = [Path(p) for p in paths]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            raise ValueError(f"paths {missing} do not exist; give .py files or folders that hold them")
        not_python = [str(p) for p in roots if p.is_file() and p.suffix != ".py"]
        if not_python:
            raise ValueError(f"paths {not_python} are not .py files; give .py files or folders that hold them")
    else:
        roots = [warp_package() / folder for folder in WARP_KERNEL_FOLDERS]
    found = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for file in files:
            relative = file.name if root.is_file() else f"{root.name}/{file.relative_to(root).as_posix()}"
            origin = "warp/" + relative if not paths else relative
            found.append(SourceFile(origin, file, root.parent if root.is_file() else root))
    return found


def _overloads_of(statement: ast.stmt, name: str) -> bool:
    """``wp.overload(kernel, ...)`` at top level: the concrete types of a generic kernel."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    call = statement.value
    used = {n.id for n in ast.walk(call.args[0]) if isinstance(n, ast.Name)} if call.args else set()
    return ast.unparse(call.func) in ("wp.overload", "warp.overload") and used == {name}


def _module_options(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and "set_module_options" in ast.unparse(statement.value)


def _kernel_lines(tree: ast.Module, kernel: ast.FunctionDef) -> list[ast.stmt]:
    """The top-level lines that belong with a kernel: its ``wp.overload``s and the module options."""
    return [s for s in tree.body if _overloads_of(s, kernel.name) or _module_options(s)]


def kernel_module(index: bundle.Index, module: bundle.Module, kernel: ast.FunctionDef) -> tuple[str, list[str]]:
    """The row's module for a kernel and the other files it drew on (``bundle.BundleError`` when it
    cannot be made): its file's plain slice when the file is enough, else the bundle of what it
    reaches in other harvested files."""
    kernel_bundle = bundle.Bundle(index, module, kernel)
    source = kernel_bundle.source([kernel, *_kernel_lines(module.tree, kernel)])
    return source, [index.modules[name].origin for name in kernel_bundle.module_order() if name != module.name]


def default_license(paths: tuple[str, ...]) -> str:
    """Warp's licence for Warp's own files; ``unknown`` for files a user gives without one."""
    return "unknown" if paths else warp_license()


HARVEST_MODES = ("static", "import")


def harvest(
    paths: tuple[str, ...],
    license_: str | None = None,
    include_backward: bool = True,
    mode: str = "static",
    import_timeout: float = importer.DEFAULT_TIMEOUT,
    import_setup: str | None = None,
) -> Harvest:
    """Every kernel of the files as a ``KernelSpec``, under ``license_`` when given, else under the
    licences of the files it came from (``licenses.file_license``); files and kernels that give no
    spec are listed with why (``SyntaxError``, ``nested_kernel``, ``needs_package``...).

    ``mode`` "static" reads the files (top-level kernels, imports inside the files bundled);
    "import" imports them in a child process, runs ``import_setup`` if given, and takes every
    kernel Warp then knows (``importer.py``), each step given at most ``import_timeout`` seconds."""
    result = Harvest()
    default = default_license(paths)
    parsed = []
    for source in source_files(paths):
        size = source.path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            limit = f"over the {MAX_SOURCE_BYTES:,}-byte limit for a source file"
            result.skipped.append(Failure("too_large", f"{source.origin}: {size:,} bytes, {limit}"))
            continue
        try:
            text = source.path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as error:
            result.skipped.append(Failure(type(error).__name__, f"{source.origin}: {error}"))
            continue
        name, is_package = module_name(source.path, source.root)
        parsed.append((source, text, bundle.Module(name, is_package, source.origin, tree, text.splitlines(True))))
    file_licenses = {s.origin: licenses.file_license(text, s.path, s.root, default) for s, text, _ in parsed}

    def add(name: str, where: str, python_source: str, other_files: list[str], doc: str, recipe: dict) -> None:
        origin = where.split("::", 1)[0]
        # A row drawing on several files carries each file's licence (an SPDX AND expression).
        row_license = license_ or " AND ".join(sorted({file_licenses[f] for f in [origin, *other_files]}))
        if not include_backward:
            python_source = python_source.replace("import warp as wp\n", "import warp as wp\n\n" + NO_BACKWARD, 1)
        recipe = recipe | ({"files": other_files} if other_files else {})
        text = f"The `{name}` kernel from {origin}"
        result.specs.append(
            KernelSpec(
                name,
                REAL_CATEGORY,
                f"{text}: {doc.strip()}" if doc else text + ".",
                python_source,
                difficulty="",
                recipe=json.dumps(recipe, sort_keys=True),
                origin=where,
                license=row_license,
            )
        )

    if mode == "import":
        files = [(s.origin, s.path, s.root) for s, *_ in parsed]
        imported = importer.import_kernels(files, import_timeout, import_setup)
        result.skipped += imported.skipped
        for k in imported.kernels:
            where = f"{k.origin}::{k.qualname}" + (f"[{k.overload}]" if k.overload else "")
            recipe = {"origin": k.origin, "kernel": k.qualname, "line": k.line, "mode": "import"}
            add(
                k.name,
                where,
                k.python_source,
                k.files,
                k.doc,
                recipe | ({"overload": k.overload} if k.overload else {}),
            )
        logger.info("harvested %d kernels by import; skipped %d", len(result.specs), len(result.skipped))
        return result

    index = bundle.Index([module for *_, module in parsed])
    for source, _, module in parsed:
        origin, tree = source.origin, module.tree
        top_level = [node for node in tree.body if is_kernel(node)]
        nested = [node for node in ast.walk(tree) if is_kernel(node) and node not in top_level]
        for node in nested:
            result.skipped.append(
                Failure("nested_kernel", f"{origin}: {node.name} is defined inside a function or class")
            )
        for kernel in top_level:
            try:
                python_source, other_files = kernel_module(index, module, kernel)
            except bundle.BundleError as error:
                result.skipped.append(Failure(error.kind, f"{origin}::{kernel.name}: {error}"))
                continue
            doc = ast.get_docstring(kernel) or ""
            add(
                kernel.name,
                f"{origin}::{kernel.name}",
                python_source,
                other_files,
                doc,
                {"origin": origin, "kernel": kernel.name},
            )
    logger.info("harvested %d kernels; skipped %d", len(result.specs), len(result.skipped))
    return result
