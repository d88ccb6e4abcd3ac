"""Warp's private API (``warp._src``) behind plain functions: code generation, compiling, types.

Everything else goes through these functions, so a Warp upgrade that moves ``ModuleBuilder``
or ``codegen_kernel`` is fixed here and nowhere else.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import io
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import warp as wp
from warp._src import codegen as _codegen
from warp._src import context as _context
from warp._src import types as _types

from generation.backend import DEFAULT_CUDA_ARCH

logger = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")

# A CPU launch builds its module with block_dim 1 (``#define WP_TILE_BLOCK_DIM 1``); a GPU build
# uses the module's own block_dim (256 unless the source sets it).
CPU_LAUNCH_BLOCK_DIM = 1

# One rule for mathdx in every config, recorded in every row (``metadata.mathdx``): tile GEMM, FFT
# and Cholesky take Warp's generic path, for code generation and for NVRTC's PTX alike. Mathdx
# builds LTO code for each shape (17-20 s) with arch-specific symbols; kernels without those
# operations generate the same source either way.
MATHDX = False

# Global settings that change generated or compiled code. They are pinned while code is generated
# and compiled, so an imported file that flips one (some Warp examples set enable_backward=False)
# cannot leak into later rows. All are Warp's defaults except mathdx (above).
PINNED_CONFIG = {
    "mode": "release",
    "enable_backward": True,
    "default_grid_stride": True,
    "line_directives": True,
    "verify_fp": False,
    "verify_autograd_array_access": False,
    "enable_vector_component_overwrites": False,
    "llvm_cuda": False,
    "lineinfo": False,
    "enable_mathdx_gemm": MATHDX,
    "enable_mathdx_solver": MATHDX,
    "enable_mathdx_fft": MATHDX,
}

_function_key_counts_at_start: dict[str, int] | None = None


def init_warp() -> None:
    """Initialise Warp once, quietly, and remember its fresh helper-name counters."""
    global _function_key_counts_at_start
    if _function_key_counts_at_start is not None:
        return
    wp.config.log_level = wp.LOG_ERROR
    check_kernel_cache()
    with contextlib.redirect_stdout(io.StringIO()), native_stderr() as printed:
        wp.init()
    for line in printed:  # Warp's native library writes to the process's stderr, past Python's
        if line.startswith(NO_DRIVER):  # expected where no GPU is: say it once, in the log
            logger.info("no CUDA driver here: cuda and ptx rows need none (Warp generates CUDA and NVRTC makes PTX)")
        else:
            logger.warning("Warp: %s", line)
    _function_key_counts_at_start = dict(_context.function_key_counts)
    _watch_hash_order()


# What Warp's native library prints when it finds no CUDA driver (``cuda_util.cpp``).
NO_DRIVER = "Warp CUDA warning: Could not find or load the NVIDIA CUDA driver"


@contextlib.contextmanager
def native_stderr() -> Iterator[list[str]]:
    """Lines written to file descriptor 2 inside the block, by native code too, kept rather than shown;
    the list fills when the block ends."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines += [line for line in captured.read().decode(errors="replace").splitlines() if line.strip()]


def check_kernel_cache() -> None:
    """Make Warp's kernel cache folder as ``wp.init()`` does (without starting Warp), or raise an
    ``OSError`` that says what to do: Warp cannot start without it."""
    from warp._src import build

    try:
        build.init_kernel_cache(wp.config.kernel_cache_dir)
    except OSError as error:
        why = f"Warp cannot make its kernel cache ({error.strerror}; set WARP_CACHE_PATH to another folder)"
        raise OSError(error.errno, why, error.filename) from error


def warp_version() -> str:
    return wp.config.version


def reset_function_counters() -> None:
    """Put ``wp.func`` naming back to a fresh process's state (``helper_0`` again, not ``helper_7``).

    Warp names helpers with a process-wide counter; without this, a row's code would depend on
    how many helpers of that name were generated before it.
    """
    init_warp()
    _context.function_key_counts.clear()
    _context.function_key_counts.update(_function_key_counts_at_start)


def drop_module(module_name: str) -> None:
    """Forget a Warp module so that memory stays flat over a long build: out of Warp's registry, and
    out of the dependents of the modules it used (``warp.math``'s, for the builtins Warp writes in
    Python), which would otherwise hold it and its kernels for the life of the process."""
    module = _context.user_modules.pop(module_name, None)
    if module is not None:
        module._detach_references()


@contextlib.contextmanager
def pinned_config(pinned: dict = PINNED_CONFIG) -> Iterator[None]:
    saved = {key: getattr(wp.config, key) for key in pinned if hasattr(wp.config, key)}
    try:
        for key, value in pinned.items():
            if key in saved:
                setattr(wp.config, key, value)
        yield
    finally:
        for key, value in saved.items():
            setattr(wp.config, key, value)


