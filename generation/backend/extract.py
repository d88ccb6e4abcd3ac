"""Extract what Warp's code generator emits for one kernel: forward, backward and full code."""

from __future__ import annotations

from typing import Any

import warp as wp

from generation.backend import DEFAULT_CUDA_ARCH, warp_api


def arg_types(kernel: wp.Kernel) -> list[dict[str, str]]:
    """The kernel's arguments as ``{"name", "type"}`` pairs, types spelled the way Warp prints them."""
    return [{"name": arg.label, "type": warp_api.type_name(arg.type)} for arg in kernel.adj.args]


def extract_ir(
    kernel: wp.Kernel, device: str = "cpu", include_backward: bool = True, arch: int = DEFAULT_CUDA_ARCH
) -> dict[str, Any]:
    """Generate ``device`` code for any ``wp.Kernel`` and split it into its parts.

    Returns ``python_source`` (the kernel function's source), ``forward`` (the forward kernel
    function; on the CPU with the argument struct it reads), ``backward`` (the adjoint kernel
    function; empty when ``include_backward`` is False, which builds without adjoints; a generic
    kernel with ``wp.overload``s has one of each per overload), ``code``
    (everything generated for this kernel except the prelude every module shares), ``arg_types``
    and ``metadata``. Compiles nothing.
    """
    if not isinstance(kernel, wp.Kernel):
        raise TypeError(f"extract_ir needs a wp.Kernel, got {type(kernel).__name__}")
    generated = warp_api.generate_kernel_code(kernel, device, enable_backward=include_backward, arch=arch)
    return {
        "python_source": kernel.adj.source,
        "forward": generated.forward,
        "backward": generated.backward,
        "code": generated.source[len(generated.prelude) :],
        "arg_types": arg_types(kernel),
        "metadata": {
            "kernel_name": kernel.key,
            "mangled_name": generated.mangled_name,
            "device": device,
            "block_dim": generated.block_dim,
            "arch": generated.output_arch,
            "grid_stride": generated.grid_stride,
            "enable_backward": generated.enable_backward,
            "hash_ordered": list(generated.hash_ordered),
            "warp_version": warp_api.warp_version(),
        },
    }
