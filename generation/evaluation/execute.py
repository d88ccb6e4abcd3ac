"""What a sandboxed child does with one candidate: compile it, or run it on the seeded input sets.

Both phases take a ``Work`` (the row's facts and the candidate's code) and run in a child of their
own (``sandbox.py``): the compile phase builds the candidate into the child's kernel cache, the
run phase loads it from there and launches it. The reference is a candidate too: the row's own
code, or for ``forward_to_python`` the row's own Python.

The inputs always come from the row's own kernel (its argument types, launch dimensions, handle
and offset arguments), seeded by the row's id and the input set's number, so the reference and
every candidate of a row see the same inputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from generation.backend import launches, ptx, ptxas, warp_api
from generation.backend.source_module import kernel_named, loaded_source, module_name_for
from generation.backend.targets import make_code
from generation.evaluation.measured import PYTHON_TASK
from generation.source.features import launch_of

CPU_MODE = "debug"  # Warp's debug build checks every array access (asserts stay in)
EVALUATION_SEED = 21  # the root of every input set's seed; a row's id and the set's number follow
PTX_FILE = "candidate.ptx"  # a PTX candidate's whole module, assembled by the compile phase, loaded by the run phase


@dataclass(frozen=True)
class Work:
    """One candidate of one row, as a child needs it."""

    row_id: str
    kernel_name: str
    python_source: str  # the row's own source: its kernel decides the inputs
    device: str  # the row's config device: cpu, cuda or ptx
    arch: int
    task: str
    code: str  # the candidate: C++/CUDA (forward or whole unit) or a Python module
    backward: bool  # the row was built with a backward pass: adjoints are compared too
    input_sets: int
    target_forward: str = ""  # the row's ``forward``: for ``round_trip``, and what a PTX forward replaces
    row_code: str = ""  # the row's whole ``code``: a PTX forward is put in its forward's place there
    is_reference: bool = False  # the row's own code or source: nothing is substituted
    launch: str = "cpu"  # where the run phase launches: "cpu", or "cuda:0" for CUDA and PTX code on a GPU


def input_seed(row_id: str, input_set: int) -> list[int]:
    return [EVALUATION_SEED, zlib.crc32(row_id.encode()), input_set]


def _unit_body(work: Work, kernel) -> str:
    """What follows Warp's prelude in the unit the candidate is compiled as."""
    if work.is_reference or work.task == "python_to_code":
        return work.code
    generated = warp_api.generate_kernel_code(kernel, _codegen_device(work.device), arch=work.arch)
    return work.code + "\n\n" + generated.beside_forward


def _codegen_device(device: str) -> str:
    return "cpu" if device == "cpu" else "cuda"


@contextlib.contextmanager
def _candidate_kernel(work: Work) -> Iterator[tuple[object, object]]:
    """The row's kernel (what inputs are made from) and the kernel to launch on the CPU: the row's
    own with the candidate's unit compiled in its place, the candidate's for ``forward_to_python``,
    or the row's own as Warp builds it for the reference of ``forward_to_python``."""
    with loaded_source(work.python_source) as module:
        row_kernel = kernel_named(module, work.kernel_name)
        if _is_ptx(work):  # the module is loaded from the candidate's PTX file: nothing to swap
            yield row_kernel, row_kernel
        elif work.task != PYTHON_TASK:
            with warp_api.substituted_unit(row_kernel.module, _unit_body(work, row_kernel)):
                yield row_kernel, row_kernel
        elif work.is_reference:
            yield row_kernel, row_kernel
        else:  # named apart from the row's module, even when its text is the row's own
            name = module_name_for(work.code) + "_candidate"
            with loaded_source(work.code, name, fresh_counters=False) as candidate:
                yield row_kernel, _kernel_called(candidate, work.kernel_name)


def _is_ptx(work: Work) -> bool:
    return work.device == "ptx" and work.task != PYTHON_TASK


def _ptx_unit(work: Work) -> str:
    """The whole PTX module a ``ptx`` candidate stands for: the candidate itself (the reference,
    or ``python_to_code``), or the row's PTX with its forward entry replaced by the candidate."""
    if work.is_reference or work.task == "python_to_code":
        return work.code
    if work.target_forward not in work.row_code:
        raise ValueError("the row's forward entry is not in its PTX")
    return work.row_code.replace(work.target_forward, work.code, 1)