def block_dim_for(kernel: wp.Kernel, device: str) -> int:
    return CPU_LAUNCH_BLOCK_DIM if device == "cpu" else kernel.module.options["block_dim"]


@dataclass(frozen=True)
class KernelCode:
    """What Warp generates for one kernel on one device."""

    source: str  # the whole translation unit, prelude included
    prelude: str  # the part every module of this device starts with
    # Each is self-contained: the structs and helper functions it uses come first, as Warp emitted them.
    forward: str  # argument struct (CPU) and forward kernel function (each overload's, if generic)
    backward: str  # the adjoint kernel function, CPU with its struct ("" without a backward pass)
    # The unit after the prelude without the forward's pieces: what a replaced forward is compiled
    # with (``prelude + forward + "\n\n" + beside_forward``; the forward's pieces come first in it).
    beside_forward: str
    mangled_name: str  # of the first overload, if generic
    block_dim: int
    output_arch: int  # the CUDA architecture the code was generated for (0 for CPU code)
    enable_backward: bool
    grid_stride: bool
    # Functions whose code Warp 1.19 orders by Python's string hashing (``_watch_hash_order``): another
    # process (another ``PYTHONHASHSEED``) generates other code for the same source.
    hash_ordered: tuple[str, ...] = ()


# Where the forward (with its CPU argument struct) and the backward kernel start in the text
# ``codegen_kernel`` emits; the headers are fixed lines of Warp's kernel templates. Group 1 is
# the kernel's mangled name (compiled once: a pattern per name cost as much as the search). Each
# header holds its marker's text, so only the lines holding it are matched, not every line.
_KERNEL_STARTS = {
    "cpu": (
        (re.compile(r"^struct wp_args_(\w+) \{$", re.M), "struct wp_args_{} {{"),
        (
            re.compile(r"^template <bool wp_linear_contiguous>\nstatic void (\w+)_cpu_kernel_backward\(", re.M),
            "static void {}_cpu_kernel_backward(",
        ),
    ),
    "cuda": (
        (
            re.compile(r'^(?:#line .*\n)?extern "C" .*__global__ void .*\b(\w+)_cuda_kernel_forward\(', re.M),
            "{}_cuda_kernel_forward(",
        ),
        (
            re.compile(r'^(?:#line .*\n)?extern "C" .*__global__ void .*\b(\w+)_cuda_kernel_backward\(', re.M),
            "{}_cuda_kernel_backward(",
        ),
    ),
}


def _header_starts(header: tuple[re.Pattern, str], source: str, name: str, begin: int, end: int) -> list[int]:
    """Where ``header`` (a pattern and its marker) matches kernel ``name`` in ``source[begin:end]``,
    in order: each line holding the marker is matched from the line above, else from its own start."""
    pattern, marker = header
    marker, starts, at = marker.format(name), [], begin
    while (at := source.find(marker, at, end)) >= 0:
        line = source.rfind("\n", begin, at) + 1 or begin
        above = (source.rfind("\n", begin, line - 1) + 1 or begin) if line > begin else line
        for start in (above, line):  # the first that matches, as a scan from the top finds it
            match = pattern.match(source, start, end)
            if match and match.group(1) == name:
                starts += [start] if start not in starts else []
                break
        at += len(marker)
    return starts


def _split_kernel(source: str, end: int, name: str, device: str) -> tuple[int, str, str]:
    """Where kernel ``name`` starts, and its forward and backward texts; it ends at ``end``."""
    forward_header, backward_header = _KERNEL_STARTS[device]
    starts = _header_starts(forward_header, source, name, 0, end)
    if not starts:
        raise RuntimeError(f"Warp's {device} code for {name!r} has no forward kernel")
    backward = _header_starts(backward_header, source, name, starts[-1], end)
    split = backward[0] if backward else end
    return starts[-1], source[starts[-1] : split], source[split:end]


@dataclass(frozen=True)
class _Piece:
    """A struct or one pass of a ``wp.func`` helper, as the builder emitted it, and where."""

    start: int
    text: str


def _located(source: str, text: str, what: str) -> _Piece:
    start = source.find(text)
    if not text or start < 0:
        raise RuntimeError(f"the code Warp generated does not hold {what} where expected")
    return _Piece(start, text)


def _reachable(builder, backward: bool) -> set:
    """Every user function the built kernels reach, transitively, through Warp's own call graph
    (``called_user_functions``). ``wp.grad(f)`` records no call edge: a caller that uses it reaches
    the functions Warp forced an adjoint for. A backward pass also reaches custom gradient and
    replay functions."""
    grad_targets = [func for func in builder.functions if func.adj.force_adjoint_codegen]

    def callees(adj) -> list:
        functions = list(adj.called_user_functions) + (grad_targets if adj.uses_grad_call else [])
        if backward:
            functions += [f for func in functions for f in (func.custom_grad_func, func.custom_replay_func) if f]
        return functions

    seen: set = set()
    stack = [func for kernel in builder.kernels for func in callees(kernel.adj)]
    while stack:
        func = stack.pop()
        if func not in seen:
            seen.add(func)
            stack += callees(func.adj)
    return seen


