"""What a sandboxed child does with one candidate: compile it, or run it on the seeded input sets.

Both phases take a ``Work`` (the row's facts and the candidate's code) and run in a child of their
own (``sandbox/children.py``): the compile phase builds the candidate into the child's kernel cache, the
run phase loads it from there and launches it. The reference is a candidate too: the row's own
code, or for ``forward_to_python`` the row's own Python.

The inputs always come from the row's own kernel (its argument types, launch dimensions, handle
and offset arguments), seeded by the row's id, the input set's number and the run's salt, so the
reference and every candidate of a row see the same inputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from generation.backend import header, launches, ptx, ptxas, warp_api
from generation.backend.source_module import kernel_named, loaded_source
from generation.backend.targets import make_code
from generation.evaluation.measured import FORWARD_TASK, PYTHON_TASK
from generation.source.features import Launch, launch_of

CPU_MODE = header.MODE  # Warp's debug build checks every array access (asserts stay in)
EVALUATION_SEED = 21  # the root of every input set's seed; a row's id, the set's number and the salt (if any) follow
ROW_ARGS_FILE = "row_args.json"  # the row kernel's (name, type) arguments, written by its reference's run
ROW_UNIT_FILE = "row_unit.json"  # Warp's prelude, metadata and code beside the forward, left by a reference's CPU build
COMPILED_FILE = "compiled.json"  # the compile's result, where the run phase follows in the same child
PTX_FILE = "candidate.ptx"  # a PTX candidate's whole module, assembled by the compile phase, loaded by the run phase


@dataclass(frozen=True)
class Work:
    """One candidate of one row, as a child needs it, and nothing more: a candidate's child never
    holds its task's answer (for ``forward_to_python``, the row's own Python source)."""

    row_id: str
    kernel_name: str
    device: str  # the row's config device: cpu, cuda or ptx
    arch: int
    task: str
    code: str  # the candidate: C++/CUDA/PTX (forward or whole unit) or a Python module
    backward: bool  # the row was built with a backward pass: adjoints are compared too
    input_sets: int
    python_source: str = ""  # the row's source, for code compiled inside the row's module and for its reference
    target_forward: str = ""  # the row's forward: for ``round_trip``, and what a PTX forward replaces
    row_code: str = ""  # the row's whole PTX: a PTX forward is put in its forward's place there
    is_reference: bool = False  # the row's own code or source: nothing is substituted
    launch: str = "cpu"  # where the run phase launches: "cpu", or "cuda:0" for CUDA and PTX code on a GPU
    facts: dict | None = None  # the row kernel's launch (``Launch`` as JSON), read by the worker from its source
    row_args: tuple = ()  # the row kernel's (name, type) arguments, as its reference run reports them
    input_salt: str = ""  # draws input sets no one knows in advance ("": the published seeds)
    row_unit: dict | None = None  # what the row's reference build generated (``ROW_UNIT_FILE``): not generated again


def input_seed(row_id: str, input_set: int, salt: str = "") -> list[int]:
    seed = [EVALUATION_SEED, zlib.crc32(row_id.encode()), input_set]
    return seed + [int(hashlib.sha256(salt.encode()).hexdigest()[:32], 16)] if salt else seed


@dataclass(frozen=True)
class InputScale:
    """How large an input set's values are: data of one size leaves a kernel's branches, clamps and
    minimums on one side (inputs within 2 of zero never reach ``if x > 4.0``, integers in [0, 8)
    are never negative), and a changed operation there changes no output."""

    floats: float  # float inputs lie within this of zero
    ints: tuple[int, int]  # [low, high) of the integer arrays that hold values only (``Launch.value_ints``)


# Each input set's scale, in turn (set k: INPUT_SCALES[k % 5]). The first is the run check's.
INPUT_SCALES = (
    InputScale(2.0, (0, 8)),
    InputScale(0.5, (0, 8)),
    InputScale(6.0, (-8, 8)),
    InputScale(20.0, (-64, 64)),
    InputScale(60.0, (-1000, 1000)),
)


def input_scale(input_set: int) -> InputScale:
    return INPUT_SCALES[input_set % len(INPUT_SCALES)]


def launch_facts(python_source: str, kernel_name: str) -> dict:
    """What launching the row's kernel needs, read from its source (never run), as JSON."""
    launch = launch_of(python_source, kernel_name)
    return dataclasses.asdict(launch) | {"offsets": sorted(launch.offsets), "value_ints": sorted(launch.value_ints)}


def _unit_body(work: Work, kernel) -> str:
    """What follows Warp's prelude in the unit the candidate is compiled as."""
    if work.is_reference or work.task == "python_to_code":
        return work.code
    if work.row_unit:
        return work.code + "\n\n" + work.row_unit["beside_forward"]
    generated = warp_api.generate_kernel_code(kernel, _codegen_device(work.device), arch=work.arch)
    return work.code + "\n\n" + generated.beside_forward


