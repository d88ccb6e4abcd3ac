"""Row assembly: one generated kernel, run through Warp's code generator, as one dataset row."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import datasets

from generation import warp_backend
from generation.extract import extract_ir
from generation.generator import GENERATOR_VERSION, KernelSpec
from generation.source_module import kernels_in, loaded_source, module_name_for, source_file_for

GENERATED_LICENSE = "Apache-2.0"

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
        },
    }
)


def row_id(device: str, python_source: str, code: str) -> str:
    """A content hash: the same kernel, device and generated code always get the same id."""
    payload = json.dumps([device, python_source, code], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def make_row(spec: KernelSpec, device: str, seed: int, index: int, include_backward: bool = True) -> dict[str, Any]:
    """Import the spec's source as its own module and extract what Warp generates for it."""
    module_name = module_name_for(spec.python_source)
    with loaded_source(spec.python_source, module_name) as module:
        kernel = next(k for k in kernels_in(module) if k.key == spec.name)
        ir = extract_ir(kernel, device=device, include_backward=include_backward)
    meta = ir["metadata"]
    return {
        "id": row_id(device, spec.python_source, ir["code"]),
        "kernel_name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "python_source": spec.python_source,
        "device": device,
        "forward": ir["forward"],
        "backward": ir["backward"],
        "code": ir["code"],
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
            "origin": "generated",
            "license": GENERATED_LICENSE,
        },
    }