def _structs_used(adjs) -> set:
    """The hashes of the ``wp.struct`` types (nested ones too) in these functions' arguments and variables."""
    used: set = set()
    stack = [var.type for adj in adjs for var in (*adj.args, *adj.variables)]
    while stack:
        var_type = _codegen.strip_reference(stack.pop())
        if _types.is_array(var_type):
            stack.append(var_type.dtype)
        elif isinstance(var_type, _codegen.Struct) and var_type.hash not in used:
            used.add(var_type.hash)
            stack += [var.type for var in var_type.vars.values()]
    return used


def _support_code(source: str, builder, device: str, backward: bool) -> tuple[list[_Piece], list[_Piece]]:
    """The structs and helper functions the built kernels' forward pass needs, and those their
    backward pass needs (none without one), each in the order Warp emitted them and a verbatim slice
    of ``source``: the helpers a pass calls, transitively (their forward functions; a backward
    pass also their adjoints), and the structs those use. Each piece is emitted once for both."""
    found: dict = {}

    def function_pass(func, which: str) -> _Piece | None:
        if (func, which) not in found:
            text = builder._codegen_functions([func], device, **{f"{which}_only": True})
            # a function without an adjoint emits nothing in the reverse pass
            found[func, which] = _located(source, text, f"the {which} pass of {func.key!r}") if text.strip() else None
        return found[func, which]

    @functools.cache
    def tile_helpers() -> set:
        return builder._get_tile_helper_struct_hashes()

    def struct_code(struct) -> _Piece:
        if struct.hash not in found:
            text = _codegen.codegen_struct(struct, include_tile_helpers=struct.hash in tile_helpers())
            found[struct.hash] = _located(source, text, f"struct {struct.key!r}")
        return found[struct.hash]

    def passes(func, backward: bool) -> tuple[str, ...]:
        # As ModuleBuilder.codegen emits them: a function that calls wp.grad has no adjoint.
        reverse = (backward or func.adj.force_adjoint_codegen) and not func.adj.uses_grad_call
        return ("forward", "reverse") if reverse else ("forward",)

    def support(backward: bool) -> list[_Piece]:
        reachable = _reachable(builder, backward)
        functions = [func for func in builder.functions if func in reachable]
        pieces = [function_pass(func, which) for func in functions for which in passes(func, backward)]
        structs = {}
        if builder.structs:  # most kernels use none: then no walk of every variable's type
            used = _structs_used([*(kernel.adj for kernel in builder.kernels), *(func.adj for func in functions)])
            structs = {struct.hash: struct for struct in builder.structs if struct.hash in used}  # one per hash
        pieces = [piece for piece in pieces if piece] + [struct_code(struct) for struct in structs.values()]
        return sorted(pieces, key=lambda piece: piece.start)

    return support(backward=False), support(backward=True) if backward else []


def _joined(pieces: list[_Piece]) -> str:
    return "\n\n".join(piece.text.strip("\n") for piece in pieces)


def _without(source: str, start: int, pieces: list[_Piece]) -> str:
    """``source`` from ``start`` on, with ``pieces`` cut out."""
    kept, position = [], start
    for piece in sorted(pieces, key=lambda piece: piece.start):
        kept.append(source[position : piece.start])
        position = piece.start + len(piece.text)
    return "".join(kept) + source[position:]


def _kernel_functions(source: str, builder, device: str, options: dict) -> list[tuple[_Piece, str]]:
    """``(forward, backward)`` of each kernel the builder emitted (several for an overloaded generic
    kernel), the forward as a piece of ``source``. Each kernel's text is followed by its CPU entry
    points (none for CUDA), and the last one ends the source. A CPU backward gets the argument
    struct it reads, as the forward has."""
    functions = []
    end = len(source)
    for built in reversed(list(builder.kernels)):
        entry_points = _codegen.codegen_module(built, device=device, options=options)
        if not source.endswith(entry_points, 0, end):
            raise RuntimeError(f"unexpected layout of the code Warp generated for {built.key!r}")
        start, forward, backward = _split_kernel(source, end - len(entry_points), built.get_mangled_name(), device)
        backward = backward.strip("\n")
        if device == "cpu" and backward:
            backward = forward[: forward.index("};\n") + len("};\n")].lstrip("\n") + "\n\n" + backward
        functions.append((_Piece(start, forward), backward))
        end = start
    return functions[::-1]


class GenericKernelError(TypeError):
    """A kernel with ``Any`` arguments and no ``wp.overload``: there is no code to generate."""


# Functions whose code depends on the hash seed, found while the current kernel was built.
_hash_ordered: list[str] = []