def _assembled_ptx(work: Work) -> str:
    """The candidate's PTX module, once ptxas (nvJitLink) assembles it for the row's architecture
    and it defines every entry point the row's does (Warp launches them by name)."""
    unit = _ptx_unit(work)
    ptxas.assemble(unit, work.arch)
    defined = set(ptx.entry_names(unit))
    missing = [name for name in ptx.entry_names(work.row_code or work.code) if name not in defined]
    if missing:
        raise LookupError(f"the PTX defines no entry {missing[0]} (Warp launches it by that name)")
    return unit


@contextlib.contextmanager
def _loaded(work: Work, kernel) -> Iterator[int | None]:
    """The built candidate loaded where the run phase launches it; yields the block_dim to launch
    with (None: Warp's own choice)."""
    if work.launch == "cpu":
        warp_api.load_on_cpu(kernel, CPU_MODE)  # from the compile phase's cache
        yield None
    elif _is_ptx(work):  # the compile phase's PTX, assembled for this GPU (as its driver would)
        with open(PTX_FILE, encoding="utf-8") as file:
            cubin = ptxas.assemble(file.read(), warp_api.cuda_arch(work.launch))
        folder = os.path.abspath("module")
        with warp_api.machine_code_on_device(kernel, work.launch, cubin, work.arch, folder) as block_dim:
            yield block_dim
    else:  # built here, for the GPU's own architecture, in Warp's release mode
        warp_api.load_on_device(kernel, work.launch)
        yield None


def _own_kernel_cache() -> None:
    """Builds go to the child's folder: the run phase loads what the compile phase built there. The
    precompiled header is the child's own copy, so a failed build cannot spoil the worker's."""
    import warp as wp

    wp.config.kernel_cache_dir = os.path.abspath("kernels")
    warp_api.private_precompiled_headers(os.path.abspath("."))


def _kernel_called(module, name: str):
    try:
        return kernel_named(module, name)
    except StopIteration:
        raise LookupError(f"the prediction defines no @wp.kernel named {name!r}") from None


def compile_phase(work: Work) -> dict:
    """Build the candidate. C++ and CUDA: compiled in the row's unit (Clang for ``cpu`` in debug
    mode, NVRTC for ``cuda``). PTX: assembled in the row's module by nvJitLink, and saved for the
    run phase.
    Python: imported, and Warp generates code for the row's device (``round_trip`` compares it with
    the row's forward); its CPU build for the run phase follows. Raises on failure."""
    _own_kernel_cache()
    result: dict = {}
    if work.task == PYTHON_TASK and not work.is_reference:
        made = make_code(work.code, work.kernel_name, work.device, work.arch)
        result["round_trip"] = same_up_to_names(made.forward, work.target_forward)
    elif work.task != PYTHON_TASK and work.device != "cpu":
        if work.device == "cuda":
            with loaded_source(work.python_source) as module:
                row_kernel = kernel_named(module, work.kernel_name)
                with warp_api.substituted_unit(row_kernel.module, _unit_body(work, row_kernel)):
                    warp_api.compile_module(row_kernel.module, "ptx", os.path.abspath("ptx"), work.arch)
        else:
            with open(PTX_FILE, "w", encoding="utf-8") as file:
                file.write(_assembled_ptx(work))
        return result  # CUDA and PTX code runs on its own device only: no CPU build
    with _candidate_kernel(work) as (_, kernel):  # the CPU build the run phase loads
        warp_api.load_on_cpu(kernel, CPU_MODE)
    return result


def same_up_to_names(candidate: str, target: str) -> bool:
    """Whether two forwards are equal once content hashes and module names are set aside (and
    whitespace runs are one space): ``round_trip``."""
    from generation.evaluation.text import normalized

    def plain(text: str) -> str:
        text = re.sub(r"_[0-9a-f]{8}\b|_[0-9a-f]{8}(?=_)", "_HASH", text)
        return normalized(re.sub(r"\bwirp_[0-9a-f]{16}\b", "MODULE", text))

    return plain(candidate) == plain(target)


PASSES = ("forward", "backward")  # each saved to PASS.npz as soon as its launches are done


