"""The row schema, and row assembly: a kernel and the code made for it as one dataset row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import datasets
import pyarrow as pa

from generation.backend import warp_api
from generation.backend.source_module import source_file_for
from generation.backend.targets import TargetCode
from generation.generated.generator import GENERATOR_VERSION
from generation.source.features import kernel_features
from generation.source.spec import KernelSpec

# The version of the rows' schema and the meaning of their columns (``datasets``' VERSION): 4.0
# made ``forward`` and ``backward`` self-contained and added ``metadata.lengths`` and ``dataset_version``;
# 4.1 added ``metadata.package`` and ``metadata.package_version`` (a harvested kernel's provenance).
DATASET_VERSION = "4.1.0"
# The columns ``metadata.lengths`` measures, in characters and lines.
MEASURED = ("python_source", "forward", "backward", "code")

_text = datasets.Value("large_string")
_length = {"chars": datasets.Value("int64"), "lines": datasets.Value("int64")}
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
            "dataset_version": datasets.Value("string"),
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
            "package": datasets.Value("string"),  # a harvested kernel's distribution ("" for generated ones and paths)
            "package_version": datasets.Value("string"),  # its exact version
            "difficulty": datasets.Value("string"),  # easy, medium, hard; "" for harvested kernels
            "recipe": datasets.Value("string"),  # JSON: the generator call that regenerates the kernel
            "features": [datasets.Value("string")],  # what the source uses: statements, types, launch dims
            "validation": [datasets.Value("string")],  # checks passed: codegen, compile, run
            "arch": datasets.Value("int32"),  # CUDA architecture of the code or PTX (0 for CPU code)
            "ptx_isa": datasets.Value("string"),
            "cuda_version": datasets.Value("string"),
            "mathdx": datasets.Value("bool"),  # tile GEMM/FFT/Cholesky through mathdx (False: Warp's generic code)
            "lengths": {column: _length for column in MEASURED},
        },
    }
)


# What each column holds: the one description the card and ``docs/rows.md`` both show
# (``{categories}``: the categories of the build the card describes, or every one).
COLUMNS = {
    "id": ("string", "content hash of device, `python_source` and `code`"),
    "kernel_name": ("string", "the kernel's Python name"),
    "category": (
        "string",
        "the kernel's category ({categories}): a generator category, or `real` for a harvested kernel",
    ),
    "description": ("string", "what the kernel computes, in words (built from the same tree as the code)"),
    "python_source": (
        "string",
        "a complete, importable module: imports, constants, `@wp.struct` types, `@wp.func` helpers, the kernel "
        "(harvested kernels: the statements of their file that the kernel needs)",
    ),
    "device": ("string", "the config's target: `cpu`, `cuda` or `ptx`"),
    "forward": (
        "string",
        "self-contained forward pass: the structs and helper functions it uses (forward code only, transitively, in "
        "the order Warp emits them), then the forward kernel function (CPU: with the argument struct it reads); each "
        "part a verbatim slice of `code`",
    ),
    "backward": (
        "string",
        "self-contained adjoint: the structs and helpers it uses (forward and adjoint), then the adjoint kernel "
        "function (empty when built without backward)",
    ),
    "code": (
        "string",
        "everything Warp generates for the kernel except the prelude shared by every module (headers and macros, "
        "after a `#define WP_NO_BFLOAT16` line in modules that use no bfloat16; `ptx`: the whole PTX module)",
    ),
    "arg_types": ("list of {name, type}", "the kernel's arguments with their Warp types"),
    "metadata": (
        "struct",
        "Warp, dataset (schema) and generator versions, seed, draw index, mangled name, module name, source file, "
        "block_dim, grid_stride, enable_backward, origin (`generated`, or `path::kernel` of a harvested kernel), "
        "licence, package and package_version (a harvested kernel's distribution and exact version; empty for "
        "generated kernels and `paths`), difficulty, recipe (JSON of the generator call that regenerates the "
        "kernel), features, validation (checks passed), arch, PTX ISA and CUDA versions (PTX), mathdx (False: tile "
        "GEMM, FFT and Cholesky use Warp's generic code), lengths (characters and lines of the four text columns)",
    ),
}


def schema_table(categories: str) -> str:
    """The columns as a Markdown table, ``categories`` named in the category's row."""
    lines = ["| column | type | what it holds |", "|---|---|---|"]
    lines += [f"| `{name}` | {kind} | {text.format(categories=categories)} |" for name, (kind, text) in COLUMNS.items()]
    return "\n".join(lines) + "\n"


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as one Arrow table of the dataset's schema: what every writer (Arrow, Parquet) writes."""
    return pa.Table.from_pylist(rows, schema=FEATURES.arrow_schema)


def batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """``rows`` in lists of ``size`` (the last one shorter)."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def row_id(device: str, python_source: str, code: str) -> str:
    """A content hash: the same kernel, device and generated code always get the same id."""
    payload = json.dumps([device, python_source, code], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def line_count(text: str) -> int:
    """Lines as an editor counts them: a last line without a newline counts, an empty text has none."""
    return text.count("\n") + (bool(text) and not text.endswith("\n"))


def lengths(row: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Characters and lines of the row's text columns."""
    return {column: {"chars": len(row[column]), "lines": line_count(row[column])} for column in MEASURED}


def assemble(
    spec: KernelSpec,
    made: TargetCode,
    device: str,
    seed: int,
    index: int,
    validation: tuple[str, ...],
    features: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The row for ``spec`` and the code ``made`` for it, with the checks it passed (and its
    ``kernel_features``, read here unless the scan read them already)."""
    row = {
        "id": row_id(device, spec.python_source, made.code),
        "kernel_name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "python_source": spec.python_source,
        "device": device,
        "forward": made.forward,
        "backward": made.backward,
        "code": made.code,
        "arg_types": made.arg_types,
        "metadata": {
            "warp_version": warp_api.warp_version(),
            "dataset_version": DATASET_VERSION,
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "index": index,
            "mangled_name": made.mangled_name,
            "module_name": made.module_name,
            "source_file": source_file_for(made.module_name),
            "block_dim": made.block_dim,
            "grid_stride": made.grid_stride,
            "enable_backward": made.enable_backward,
            "origin": spec.origin,
            "license": spec.license,
            "package": spec.package,
            "package_version": spec.package_version,
            "difficulty": spec.difficulty,
            "recipe": spec.recipe,
            "features": list(features) if features is not None else kernel_features(spec.python_source),
            "validation": list(validation),
            "arch": made.arch,
            "ptx_isa": made.ptx_isa,
            "cuda_version": made.cuda_version,
            "mathdx": warp_api.MATHDX,
        },
    }
    row["metadata"]["lengths"] = lengths(row)
    return row


if __name__ == "__main__":  # docs/rows.md's table
    from generation.generated.generator import CATEGORIES

    print(schema_table(", ".join(CATEGORIES)), end="")
