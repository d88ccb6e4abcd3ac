"""Every operation and unpacking builtin of the grammar, each alone in a kernel: Warp generates it
for both devices, and it runs on the CPU bounds-checked with finite outputs on seeded inputs."""

from __future__ import annotations

import pytest
from conftest import MACHINE_TEXT

from generation.backend.run_check import run_checks
from generation.generated.operations import OPS, RANDOM_STATE, UNPACKS, Literals, Op, Unpack
from generation.generated.parts import RANDOM_INIT, array_of, element, store
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.source.spec import KernelSpec

HEADER = "import warp as wp\n\n\n@wp.kernel\n"


def _signature(arg_types: tuple[str, ...], results: tuple[str, ...]) -> str:
    inputs = [f"a{k}: {array_of(t)}" for k, t in enumerate(arg_types)]
    outputs = [f"out{k}: {array_of(t)}" for k, t in enumerate(results)]
    return ", ".join(inputs + outputs)


def op_kernel(op: Op, index: int) -> KernelSpec:
    """``out0[i] = <op applied to a0[i], a1[i], ...>`` (tiles loaded and stored by row)."""
    args = [element(f"a{k}", t, "i") for k, t in enumerate(op.args)]
    code = op.template.format(*args, k=0, L=Literals(op.scalar))
    name = f"op_{index}"
    body = ["i = wp.tid()"]
    if RANDOM_STATE in op.reads:
        body.append(RANDOM_INIT.format(seed=7, index="i"))
    body.append(store("out0", op.result, "i", code))
    source = f"{HEADER}def {name}({_signature(op.args, (op.result,))}):\n" + "".join(f"    {line}\n" for line in body)
    return KernelSpec(name, op.group, op.key, source)


def unpack_kernel(unpack: Unpack, index: int) -> KernelSpec:
    """``r0, r1, ... = <builtin>(a0[i])``, each result stored."""
    names = [f"r{k}" for k in range(len(unpack.results))]
    body = [f"{', '.join(names)} = {unpack.template.format('a0[i]')}"]
    body += [f"out{k}[i] = {name}" for k, name in enumerate(names)]
    name = f"unpack_{index}"
    signature = _signature((unpack.arg,), unpack.results)
    source = f"{HEADER}def {name}({signature}):\n    i = wp.tid()\n" + "".join(f"    {line}\n" for line in body)
    return KernelSpec(name, "unpack", unpack.base, source)


KERNELS = [op_kernel(op, k) for k, op in enumerate(OPS)] + [unpack_kernel(u, k) for k, u in enumerate(UNPACKS)]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_operation_generates_code_that_names_no_machine_path(device):
    """Warp writes some builtins in Python (``quat_from_euler``, the vector norms): their code names
    Warp's install path, so the grammar must not use them."""
    stats = BuildStats()
    planned = [PlannedKernel(k, spec) for k, spec in enumerate(KERNELS)]
    rows = list(build_rows(planned, device, BuildOptions(), stats))
    assert {str(reason): error for reason, error in stats.first_error.items()} == {}
    assert [row["description"] for row in rows if MACHINE_TEXT.search(row["code"])] == []


def _run_failures(kernels: list[KernelSpec]) -> dict[str, str]:
    failures = run_checks([(spec.python_source, spec.name) for spec in kernels], seed=1)
    return {spec.description: failure.message for spec, failure in zip(kernels, failures, strict=True) if failure}


def test_every_template_runs_bounds_checked_with_finite_outputs():
    """Each operation's template once (its first type): every type of every one is the benchmark below."""
    first = {}
    for spec in KERNELS:
        first.setdefault(spec.description.rsplit(":", 2)[0], spec)  # group:base, dropping the types
    assert len(first) > 200
    assert _run_failures(list(first.values())) == {}


@pytest.mark.benchmark
def test_every_operation_runs_bounds_checked_with_finite_outputs():
    """All types of all operations (about 25 s on 2 cores): ``pytest -m benchmark tests/test_grammar.py``."""
    assert _run_failures(KERNELS) == {}
