"""``extract_ir`` on kernels the generator did not write: hand-written ones and Warp's own."""

from __future__ import annotations

import importlib

import kernels_handwritten as hw
import pytest
import warp as wp
from code_parts import defined, missing_definitions, verbatim_slices

from generation import extract_ir


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_struct_and_helper_kernel(device):
    ir = extract_ir(hw.energy, device=device)
    name = ir["metadata"]["mangled_name"]
    assert ir["python_source"].lstrip().startswith("@wp.kernel")
    assert f"{name}_{device}_kernel_forward(" in ir["forward"]
    assert f"{name}_{device}_kernel_backward(" in ir["backward"]
    assert "struct Particle_" in ir["code"], "the @wp.struct type is part of the translation"
    assert "kinetic_" in ir["code"] and "adj_kinetic_" in ir["code"], "helpers and their adjoints too"
    # Each pass is self-contained: the struct and the helper it calls come first, the adjoint only in backward.
    for column, helpers in (("forward", {"kinetic_0"}), ("backward", {"kinetic_0", "adj_kinetic_0"})):
        assert missing_definitions(ir[column], ir["code"]) == set(), column
        assert ir[column].startswith("struct Particle_")
        assert {d for d in defined(ir[column]) if "kinetic" in d} == helpers, column
        pieces = verbatim_slices(ir[column], ir["code"])
        assert f"{name}_{device}_kernel_{column}(" in pieces[-1]
        assert (f"struct wp_args_{name} {{" in ir[column]) == (device == "cpu")
    assert [a["name"] for a in ir["arg_types"]] == ["particles", "vel", "out"]


def test_helper_calling_wp_grad_has_no_adjoint_in_backward():
    """Warp emits no adjoint for a helper that calls ``wp.grad``: the backward carries its forward only."""
    for device in ("cpu", "cuda"):
        ir = extract_ir(hw.descend, device=device)
        assert "adj_slope_" not in ir["code"] and "slope_" in ir["backward"]
        for column in ("forward", "backward"):
            assert missing_definitions(ir[column], ir["code"]) == set(), column
            verbatim_slices(ir[column], ir["code"])


def test_kernel_calling_wp_grad_carries_the_adjoint_it_calls():
    """``wp.grad(f)`` in a kernel calls ``adj_f`` from the forward pass; Warp records no call edge for it."""
    for device in ("cpu", "cuda"):
        ir = extract_ir(hw.repel, device=device)
        assert "adj_potential_" in ir["forward"] and ir["backward"] == ""
        assert missing_definitions(ir["forward"], ir["code"]) == set()


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_2d_launch(device):
    ir = extract_ir(hw.blur, device=device)
    assert "wp::launch_bounds_t<2> dim" in ir["forward"]
    assert "builtin_tid2d(" in ir["forward"]
    assert ir["arg_types"][0]["type"].startswith("array(ndim=2")


def test_kernel_declared_without_backward_has_none():
    ir = extract_ir(hw.count_positive, device="cuda")
    assert ir["backward"] == "" and "_kernel_backward" not in ir["code"]
    assert ir["metadata"]["enable_backward"] is False


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_generic_kernel_has_a_forward_and_backward_per_overload(device):
    ir = extract_ir(hw.scale_any, device=device)
    for column in ("forward", "backward"):
        assert ir[column].count(f"_{device}_kernel_{column}(") == 2, ir[column][:400]
        assert "wp::array_t<wp::float32>" in ir[column] and "wp::array_t<wp::vec_t<3, wp::float32>>" in ir[column]
    if device == "cpu":  # each backward with the argument struct it reads
        assert ir["backward"].count("struct wp_args_") == 2


def test_include_backward_false_drops_the_adjoint():
    ir = extract_ir(hw.energy, device="cpu", include_backward=False)
    assert ir["backward"] == "" and "_cpu_kernel_backward" not in ir["code"]


def test_code_of_one_kernel_excludes_its_neighbours():
    ir = extract_ir(hw.blur, device="cuda")
    assert "energy_" not in ir["code"] and "kinetic_" not in ir["code"]


def test_cuda_kernels_with_line_directives_start_at_their_directive():
    """Warp's debug mode writes a ``#line`` above each kernel's header: the forward and the backward
    each start there, whole, and neither holds a piece of the other."""
    module = importlib.import_module("warp.tests.tile.test_tile_oob")  # sets {"mode": "debug"}
    ir = extract_ir(module.shared_tile_oob_kernel, device="cuda")
    for column in ("forward", "backward"):
        first, second = ir[column].splitlines()[:2]
        assert first.startswith("#line ") and second.startswith('extern "C"'), ir[column][:200]
        assert second.endswith(f"_cuda_kernel_{column}(")
    assert "_cuda_kernel_backward(" not in ir["forward"]