def run_phase(work: Work) -> dict:
    """Launch the built candidate on each input set and save every array argument before and after
    to ``forward.npz``; then, when the row has a backward pass, launch it on fresh inputs with
    seeded incoming gradients and save the adjoints to ``backward.npz``. The forward's file is
    written first, so a backward pass that dies still leaves it."""
    _own_kernel_cache()
    device = work.launch
    with _candidate_kernel(work) as (row_kernel, kernel), _loaded(work, kernel) as block_dim:
        row_args = launches.typed_kernel(row_kernel).adj.args
        typed = launches.typed_kernel(kernel)
        _same_signature(row_args, typed.adj.args)
        launch = _renamed_launch(launch_of(work.python_source, work.kernel_name), row_args, typed.adj.args)
        for pass_name in PASSES if work.backward else PASSES[:1]:
            arrays: dict[str, np.ndarray] = {}
            for input_set in range(work.input_sets):
                rng = np.random.default_rng(input_seed(work.row_id, input_set))
                objects: list = []
                args = launches.seeded_arguments(typed, launch, rng, device, objects)
                if pass_name == "forward":
                    _save(arrays, f"{input_set}/pre", row_args, args)
                    launches.launched(kernel, launch, args, device, block_dim=block_dim)
                    _save(arrays, f"{input_set}/post", row_args, args)
                else:
                    adjoint_rng = np.random.default_rng([*input_seed(work.row_id, input_set), 1])
                    adj_args = [
                        _seeded_adjoint(arg.type, value, adjoint_rng) for arg, value in zip(row_args, args, strict=True)
                    ]
                    _save(arrays, f"{input_set}/adj_pre", row_args, adj_args)
                    launches.launched(kernel, launch, args, device, adj_args, block_dim)
                    _save(arrays, f"{input_set}/adj_post", row_args, adj_args)
            np.savez(f"{pass_name}.npz", **arrays)
    return {}


def _renamed_launch(launch, row_args, candidate_args):
    """The row's launch facts with its argument names replaced by the candidate's, by position:
    a Python candidate may name its arguments differently."""
    names = {row.label: candidate.label for row, candidate in zip(row_args, candidate_args, strict=True)}
    return dataclasses.replace(
        launch,
        handles={names[label]: kind for label, kind in launch.handles.items()},
        offsets={names[label] for label in launch.offsets},
    )


def _type_name(arg_type) -> str:
    """A type as Warp spells it, without the module a struct lives in (a candidate's own module)."""
    return re.sub(r"\b\w+\.(?=[A-Za-z_])", "", warp_api.type_name(arg_type))


def _same_signature(row_args, candidate_args) -> None:
    """Inputs are made for the candidate's types with the row's seeds: the types must be the same."""
    row_types = [_type_name(arg.type) for arg in row_args]
    candidate_types = [_type_name(arg.type) for arg in candidate_args]
    if row_types != candidate_types:
        raise TypeError(f"the kernel takes ({', '.join(candidate_types)}), the row's takes ({', '.join(row_types)})")


def _seeded_adjoint(arg_type, value, rng):
    """The incoming gradient of an argument: seeded values for a float array, a struct of them for
    a struct (its other arrays zero), None for anything else."""
    import warp as wp

    if isinstance(value, wp.array):
        scalar = warp_api.scalar_type(value.dtype)
        if scalar not in warp_api.FLOAT_TYPES:
            return None
        shape = value.shape + warp_api.value_shape(value.dtype)
        values = rng.uniform(-1.0, 1.0, size=shape).astype(warp_api.numpy_dtype(scalar))
        return wp.array(values, dtype=value.dtype, device=value.device)
    if warp_api.is_struct_type(arg_type) and value is not None:
        adjoint = arg_type()
        for member in arg_type.vars.values():
            inner = getattr(value, member.label)
            if isinstance(inner, wp.array):
                seeded = _seeded_adjoint(member.type, inner, rng)
                setattr(adjoint, member.label, seeded if seeded is not None else wp.zeros_like(inner))
        return adjoint
    return None


def _save(arrays: dict, prefix: str, variables: list, values: list) -> None:
    """Every array among ``values`` (struct members too), as NumPy, under ``prefix/name``."""
    import warp as wp

    for variable, value in zip(variables, values, strict=True):
        key = f"{prefix}/{variable.label}"
        if isinstance(value, wp.array):
            arrays[key] = value.numpy().copy()
        elif value is not None and warp_api.is_struct_type(variable.type):
            members = list(variable.type.vars.values())
            _save(arrays, key, members, [getattr(value, member.label) for member in members])


def main() -> None:
    """A run phase in a fresh process (CUDA does not survive ``fork``): the work as JSON on stdin,
    the result written where ``sandbox.in_process`` reads it."""
    import json
    import sys

    from generation.evaluation.sandbox import report_to_parent

    work = Work(**json.load(sys.stdin))
    report_to_parent(lambda: run_phase(work))


if __name__ == "__main__":
    main()