def _row_unit(work: Work, kernel, recorded: dict) -> None:
    """Leave, beside the reference's CPU build, what its row's candidates' builds would generate
    again (``ROW_UNIT_FILE``): Warp's prelude, the build's metadata, and for ``python_to_forward``
    the code beside the forward (a ``python_to_code`` candidate is the whole unit)."""
    if recorded and work.task != PYTHON_TASK:
        forward_only = work.task == FORWARD_TASK
        beside = warp_api.generate_kernel_code(kernel, "cpu", arch=work.arch).beside_forward if forward_only else ""
        with open(ROW_UNIT_FILE, "w", encoding="utf-8") as file:
            json.dump(recorded | {"beside_forward": beside}, file)


def _codegen_device(device: str) -> str:
    return "cpu" if device == "cpu" else "cuda"


@contextlib.contextmanager
def _candidate_kernel(work: Work) -> Iterator[object]:
    """The kernel to build and launch: the row's own with the candidate's unit compiled in its
    place, the candidate's own for ``forward_to_python``, or the row's own as Warp builds it for a
    reference (and for PTX, whose module is loaded from the candidate's file)."""
    if work.task == PYTHON_TASK and not work.is_reference:
        with loaded_source(work.code) as candidate:
            yield _kernel_called(candidate, work.kernel_name)
        return
    with loaded_source(work.python_source) as module:
        row_kernel = kernel_named(module, work.kernel_name)
        if _is_ptx(work):  # its module is the row's PTX, backward entries and all
            yield row_kernel
            return
        _without_backward_unless_compared(work, row_kernel)
        if work.is_reference:
            yield row_kernel
        else:
            known = work.row_unit if work.device == "cpu" else None
            with warp_api.substituted_unit(row_kernel.module, _unit_body(work, row_kernel), known):
                yield row_kernel