WARP_MODULES = [
    "warp.tests.test_conditional",
    "warp.tests.test_struct",
    "warp.tests.test_func",
    "warp.examples.core.example_wave",
]


@pytest.mark.parametrize("module_name", WARP_MODULES)
def test_kernels_shipped_with_warp(module_name):
    module = importlib.import_module(module_name)
    kernels = [v for v in vars(module).values() if isinstance(v, wp.Kernel)]
    assert kernels
    for kernel in kernels[:5]:
        for device in ("cpu", "cuda"):
            ir = extract_ir(kernel, device=device)
            assert f"_{device}_kernel_forward(" in ir["forward"]


def test_rejects_what_is_not_a_kernel():
    with pytest.raises(TypeError, match="needs a wp.Kernel, got function"):
        extract_ir(lambda: None)
    with pytest.raises(ValueError, match="device must be one of"):
        extract_ir(hw.blur, device="metal")


def test_a_generated_module_is_let_go_after_its_code_is_made():
    """A kernel that calls a builtin Warp writes in Python (``wp.norm_l2``, from Warp's own
    ``warp.math`` module) is listed among that module's dependents; once its code is made, nothing
    may hold its Warp module, or a long build keeps every such kernel (and its syntax trees) alive."""
    import gc

    from generation.backend.source_module import module_name_for
    from generation.backend.targets import make_code

    source = (
        "import warp as wp\n\n\n@wp.kernel\n"
        "def norms(a: wp.array[wp.vec3], out: wp.array[float]):\n"
        "    i = wp.tid()\n"
        "    out[i] = wp.norm_l2(a[i]) + wp.norm_l1(a[i])\n"
    )
    make_code(source, "norms", "cpu")
    gc.collect()
    name = module_name_for(source)
    alive = [m for m in gc.get_objects() if type(m).__name__ == "Module" and getattr(m, "name", None) == name]
    assert alive == [], f"{name} is still held: {[type(r).__name__ for r in gc.get_referrers(*alive)]}"


def test_warps_cuda_driver_notice_goes_to_the_log_once_not_to_the_terminal():
    """Warp's native library prints a CUDA-driver notice on every machine without a GPU, which needs
    none to make cuda rows: it is kept off the terminal and said once, at INFO, in the log."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import logging; logging.basicConfig(level=logging.INFO)\n"
        "from generation.backend import warp_api\n"
        "warp_api.init_warp(); warp_api.init_warp()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Could not find or load the NVIDIA CUDA driver" not in done.stderr + done.stdout
    assert done.stderr.count("no CUDA driver here: cuda and ptx rows need none") == 1, done.stderr


def test_remembered_overloads_are_the_ones_warp_chooses(monkeypatch):
    """Builds remember Warp's choice of a builtin's overload by argument types, across kernels: one
    builtin called on floats, integers and vectors in turn, and on the kernels' own array types,
    must get the overload Warp picks without the memory (the C++ types of the results tell them apart)."""
    import contextlib

    from generation.backend import warp_api
    from generation.backend.targets import make_code

    calls = {
        "floats": ("wp.array[float]", "wp.min(a[i], 2.0)", "wp.atomic_add(a, 0, 1.0)"),
        "integers": ("wp.array[int]", "wp.min(a[i], 2)", "wp.atomic_add(a, 0, 1)"),
        "vectors": ("wp.array[wp.vec3]", "wp.min(a[i], wp.vec3(2.0))", "wp.atomic_add(a, 0, wp.vec3(1.0))"),
    }
    sources = {
        name: f"import warp as wp\n\n\n@wp.kernel\ndef overloads_{name}(a: {array}):\n"
        f"    i = wp.tid()\n    b = {value}\n    {atomic}\n    a[i] = b\n"
        for name, (array, value, atomic) in calls.items()
    }
    remembered = [make_code(source, f"overloads_{name}", "cpu").forward for name, source in sources.items()]
    assert warp_api._resolved_overloads, "no choice was remembered"
    monkeypatch.setattr(warp_api, "_overloads_remembered", contextlib.nullcontext)
    plain = [make_code(source, f"overloads_{name}", "cpu").forward for name, source in sources.items()]
    assert remembered == plain
    assert "wp::float32 var_" in plain[0] and "wp::vec_t<3, wp::float32> var_" in plain[2]
