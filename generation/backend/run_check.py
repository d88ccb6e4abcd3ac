"""The ``run`` check: launch kernels on the CPU with seeded inputs, bounds checks on, in a child.

Warp's debug mode checks every array access, but a failed check aborts the process, so the
launches run in a child process that prints one result line per kernel. When the child dies,
the first kernel without a result is the one that killed it; a new child takes the rest. The
child builds kernels in batches, one Clang run each, and launches them one at a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zlib

from generation.backend.children import child_environment
from generation.source.features import launch_of
from generation.source.spec import Failure

RESULT = "WIRP_RESULT "
LAUNCH_SIZE = 16
TILE_BLOCK_DIM = 64  # threads per block for tile kernels (a CPU build runs a block as one thread)
LAUNCH_BATCH = 16  # kernels built by one Clang run; a batch that fails to build is built one by one
CPU_MODE = "debug"  # Warp's debug build checks every array access
INT_ARGUMENT = 4  # scalar int arguments are loop bounds and counts: keep them small
VALUE_RANGE = 2.0


class RunCheckError(RuntimeError):
    pass


def _handle(kind: str, rng, device: str, keep: list):
    """A small real object of ``kind`` built from the seed, kept alive in ``keep``; its id is the argument."""
    import numpy as np
    import warp as wp

    points = rng.uniform(-VALUE_RANGE, VALUE_RANGE, size=(LAUNCH_SIZE, 3)).astype(np.float32)
    if kind == "mesh":  # a tetrahedron around the origin, faces wound outwards
        vertices = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float32)
        faces = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]], dtype=np.int32).flatten()
        handle = wp.Mesh(
            points=wp.array(vertices, dtype=wp.vec3, device=device), indices=wp.array(faces, device=device)
        )
    elif kind == "hash_grid":
        handle = wp.HashGrid(8, 8, 8, device=device)
        handle.build(wp.array(points, dtype=wp.vec3, device=device), 1.0)
    elif kind == "bvh":
        lowers = wp.array(points, dtype=wp.vec3, device=device)
        handle = wp.Bvh(lowers, wp.array(points + 0.5, dtype=wp.vec3, device=device))
    else:  # a dense 8^3 volume of seeded values
        values = rng.uniform(-1.0, 1.0, size=(8, 8, 8)).astype(np.float32)
        handle = wp.Volume.load_from_numpy(values, bg_value=0.0, device=device)
    keep.append(handle)
    return wp.uint64(handle.id)


def _argument(arg_type, rng, device: str = "cpu"):
    """A seeded input for one kernel argument: arrays of random values, small scalars."""
    import warp as wp

    from generation.backend import warp_api as backend

    if backend.is_array_type(arg_type):
        dtype = arg_type.dtype
        scalar = backend.scalar_type(dtype)
        shape = (LAUNCH_SIZE,) * arg_type.ndim + backend.value_shape(dtype)
        if scalar in backend.FLOAT_TYPES:
            values = rng.uniform(-VALUE_RANGE, VALUE_RANGE, size=shape)
        elif scalar in backend.INT_TYPES:
            values = rng.integers(0, 8, size=shape)
        elif scalar is wp.bool:
            values = rng.random(size=shape) < 0.5
        else:
            raise RunCheckError(f"unsupported array dtype {backend.type_name(dtype)}")
        return wp.array(values.astype(backend.numpy_dtype(scalar)), dtype=dtype, device=device)
    # Scalars as the argument's own Warp type: a generic kernel's launch picks its overload from them.
    if arg_type in backend.FLOAT_TYPES:
        return arg_type(float(rng.uniform(-VALUE_RANGE, VALUE_RANGE)))
    if arg_type in backend.INT_TYPES:
        return arg_type(INT_ARGUMENT)
    if arg_type in (wp.bool, bool):
        return wp.bool(bool(rng.random() < 0.5))
    if backend.is_struct_type(arg_type):
        value = arg_type()
        for name, var in arg_type.vars.items():
            setattr(value, name, _argument(var.type, rng, device))
        return value
    if backend.is_vector_type(arg_type):  # vectors, matrices, quaternions, transforms
        return arg_type(*rng.uniform(-VALUE_RANGE, VALUE_RANGE, size=backend.component_count(arg_type)).tolist())
    raise RunCheckError(f"unsupported argument type {backend.type_name(arg_type)}")


def launch_checked(kernel, python_source: str, seed: int, device: str = "cpu") -> None:
    """Launch an imported kernel on seeded inputs and require finite values in every float array."""
    import numpy as np
    import warp as wp

    from generation.backend import warp_api

    rng = np.random.default_rng([seed, zlib.crc32(python_source.encode())])
    launch = launch_of(python_source, kernel.key)
    # A generic kernel is launched with the types of the overload its module declares (the first).
    typed = next(iter(kernel.overloads.values())) if kernel.is_generic and kernel.overloads else kernel
    objects: list = []  # meshes, grids, BVHs and volumes live until the launch is done
    args = []
    for arg in typed.adj.args:
        if arg.label in launch.handles:
            args.append(_handle(launch.handles[arg.label], rng, device, objects))
        elif arg.label in launch.offsets:  # CSR offsets: one per row and one past the last, in order
            values = np.sort(rng.integers(0, LAUNCH_SIZE + 1, size=LAUNCH_SIZE + 1))
            args.append(wp.array(values.astype(np.int32), dtype=arg.type.dtype, device=device))
        else:
            args.append(_argument(arg.type, rng, device))
    dim = (LAUNCH_SIZE,) * launch.dims
    if launch.tiled:  # one block per index, its threads sharing the tiles
        wp.launch_tiled(kernel, dim=dim, inputs=args, device=device, block_dim=TILE_BLOCK_DIM)
    else:
        wp.launch(kernel, dim=dim, inputs=args, device=device)
    wp.synchronize_device(device)
    for arg, value in zip(typed.adj.args, args, strict=True):
        if isinstance(value, wp.array) and value.dtype not in warp_api.INT_TYPES:
            if not np.isfinite(value.numpy()).all():
                raise RunCheckError(f"non-finite values in {arg.label} after the launch")


def _child() -> None:
    """Run the job on stdin, a batch of kernels per CPU build, printing one result line per kernel."""
    from generation.backend import warp_api
    from generation.backend.source_module import kernels_side_by_side

    warp_api.init_warp()
    job = json.load(sys.stdin)
    kernels = job["kernels"]
    for start in range(0, len(kernels), LAUNCH_BATCH):
        batch = kernels[start : start + LAUNCH_BATCH]
        with kernels_side_by_side(batch) as imported:
            if not warp_api.load_on_cpu_together(imported, CPU_MODE):
                for kernel in imported:
                    kernel.module.options["mode"] = CPU_MODE
            for kernel, (source, _) in zip(imported, batch, strict=True):
                try:
                    launch_checked(kernel, source, job["seed"])
                    result = None
                except Exception as error:
                    result = {"kind": type(error).__name__, "message": f"{type(error).__name__}: {error}"}
                print(RESULT + json.dumps(result), flush=True)


def run_checks(kernels: list[tuple[str, str]], seed: int, timeout: float = 1800) -> list[Failure | None]:
    """For each ``(python_source, kernel_name)``, None if it ran cleanly, else why not (counted
    under the error's type, or ``crashed`` when the launch killed the process)."""
    with tempfile.TemporaryDirectory(prefix="wirp_run_cache_") as kernel_cache:
        # The children's builds go to a kernel cache of their own, removed after: Warp's default
        # cache would keep every row's module (about 350 KB each) in the user's home for good.
        return _run_in_children(kernels, seed, child_environment(WARP_CACHE_PATH=kernel_cache), timeout)


def _run_in_children(kernels: list[tuple[str, str]], seed: int, env: dict, timeout: float) -> list[Failure | None]:
    """A child runs the pending kernels in order; if it dies, the kernel it was on is blamed."""
    results: list[Failure | None] = [None] * len(kernels)
    pending = list(range(len(kernels)))
    while pending:
        job = json.dumps({"seed": seed, "kernels": [kernels[k] for k in pending]})
        done = subprocess.run(
            [sys.executable, "-m", __name__],  # this module, run as the child
            input=job,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        lines = [json.loads(line[len(RESULT) :]) for line in done.stdout.splitlines() if line.startswith(RESULT)]
        for position, line in enumerate(lines):
            results[pending[position]] = Failure(**line) if line else None
        if len(lines) == len(pending):
            break
        crashed = pending[len(lines)]
        tail = " | ".join(line for line in done.stderr.splitlines()[-4:] if "CUDA driver" not in line)
        results[crashed] = Failure("crashed", f"crashed (exit {done.returncode}): {tail}")
        pending = pending[len(lines) + 1 :]
    return results


if __name__ == "__main__":
    _child()
