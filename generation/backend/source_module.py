"""Turn a string of Python source into an imported module Warp can read, and forget it after.

Warp reads kernel source through ``inspect``, so a bare ``exec`` of a string is refused. The
source is registered in ``linecache`` under a file name derived from its content, which keeps
``// <L n>`` line references pointing into the row's own source and keeps temporary or
site-packages paths out of the generated code.
"""

from __future__ import annotations

import contextlib
import hashlib
import linecache
import sys
import types
from collections.abc import Iterator

from generation.backend import warp_api

MODULE_PREFIX = "wirp_"


def module_name_for(python_source: str) -> str:
    """A Python module name that depends on the source alone (stable across processes)."""
    return MODULE_PREFIX + hashlib.sha256(python_source.encode("utf-8")).hexdigest()[:16]


def source_file_for(module_name: str) -> str:
    return f"{module_name}.py"


@contextlib.contextmanager
def loaded_source(
    python_source: str, module_name: str | None = None, fresh_counters: bool = True
) -> Iterator[types.ModuleType]:
    """Import ``python_source`` as a fresh module, as if it were the first thing a process ran.

    Warp's ``wp.func`` name counters are reset first (unless ``fresh_counters`` is False, for
    modules that must coexist), so helper names match a fresh process. On exit the module is
    removed from ``sys.modules``, ``linecache`` and Warp's registry, with its kernels' Warp modules.
    """
    warp_api.init_warp()
    name = module_name or module_name_for(python_source)
    file_name = source_file_for(name)
    module = types.ModuleType(name)
    module.__file__ = file_name
    linecache.cache[file_name] = (len(python_source), None, python_source.splitlines(True), file_name)
    sys.modules[name] = module
    if fresh_counters:
        warp_api.reset_function_counters()
    try:
        exec(compile(python_source, file_name, "exec"), module.__dict__)
        yield module
    finally:
        sys.modules.pop(name, None)
        linecache.cache.pop(file_name, None)
        # The Warp modules of its kernels too, where they name one (``@wp.kernel(module="x")``):
        # the next source that names the same module then starts from an empty one.
        for kernel_module in {kernel.module.name for kernel in kernels_in(module)} | {name}:
            warp_api.drop_module(kernel_module)


def kernels_in(module: types.ModuleType) -> list:
    """The ``@wp.kernel`` objects a module defines, in source order."""
    import warp as wp

    return [value for value in vars(module).values() if isinstance(value, wp.Kernel) and value.key]


def kernel_named(module: types.ModuleType, name: str):
    """The ``@wp.kernel`` called ``name`` that ``module`` defines."""
    return next(kernel for kernel in kernels_in(module) if kernel.key == name)


@contextlib.contextmanager
def kernels_side_by_side(kernels: list[tuple[str, str]]) -> Iterator[list]:
    """Import each ``(python_source, kernel_name)`` as its own module, all at once, and yield the
    kernels. Helper-name counters are not reset, so helpers keep distinct names in a shared build."""
    with contextlib.ExitStack() as stack:
        modules = [stack.enter_context(loaded_source(source, fresh_counters=False)) for source, _ in kernels]
        yield [kernel_named(module, name) for module, (_, name) in zip(modules, kernels, strict=True)]