def _watch_hash_order() -> None:
    """Note where Warp's ``Adjoint._promote_mutated_iter_constants`` will emit its copies in the
    order of a ``set`` of names: a dynamic loop after an unrolled one that reassigns two or more
    of its iterator constants. Warp's own method then runs unchanged; this only observes it."""
    promote = _codegen.Adjoint._promote_mutated_iter_constants

    def observed(adj, body):
        if adj.loop_const_iter_symbols:
            stored = {
                n.id for s in body for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
            constants = [
                name
                for name in stored
                if adj.is_constant_iter_symbol(name)
                and isinstance(adj.symbols.get(name), _codegen.Var)
                and adj.symbols[name].constant is not None
            ]
            if len(constants) > 1:
                _hash_ordered.append(adj.fun_name)
        return promote(adj, body)

    _codegen.Adjoint._promote_mutated_iter_constants = observed


@contextlib.contextmanager
def _bodies_remembered() -> Iterator[None]:
    """Warp's function bodies (``codegen_func_forward``/``_reverse``) each made once while this
    lasts: slicing out a helper's pass asks Warp for its text again, and those bodies are pure
    functions of the built adjoint, which does not change between the two asks."""
    made: dict = {}
    originals = {name: getattr(_codegen, name) for name in ("codegen_func_forward", "codegen_func_reverse")}

    def remembered(name: str, body):
        def made_once(adj, *args, **kwargs):
            key = (name, id(adj), args, tuple(sorted(kwargs.items())))
            if key not in made:
                made[key] = (adj, body(adj, *args, **kwargs))  # the adj kept alive keeps its id unique
            return made[key][1]

        return made_once

    try:
        for name, body in originals.items():
            setattr(_codegen, name, remembered(name, body))
        yield
    finally:
        for name, body in originals.items():
            setattr(_codegen, name, body)


# Builtin overloads Warp resolved, for argument types that outlive any one kernel (Warp's own types):
# (function, its overload count, argument types, keyword argument types, outputs wanted) -> overload.
_resolved_overloads: dict = {}
RESOLVED_OVERLOADS_KEPT = 20_000


def _lasting(arg_type) -> bool:
    """Whether an argument type outlives the kernel it came from: Warp's and Python's own types,
    and annotations and references of them. A kernel's own array or struct type hashes by identity
    and holds its module: remembered past its kernel, it would keep the module alive."""
    if arg_type is Any:
        return True
    if isinstance(arg_type, type):
        return arg_type.__module__.split(".")[0] in ("warp", "builtins")
    if isinstance(arg_type, tuple):
        return all(_lasting(part) for part in arg_type)
    if isinstance(arg_type, _types.Reference):
        return _lasting(arg_type.value_type)
    if isinstance(arg_type, _types._ArrayAnnotationBase):
        return _lasting(arg_type.dtype)
    return False


@contextlib.contextmanager
def _overloads_remembered() -> Iterator[None]:
    """Warp's choice of a builtin's overload (``Adjoint.resolve_func``) made once per argument types
    while this lasts: Warp tries each overload in turn, binding a signature for each (about a third
    of a row's cost), and the choice is a pure function of the key (its builtins branch reads
    nothing else). Choices on Warp's own types are kept for later kernels, the rest only while this
    lasts. A quarter off every build; rows byte-identical, and a fresh process with plain Warp
    generates the same code (tests/test_honesty.py)."""
    original = _codegen.Adjoint.resolve_func
    this_kernel: dict = {}

    def resolved(adj, func, arg_types, kwarg_types, min_outputs):
        if not func.is_builtin():
            return original(adj, func, arg_types, kwarg_types, min_outputs)
        key = (func, len(func.overloads), arg_types, tuple(kwarg_types.items()), min_outputs)
        lasting = _lasting(arg_types) and _lasting(tuple(kwarg_types.values()))
        kept = _resolved_overloads if lasting else this_kernel
        try:
            overload = kept.get(key)
        except TypeError:  # a type that does not hash: resolved as Warp does, every time
            return original(adj, func, arg_types, kwarg_types, min_outputs)
        if overload is None:
            overload = original(adj, func, arg_types, kwarg_types, min_outputs)
            if len(kept) >= RESOLVED_OVERLOADS_KEPT:
                kept.clear()
            kept[key] = overload
        return overload

    _codegen.Adjoint.resolve_func = resolved
    try:
        yield
    finally:
        _codegen.Adjoint.resolve_func = original


def generate_kernel_code(
    kernel: wp.Kernel, device: str, enable_backward: bool = True, arch: int = DEFAULT_CUDA_ARCH
) -> KernelCode:
    """Run Warp's code generator for ``kernel`` alone, as a build for ``device`` would.

    The module's options are resolved exactly as ``Module.load`` resolves them, but the hasher
    and builder see only this kernel, so the code holds this kernel and what it calls, nothing
    else that shares its Python module. ``enable_backward=False`` builds as a module with
    ``wp.set_module_options({"enable_backward": False})`` would; True keeps the module's choice.
    CUDA code is generated for ``arch``, as a GPU build targets its device (CPU code for none).
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    init_warp()
    module = kernel.module
    block_dim = block_dim_for(kernel, device)
    with pinned_config(), _context._codegen_lock, _bodies_remembered(), _overloads_remembered():
        output_arch = None if device == "cpu" else arch
        options = module.resolve_options(wp.config, block_dim=block_dim) | {"output_arch": output_arch}
        if not enable_backward:
            options["enable_backward"] = False
        if module.has_unresolved_static_expressions:
            _context.ModuleBuilder(module, options)
            module.has_unresolved_static_expressions = False
        hasher = _context.ModuleHasher([kernel], options)
        _hash_ordered.clear()
        builder = _context.ModuleBuilder(module, options, hasher=hasher, target=device)
        source = builder.codegen(device)
        if not builder.kernels:
            raise GenericKernelError(f"{kernel.key!r} is generic and has no overloads: Warp needs concrete types")
        hash_ordered = tuple(sorted(set(_hash_ordered)))
        built = next(iter(builder.kernels))
        kernel_options = options | built.options
        functions = _kernel_functions(source, builder, device, options)
        backward = "\n\n".join(backward for _, backward in functions if backward)
        forward_support, backward_support = _support_code(source, builder, device, bool(backward))
        forward_pieces = forward_support + [forward for forward, _ in functions]
        forward = _joined(forward_pieces)
        backward = backward and "\n\n".join(filter(None, [_joined(backward_support), backward]))
        prelude = module_prelude(source, device, options)
    return KernelCode(  # named apart from this machine only now: the slicing above finds helpers by file
        source=without_install_folder(source),
        prelude=prelude,
        forward=without_install_folder(forward),
        backward=without_install_folder(backward),
        beside_forward=without_install_folder(_without(source, len(prelude), forward_pieces)),
        mangled_name=built.get_mangled_name(),
        block_dim=block_dim,
        output_arch=output_arch or 0,
        enable_backward=bool(kernel_options["enable_backward"]),
        grid_stride=bool(built.grid_stride) if device == "cuda" else False,
        hash_ordered=hash_ordered,
    )


# The folder Warp is installed in (``.../site-packages/``): Warp writes a ``// <file>:<line>`` comment
# above each function it implements in Python, naming the file where it lies on this machine.
INSTALL_FOLDER = os.path.dirname(os.path.dirname(wp.__file__)) + os.sep


def without_install_folder(source: str) -> str:
    """Generated code with Warp's own files named from its package (``// warp/_src/fem/types.py:20``)
    rather than from where this machine installed it: the same rows on every machine, and no
    machine's folders in them."""
    return source.replace("// " + INSTALL_FOLDER, "// ")


def module_prelude(source: str, device: str, options: dict) -> str:
    """The header Warp puts in front of every module for ``device`` (see ``ModuleBuilder.codegen``)."""
    if device == "cpu":
        header = _codegen.cpu_module_header.format(block_dim=options["block_dim"])
        extra = options.get("extra_cpu_preamble", "")
    else:
        header = _codegen.cuda_module_header.format(block_dim=options["block_dim"])
        extra = options.get("extra_cuda_preamble", "")
    body_start = header + extra + _codegen.codegen_cast_macros
    index = source.find(body_start)
    if index < 0:
        raise RuntimeError("Warp's module header was not found in the generated source")
    return source[: index + len(body_start)]


def builtin_names() -> set[str]:
    """The names of Warp's builtin functions (``wp.sin``, ``wp.tile_load``, ``wp.float32``, ...)."""
    return set(_context.builtin_functions)


def supported_ptx_archs() -> list[int]:
    """The CUDA architectures this Warp's NVRTC can target (e.g. 75..121)."""
    init_warp()
    return sorted(_context.runtime.nvrtc_supported_archs)


class CompileError(RuntimeError):
    """Warp's compiler step (Clang or NVRTC) failed on code that generated fine."""


def compile_module(
    module, target: str, out_dir: str, arch: int = DEFAULT_CUDA_ARCH, pinned: dict = PINNED_CONFIG
) -> str:
    """Compile a Python module's Warp kernels as Warp's ahead-of-time build does; return the artifact text.

    ``target`` "cpu" compiles with Warp's bundled Clang (the object file's path is returned, as
    text is not meaningful); "ptx" compiles with NVRTC and returns the PTX. No GPU is needed.
    Everything lands inside ``out_dir``: Warp builds in a folder beside the one it is given and
    keeps that folder when the compiler fails, so it is given one a level down.
    """
    init_warp()
    module_dir = os.path.join(out_dir, "module")
    try:
        with pinned_config(pinned):
            if target == "cpu":
                (path,) = wp.compile_aot_module(module, device="cpu", module_dir=module_dir)
                return os.fspath(path)
            (path,) = wp.compile_aot_module(module, arch=arch, use_ptx=True, module_dir=module_dir)
    except Exception as error:
        raise CompileError(f"{target} compile failed: {type(error).__name__}: {error}") from error
    with open(path, encoding="utf-8") as file:
        return file.read()


FLOAT_TYPES = tuple(_types.float_types)
INT_TYPES = tuple(_types.int_types)


def numpy_dtype(scalar_type) -> type:
    """The NumPy dtype that holds a Warp scalar type."""
    return _types.warp_type_to_np_dtype[scalar_type]


def is_array_type(type_) -> bool:
    return _types.is_array(type_)


def is_scalar_type(type_) -> bool:
    """``wp.float32``, ``wp.int8``...: Warp's own scalar types (not Python's ``float``)."""
    return type_ in _types.scalar_types


def is_struct_type(type_) -> bool:
    return _types.type_is_struct(type_)


def texture_dims(type_) -> int:
    """How many coordinates a texture type is sampled at (``wp.Texture2D``: 2); 0 for any other type."""
    import warp as wp

    return {wp.Texture1D: 1, wp.Texture2D: 2, wp.Texture3D: 3}.get(type_, 0)


def is_vector_type(type_) -> bool:
    """Vectors, matrices, quaternions and transforms: fixed-size composites of one scalar type."""
    return _types.type_is_composite(type_)


def type_name(type_) -> str:
    """A Warp type spelled the way Warp prints it (``array(ndim=1, dtype=vec3f)``)."""
    return _types.type_repr(type_)


def scalar_type(dtype):
    """The scalar type of a Warp value type (``float32`` for ``vec3``; a scalar is its own)."""
    return getattr(dtype, "_wp_scalar_type_", dtype)


def value_shape(dtype) -> tuple[int, ...]:
    """The shape of one value of a Warp type: ``(3,)`` for ``vec3``, ``(3, 3)`` for ``mat33``, ``()`` for a scalar."""
    return tuple(getattr(dtype, "_shape_", ()))


def component_count(dtype) -> int:
    """How many scalars a vector, matrix, quaternion or transform holds."""
    return dtype._length_


def bare_codegen(kernel: wp.Kernel, device: str, arch: int = DEFAULT_CUDA_ARCH) -> str:
    """Warp's own module build for ``kernel``'s module, as a launch does it, and nothing else: hash
    the module, then generate its source for ``arch`` (as ``Module`` sets ``output_arch``), under
    the settings rows are made with. A benchmark's floor for what code generation costs."""
    module = kernel.module
    block_dim = block_dim_for(kernel, device)
    with pinned_config():
        module.get_module_hash(block_dim)
        options = module.resolved_options[block_dim] | {"output_arch": None if device == "cpu" else arch}
        return _context.ModuleBuilder(module, options, target=device).codegen(device)


def _module_holding(kernels: list[wp.Kernel], prefix: str) -> _context.Module:
    """One Warp module holding ``kernels`` from any Python modules, named after them, with the
    first one's module options. Its helpers must have distinct names (see compile_kernels_together)."""
    names = "|".join(f"{kernel.module.name}.{kernel.key}" for kernel in kernels)
    batch = _context.Module(prefix + hashlib.sha256(names.encode()).hexdigest()[:16], None)
    batch.options.update(kernels[0].module.options)
    for kernel in kernels:  # the hasher and builder read live kernels, the AOT checks read .kernels
        batch._live_kernels.add(kernel)
        batch.kernels[f"{kernel.module.name}.{kernel.key}"] = kernel
    return batch


def compile_kernels_together(
    kernels: list[wp.Kernel],
    target: str,
    out_dir: str,
    arch: int = DEFAULT_CUDA_ARCH,
    optimization_level: int | None = None,
    read: str = "",
) -> None:
    """Compile several kernels, from any modules, as one Warp module: one compiler run for all.

    Used to check that code compiles, where one run per kernel would spend most of its time
    starting the compiler. The kernels' helpers must have distinct names (import them without
    ``reset_function_counters``). ``optimization_level`` is the module option Warp offers for it
    (None: the module's own, by default Warp's). ``read``: a precompiled header a CPU build reads
    directly, where the module's options are those it was made with (``HEADER_SHAPING_OPTIONS``).
    Raises ``CompileError`` if the batch does not compile.
    """
    init_warp()
    batch = _module_holding(kernels, "wirp_batch_")
    if optimization_level is not None:
        batch.options["optimization_level"] = optimization_level
    pinned = PINNED_CONFIG
    if read and target == "cpu" and _made_alike(batch):
        default = _context._resolve_cpu_compiler_flags(None, wp.config.cpu_compiler_flags)
        batch.options["cpu_compiler_flags"] = f"{default} {HEADER_FLAGS} {read}"
        pinned = PINNED_CONFIG | {"use_precompiled_headers": False}
    compile_module(batch, target, out_dir, arch, pinned)


# Module options that shape a precompiled header (a tile's block size is instantiated in it, fast
# math and extra flags define macros): a module whose options differ from a fresh module's builds in
# Warp's way, never reading a shared header made with the defaults.
HEADER_SHAPING_OPTIONS = ("block_dim", "fast_math", "cpu_compiler_flags")


@functools.cache
def _fresh_options() -> dict:
    return dict(_context.Module("wirp_defaults", None).options)


def _made_alike(module) -> bool:
    return all(module.options.get(name) == _fresh_options()[name] for name in HEADER_SHAPING_OPTIONS)


def load_on_cpu_together(kernels: list[wp.Kernel], mode: str) -> bool:
    """Build and load ``kernels`` as one CPU module (one Clang run), as ``load_on_cpu`` builds one,
    which their launches then use.

    Returns False, leaving the kernels as they were, if the batch does not build; each kernel
    then builds alone, where its own error shows.
    """
    init_warp()
    batch = _module_holding(kernels, "wirp_launch_")
    try:
        _load_module_on_cpu(batch, mode)
    except CompileError:
        logger.debug("batch of %d kernels did not build; building them one by one", len(kernels), exc_info=True)
        return False
    for kernel in kernels:
        kernel.module = batch
    return True


@contextlib.contextmanager
def substituted_unit(module, body: str, generated: dict | None = None) -> Iterator[None]:
    """While active, every build of ``module`` compiles Warp's prelude followed by ``body`` instead
    of the code Warp generates: how a candidate translation replaces Warp's own. Warp still
    generates (its metadata, such as shared memory sizes, comes with the build), then the source is
    swapped before the compiler sees it; or, given what an earlier build of the same module with the
    same options generated (``generated_unit``), Warp does not generate again. Builds go to Warp's
    kernel cache, so a later load in another process with the same cache folder loads the
    candidate's binary without generating."""
    generate = module._run_codegen

    def swapped(options: dict, is_cpu: bool):
        if generated is not None:
            return generated["prelude"] + body, "cpp" if is_cpu else "cu", generated["meta"], [], []
        source, ext, meta, ltoirs, fatbins = generate(options, is_cpu)
        prelude = module_prelude(source, "cpu" if is_cpu else "cuda", options)
        return prelude + body, ext, meta, ltoirs, fatbins

    module._run_codegen = swapped  # an instance attribute shadows the method for this module only
    try:
        yield
    finally:
        del module._run_codegen


@contextlib.contextmanager
def generated_unit(module) -> Iterator[dict]:
    """While active, record what a build of ``module`` generates besides its code: Warp's prelude
    and the build's metadata (``substituted_unit`` takes them), where it links nothing else in."""
    generate = module._run_codegen
    recorded: dict = {}

    def recording(options: dict, is_cpu: bool):
        source, ext, meta, ltoirs, fatbins = generate(options, is_cpu)
        if not ltoirs and not fatbins:
            recorded.update(prelude=module_prelude(source, "cpu" if is_cpu else "cuda", options), meta=meta)
        return source, ext, meta, ltoirs, fatbins

    module._run_codegen = recording
    try:
        yield recorded
    finally:
        del module._run_codegen


# Clang flags that make a failed build cheap: stop at the first error, name only the best overload
# candidates (Warp's builtins have hundreds each), no source excerpts. They change no object code.
FIRST_ERROR_FLAGS = "-Wfatal-errors -fshow-overloads=best -fno-caret-diagnostics"


# Clang flags that read a precompiled header as it is, and keep quiet about the macros it defines
# again (as Warp's own use of the header does). They change no object code.
HEADER_FLAGS = "-Wno-macro-redefined -include-pch"
HEADER_LINK = "wirp_header.pch"  # in the working folder of a build that reads it
_read_header: list[str] = []  # the header this process's CPU builds read directly, once one is set


def read_precompiled_header(path: str) -> None:
    """Let this process's CPU builds (and its forks') read the precompiled header at ``path`` directly.
    Warp's own use of its header retries a build that fails without it (about 1 s, as long as a build
    without any header) and deletes it; read directly, a failed build fails at once and the header
    stays. Each build links it into its working folder first (``HEADER_LINK``): the module hash
    depends on the flags, and a path that differed from run to run would rename the files a
    compiler's errors name. ``""`` goes back to Warp's own use."""
    _read_header[:] = [path] if path else []


def reads_precompiled_header() -> bool:
    return bool(_read_header)


def load_on_cpu(kernel: wp.Kernel, mode: str) -> None:
    """Build (or load from the kernel cache) ``kernel``'s module for CPU launches in ``mode``,
    reporting a failed build by its first error alone, and sooner (the evaluation harness compiles
    many candidates that fail). Raises ``CompileError`` when the build fails."""
    init_warp()
    _load_module_on_cpu(kernel.module, mode)


def _load_module_on_cpu(module, mode: str) -> None:
    module.options["mode"] = mode
    default = _context._resolve_cpu_compiler_flags(None, wp.config.cpu_compiler_flags)
    flags = f"{default} {FIRST_ERROR_FLAGS}"
    pinned = PINNED_CONFIG | {"mode": mode}
    if _read_header:  # read through a link of a fixed name: the flags, and with them Warp's module hash, stay the same
        if not os.path.lexists(HEADER_LINK):
            os.symlink(_read_header[0], HEADER_LINK)
        flags += f" {HEADER_FLAGS} {HEADER_LINK}"
        pinned |= {"use_precompiled_headers": False}
    module.options["cpu_compiler_flags"] = flags
    try:
        with pinned_config(pinned):
            module.load("cpu", CPU_LAUNCH_BLOCK_DIM)
    except Exception as error:
        raise CompileError(f"cpu compile failed: {type(error).__name__}: {error}") from error


def load_on_device(kernel: wp.Kernel, device: str) -> None:
    """Build (or load) ``kernel``'s module for launches on a CUDA ``device``, as a launch would.
    Raises ``CompileError`` when the build fails."""
    init_warp()
    try:
        with pinned_config():
            kernel.module.load(wp.get_device(device))
    except Exception as error:
        raise CompileError(f"{device} compile failed: {type(error).__name__}: {error}") from error


@contextlib.contextmanager
def machine_code_on_device(kernel: wp.Kernel, device: str, cubin: bytes, arch: int, folder: str) -> Iterator[int]:
    """While active, ``kernel``'s module on the CUDA ``device`` is ``cubin`` (machine code for the
    device's own architecture) in place of what Warp would build; yields the block_dim to launch
    with (the module's own, which the code was compiled for). Warp's metadata for the module comes
    from Warp's code generator for ``arch`` (``cuda_meta``). Warp may not rebuild the
    module meanwhile: a launch that would (another block_dim, say) raises rather than silently
    running Warp's own code. Raises ``CompileError`` when the driver does not load the code."""
    module = kernel.module
    block_dim = module.options["block_dim"]
    meta = cuda_meta(module, arch, folder)
    target = wp.get_device(device)
    binary = os.path.join(folder, f"{module.get_module_identifier(block_dim)}.sm{target.arch}.cubin")
    with open(binary, "wb") as file:
        file.write(cubin)

    def refused(*args, **kwargs):
        raise CompileError("Warp would build this module from its own code, not from the candidate's")

    module._compile = refused  # an instance attribute shadows the method for this module only
    try:
        try:
            module.load(target, block_dim, binary_path=binary, output_arch=target.arch, meta_path=meta)
        except Exception as error:
            raise CompileError(f"{device} did not load the code: {type(error).__name__}: {error}") from error
        yield block_dim
    finally:
        del module._compile


def cuda_meta(module, arch: int, folder: str) -> str:
    """Write the metadata file Warp's CUDA build of ``module`` for ``arch`` writes beside its binary
    (shared memory sizes and the like), from Warp's code generator alone, with no compiler run;
    return its path."""
    init_warp()
    with pinned_config():
        options = module.resolve_options(wp.config) | {"output_arch": arch}
        module.get_module_hash(options["block_dim"])  # the hasher a build's code generator reads
        meta = module._run_codegen(options, False)[2]
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, module._get_meta_name(block_dim=options["block_dim"]))
    module._write_meta(path, meta)
    return path


