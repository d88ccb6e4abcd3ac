"""The code a config pairs with a kernel: Warp's C++ (``cpu``), its CUDA (``cuda``), or the PTX
NVRTC compiles that CUDA to (``ptx``), made from the kernel's source alone."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from generation.backend import DEFAULT_CUDA_ARCH, ptx, warp_api
from generation.backend.extract import extract_ir
from generation.backend.source_module import kernel_named, loaded_source, module_name_for

# The code generator's device for each target; ``ptx`` compiles the CUDA source with NVRTC.
CODEGEN_DEVICE = {"cpu": "cpu", "cuda": "cuda", "ptx": "cuda"}


@dataclass(frozen=True)
class TargetCode:
    """What a target holds for one kernel, with the facts a row records about how it was made."""

    forward: str
    backward: str
    code: str
    arg_types: list[dict[str, str]]
    mangled_name: str
    module_name: str
    block_dim: int
    grid_stride: bool
    enable_backward: bool
    arch: int  # CUDA architecture of the code or PTX (0 for CPU code)
    ptx_isa: str = ""  # PTX only: the ISA and CUDA compiler versions NVRTC wrote into it
    cuda_version: str = ""
    hash_ordered: tuple[str, ...] = ()  # functions whose code depends on the hash seed (no honest row)


def make_code(
    python_source: str,
    kernel_name: str,
    target: str,
    arch: int = DEFAULT_CUDA_ARCH,
) -> TargetCode:
    """Import ``python_source`` as its own module and take what Warp makes of ``kernel_name`` for
    ``target``: the source alone decides, its module options included (a build without backward
    writes ``enable_backward: False`` into it, ``source/edits.py``). Raises what Warp raises
    (``warp_api.CompileError`` when NVRTC fails on ``ptx``)."""
    module_name = module_name_for(python_source)
    compiled = ""
    with loaded_source(python_source, module_name) as module:
        kernel = kernel_named(module, kernel_name)
        ir = extract_ir(kernel, device=CODEGEN_DEVICE[target], arch=arch)
        if target == "ptx":
            with tempfile.TemporaryDirectory() as build_dir:
                compiled = warp_api.compile_module(module, "ptx", build_dir, arch)
    meta = ir["metadata"]
    forward, backward, code = ir["forward"], ir["backward"], ir["code"]
    if target == "ptx":
        forward = ptx.entry(compiled, f"{meta['mangled_name']}_cuda_kernel_forward")
        backward = ptx.entry(compiled, f"{meta['mangled_name']}_cuda_kernel_backward")
        code = compiled
        if not forward:
            raise RuntimeError(f"no PTX entry for {meta['mangled_name']}_cuda_kernel_forward")
    return TargetCode(
        forward=forward,
        backward=backward,
        code=code,
        arg_types=ir["arg_types"],
        mangled_name=meta["mangled_name"],
        module_name=module_name,
        block_dim=meta["block_dim"],
        grid_stride=meta["grid_stride"],
        enable_backward=meta["enable_backward"],
        arch=meta["arch"],
        ptx_isa=ptx.isa_version(compiled),
        cuda_version=ptx.compiler_version(compiled),
        hash_ordered=tuple(meta["hash_ordered"]),
    )