def _without_backward_unless_compared(work: Work, row_kernel):
    """The row's kernel, set to build without its backward pass where its adjoints are not compared
    (``measured.adjoints_compared``): the unit then holds the forward and its entry point only, for
    the reference and for every candidate alike."""
    if not work.backward:
        row_kernel.module.options["enable_backward"] = False
    return row_kernel


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
    worker's precompiled header is read as it is where the worker could (no failed build touches
    it), and copied into the child's folder otherwise (Warp's own use of it deletes it on a failure)."""
    import warp as wp

    wp.config.kernel_cache_dir = os.path.abspath("kernels")
    if not warp_api.reads_precompiled_header():
        warp_api.private_precompiled_headers(os.path.abspath("."))


def _kernel_called(module, name: str):
    try:
        return kernel_named(module, name)
    except StopIteration:
        raise LookupError(f"the prediction defines no @wp.kernel named {name!r}") from None


def compile_phase(work: Work, then_run: bool = False) -> dict:
    """Build the candidate. C++ and CUDA: compiled in the row's unit (Clang for ``cpu`` in debug
    mode, NVRTC for ``cuda``). PTX: assembled in the row's module by nvJitLink, and saved for the
    run phase.
    Python: imported, and Warp generates code for the row's device (``round_trip`` compares it with
    the row's forward); its CPU build for the run phase follows. Raises on failure.

    ``then_run`` (a CPU build): the run phase follows in this same process, once the compile's result
    is written (``COMPILED_FILE``, which also tells the spawner that the run's time limit starts):
    no second child, no second import and load of the build."""
    _own_kernel_cache()
    result: dict = {}
    if work.task == PYTHON_TASK and not work.is_reference:
        made = make_code(work.code, work.kernel_name, work.device, work.arch)
        result["round_trip"] = same_up_to_names(made.forward, work.target_forward)
    elif work.task != PYTHON_TASK and work.device != "cpu":
        if work.device == "cuda":
            with loaded_source(work.python_source) as module:
                row_kernel = _without_backward_unless_compared(work, kernel_named(module, work.kernel_name))
                with warp_api.substituted_unit(row_kernel.module, _unit_body(work, row_kernel)):
                    warp_api.compile_module(row_kernel.module, "ptx", os.path.abspath("ptx"), work.arch)
        else:
            with open(PTX_FILE, "w", encoding="utf-8") as file:
                file.write(_assembled_ptx(work))
        return result  # CUDA and PTX code runs on its own device only: no CPU build
    with _candidate_kernel(work) as kernel:  # the CPU build the run phase loads
        if work.is_reference:
            with warp_api.generated_unit(kernel.module) as recorded:
                warp_api.load_on_cpu(kernel, CPU_MODE)
            _row_unit(work, kernel, recorded)
        else:
            warp_api.load_on_cpu(kernel, CPU_MODE)
        if then_run:
            with open(COMPILED_FILE, "w", encoding="utf-8") as file:
                json.dump(result, file)
            _launch_and_save(work, kernel, None)
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
    written first, so a backward pass that dies still leaves it. Arrays are saved under the row's
    argument names (a Python candidate may name its own otherwise); a reference writes them to
    ``row_args.json``."""
    _own_kernel_cache()
    with _candidate_kernel(work) as kernel, _loaded(work, kernel) as block_dim:
        _launch_and_save(work, kernel, block_dim)
    return {}


def _launch_and_save(work: Work, kernel, block_dim: int | None) -> None:
    """The run phase's launches of a loaded kernel, and its saved arrays."""
    device = work.launch
    typed = launches.typed_kernel(kernel)
    variables = typed.adj.args
    own = [(arg.label, _type_name(arg.type)) for arg in variables]
    if work.is_reference:  # before any launch: a backward pass that dies still leaves it
        with open(ROW_ARGS_FILE, "w") as file:
            json.dump(own, file)
    row_args = own if work.is_reference else [tuple(arg) for arg in work.row_args]
    _same_signature(row_args, own)
    labels = [label for label, _ in row_args]
    launch = _renamed_launch(Launch(**work.facts), labels, [label for label, _ in own])
    for pass_name in PASSES if work.backward else PASSES[:1]:
        arrays: dict[str, np.ndarray] = {}
        for input_set in range(work.input_sets):
            seed = input_seed(work.row_id, input_set, work.input_salt)
            objects: list = []
            rng, scale = np.random.default_rng(seed), input_scale(input_set)
            args = launches.seeded_arguments(typed, launch, rng, device, objects, scale.floats, scale.ints)
            if pass_name == "forward":
                _save(arrays, f"{input_set}/pre", labels, variables, args)
                launches.launched(kernel, launch, args, device, block_dim=block_dim)
                _save(arrays, f"{input_set}/post", labels, variables, args)
            else:
                adjoint_rng = np.random.default_rng([*seed, 1])
                pairs = zip(variables, args, strict=True)
                adj_args = [_seeded_adjoint(arg.type, value, adjoint_rng) for arg, value in pairs]
                _save(arrays, f"{input_set}/adj_pre", labels, variables, adj_args)
                launches.launched(kernel, launch, args, device, adj_args, block_dim)
                _save(arrays, f"{input_set}/adj_post", labels, variables, adj_args)
        np.savez(f"{pass_name}.npz", **arrays)


def _renamed_launch(launch: Launch, row_labels: list[str], candidate_labels: list[str]) -> Launch:
    """The row's launch facts with its argument names replaced by the candidate's, by position."""
    names = dict(zip(row_labels, candidate_labels, strict=True))
    return dataclasses.replace(
        launch,
        handles={names[label]: kind for label, kind in launch.handles.items()},
        offsets={names[label] for label in launch.offsets},
        value_ints={names[label] for label in launch.value_ints},
    )


def _type_name(arg_type) -> str:
    """A type as Warp spells it, without the module a struct lives in (a candidate's own module)."""
    return re.sub(r"\b\w+\.(?=[A-Za-z_])", "", warp_api.type_name(arg_type))


def _same_signature(row_args: list[tuple[str, str]], candidate_args: list[tuple[str, str]]) -> None:
    """Inputs are made for the candidate's types with the row's seeds: the types must be the same."""
    row_types = [type_name for _, type_name in row_args]
    candidate_types = [type_name for _, type_name in candidate_args]
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


def _save(arrays: dict, prefix: str, labels: list[str], variables: list, values: list) -> None:
    """Every array among ``values`` (struct members too), as NumPy, under ``prefix/label``."""
    import warp as wp

    for label, variable, value in zip(labels, variables, values, strict=True):
        key = f"{prefix}/{label}"
        if isinstance(value, wp.array):
            arrays[key] = value.numpy().copy()
        elif value is not None and warp_api.is_struct_type(variable.type):
            members = list(variable.type.vars.values())
            inner = [getattr(value, member.label) for member in members]
            _save(arrays, key, [member.label for member in members], members, inner)


# What a child of the evaluation sandbox can be asked to do (``sandbox.children``), by name.
PHASES = {
    "compile": lambda work: compile_phase(Work(**work)),
    "compile_and_run": lambda work: compile_phase(Work(**work), then_run=True),
    "run": lambda work: run_phase(Work(**work)),
}


def main() -> None:
    """A phase in a fresh process, started by the worker's spawner for a GPU launch (CUDA does not
    survive ``fork``). Warp and CUDA start first, and the modules the worker preloaded; then the
    worker's seccomp and limits apply. Not Landlock: the candidate's code runs on the GPU, which
    makes no system call, and what the driver opens is the driver's own."""
    import functools

    from generation.evaluation.sandbox.children import process_main
    from generation.evaluation.sandbox.layers import PRELOAD_VARIABLE, Plan, confine_child, load

    warp_api.init_warp()
    plan = dataclasses.replace(Plan.from_environment(), landlock=False)
    load(plan, [module for module in os.environ.get(PRELOAD_VARIABLE, "").split(",") if module])
    process_main(PHASES, functools.partial(confine_child, plan=plan, reads=()))


if __name__ == "__main__":
    main()