def cuda_arch(device: str) -> int:
    """The architecture of a CUDA device (90 for an H100)."""
    init_warp()
    return wp.get_device(device).arch


def cuda_device_count() -> int:
    init_warp()
    return wp.get_cuda_device_count()


def precompiled_header_folder() -> str:
    """Where this process's Clang builds keep their precompiled header (made by the first build)."""
    init_warp()
    return _context.runtime.get_clang_pch_dir()


def precompiled_header_file() -> str:
    """The precompiled header this process's first Clang build made."""
    return next(str(path) for path in Path(precompiled_header_folder()).glob("*.pch"))


def private_precompiled_headers(folder: str) -> None:
    """Give this process's Clang builds a copy of the precompiled header it was using (about 5 MB),
    in ``folder``: a failed build deletes the header it used, which would make the next build of
    every process sharing it make it again (about 1.5 s)."""
    import shutil
    import threading
    import types

    shared = precompiled_header_folder()
    private = os.path.join(folder, "pch")
    shutil.copytree(shared, private, dirs_exist_ok=True)
    with _context.runtime._pch_dirs_lock:
        replaced = _context.runtime._pch_dirs[threading.get_ident()]
        replaced._finalizer.detach()  # the shared folder is the parent's to remove, not this process's
        _KEPT.append(replaced)
        _context.runtime._pch_dirs[threading.get_ident()] = types.SimpleNamespace(name=private)


_KEPT: list = []
