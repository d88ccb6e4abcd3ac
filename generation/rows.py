"""Row assembly: one generated kernel, run through Warp's code generator, as one dataset row."""

from __future__ import annotations

import hashlib
import json
import tempfile
from typing import Any

import datasets

from generation import ptx as ptx_text
from generation import warp_backend
from generation.extract import extract_ir
from generation.features import kernel_features
from generation.generator import GENERATOR_VERSION, KernelSpec
from generation.source_module import kernels_in, loaded_source, module_name_for, source_file_for

_text = datasets.Value("large_string")
FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "kernel_name": datasets.Value("string"),
        "category": datasets.Value("string"),
        "description": _text,
        "python_source": _text,
        "device": datasets.Value("string"),
        "forward": _text,
        "backward": _text,
        "code": _text,
        "arg_types": [{"name": datasets.Value("string"), "type": datasets.Value("string")}],
        "metadata": {
            "warp_version": datasets.Value("string"),
            "generator_version": datasets.Value("string"),
            "seed": datasets.Value("int64"),
            "index": datasets.Value("int64"),
            "mangled_name": datasets.Value("string"),
            "module_name": datasets.Value("string"),
            "source_file": datasets.Value("string"),
            "block_dim": datasets.Value("int32"),
            "grid_stride": datasets.Value("bool"),
            "enable_backward": datasets.Value("bool"),
            "origin": datasets.Value("string"),
            "license": datasets.Value("string"),
            "difficulty": datasets.Value("string"),  # easy, medium, hard; "" for harvested kernels
            "recipe": datasets.Value("string"),  # JSON: the generator call that regenerates the kernel
            "features": [datasets.Value("string")],  # what the source uses: statements, types, launch dims
            "validation": [datasets.Value("string")],  # checks passed: codegen, compile, run
            "arch": datasets.Value("int32"),  # CUDA architecture of the code or PTX (0 for CPU code)
            "ptx_isa": datasets.Value("string"),
            "cuda_version": datasets.Value("string"),
        },
    }
)


def row_id(device: str, python_source: str, code: str) -> str:
    """A content hash: the same kernel, device and generated code always get the same id."""
    payload = json.dumps([device, python_source, code], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


# The code generator's device for each config; ``ptx`` compiles the CUDA source with NVRTC.
CODEGEN_DEVICE = {"cpu": "cpu", "cuda": "cuda", "ptx": "cuda"}


def make_row(
    spec: KernelSpec,
    config: str,
    seed: int,
    index: int,
    include_backward: bool = True,
    arch: int = warp_backend.DEFAULT_CUDA_ARCH,
) -> dict[str, Any]:
    """Import the spec's source as its own module and take what Warp generates for it (and, for
    ``ptx``, what NVRTC compiles it to). Errors raised here are the caller's to count.
    """
    module_name = module_name_for(spec.python_source)
    ptx = ""
    validation = ["codegen"]
    with loaded_source(spec.python_source, module_name) as module:
        kernel = next(k for k in kernels_in(module) if k.key == spec.name)
        ir = extract_ir(kernel, device=CODEGEN_DEVICE[config], include_backward=include_backward, arch=arch)
        if config == "ptx":
            with tempfile.TemporaryDirectory() as build_dir:
                ptx = warp_backend.compile_module(module, "ptx", build_dir, arch)
            validation.append("compile")
    meta = ir["metadata"]
    forward, backward, code = ir["forward"], ir["backward"], ir["code"]
    if config == "ptx":
        forward = ptx_text.entry(ptx, f"{meta['mangled_name']}_cuda_kernel_forward")
        backward = ptx_text.entry(ptx, f"{meta['mangled_name']}_cuda_kernel_backward")
        code = ptx
        if not forward:
            raise RuntimeError(f"no PTX entry for {meta['mangled_name']}_cuda_kernel_forward")
    return {
        "id": row_id(config, spec.python_source, code),
        "kernel_name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "python_source": spec.python_source,
        "device": config,
        "forward": forward,
        "backward": backward,
        "code": code,
        "arg_types": ir["arg_types"],
        "metadata": {
            "warp_version": warp_backend.warp_version(),
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "index": index,
            "mangled_name": meta["mangled_name"],
            "module_name": module_name,
            "source_file": source_file_for(module_name),
            "block_dim": meta["block_dim"],
            "grid_stride": meta["grid_stride"],
            "enable_backward": meta["enable_backward"],
            "origin": spec.origin,
            "license": spec.license,
            "difficulty": spec.difficulty,
            "recipe": spec.recipe,
            "features": kernel_features(spec.python_source),
            "validation": validation,
            "arch": meta["arch"],
            "ptx_isa": ptx_text.isa_version(ptx),
            "cuda_version": ptx_text.compiler_version(ptx),
        },
    }
