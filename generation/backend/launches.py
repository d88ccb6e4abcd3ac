"""Seeded inputs for a kernel's arguments, and its launch: what the run check and the evaluation
harness share, so that both launch a kernel the same way on the same kind of inputs."""

from __future__ import annotations

LAUNCH_SIZE = 16
TILE_BLOCK_DIM = 64  # threads per block for tile kernels (a CPU build runs a block as one thread)
INT_ARGUMENT = 4  # scalar int arguments are loop bounds and counts: keep them small
VALUE_RANGE = 2.0  # float inputs lie in [-VALUE_RANGE, VALUE_RANGE] unless a caller gives another magnitude
TEXTURE_SIZE = 8  # texels a side of a seeded texture
INT_VALUES = (0, 8)  # integer arrays hold [0, 8): kernels index with them (those that hold values only may differ)


class RunCheckError(RuntimeError):
    """A kernel that cannot be launched on seeded inputs, or whose launch went wrong."""


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


def _argument(arg_type, rng, device: str = "cpu", magnitude: float = VALUE_RANGE, ints: tuple = INT_VALUES):
    """A seeded input for one kernel argument: arrays of random values (floats within ``magnitude``
    of zero, integers in [``ints``), which wrap around an unsigned type), small scalars, textures of
    seeded texels."""
    import warp as wp

    from generation.backend import warp_api as backend

    if backend.is_array_type(arg_type):
        dtype = arg_type.dtype
        scalar = backend.scalar_type(dtype)
        shape = (LAUNCH_SIZE,) * arg_type.ndim + backend.value_shape(dtype)
        if scalar in backend.FLOAT_TYPES:
            values = rng.uniform(-magnitude, magnitude, size=shape)
        elif scalar in backend.INT_TYPES:
            values = rng.integers(*ints, size=shape)
        elif scalar is wp.bool:
            values = rng.random(size=shape) < 0.5
        else:
            raise RunCheckError(f"unsupported array dtype {backend.type_name(dtype)}")
        return wp.array(values.astype(backend.numpy_dtype(scalar)), dtype=dtype, device=device)
    # Scalars as the argument's own Warp type: a generic kernel's launch picks its overload from them.
    if arg_type in backend.FLOAT_TYPES:
        return arg_type(float(rng.uniform(-magnitude, magnitude)))
    if arg_type in backend.INT_TYPES:
        return arg_type(INT_ARGUMENT)
    if arg_type in (wp.bool, bool):
        return wp.bool(bool(rng.random() < 0.5))
    if backend.texture_dims(arg_type):  # 4 channels: a kernel that samples fewer reads the first (Warp's rule)
        shape = (TEXTURE_SIZE,) * backend.texture_dims(arg_type) + (4,)
        return arg_type(data=rng.uniform(-magnitude, magnitude, size=shape).astype("float32"), device=device)
    if backend.is_struct_type(arg_type):
        value = arg_type()
        for name, var in arg_type.vars.items():
            setattr(value, name, _argument(var.type, rng, device, magnitude))
        return value
    if backend.is_vector_type(arg_type):  # vectors, matrices, quaternions, transforms
        return arg_type(*rng.uniform(-magnitude, magnitude, size=backend.component_count(arg_type)).tolist())
    raise RunCheckError(f"unsupported argument type {backend.type_name(arg_type)}")


def typed_kernel(kernel):
    """What a kernel is launched as: a generic kernel with the types of the overload its module
    declares (the first), any other as itself."""
    return next(iter(kernel.overloads.values())) if kernel.is_generic and kernel.overloads else kernel


def seeded_arguments(
    typed, launch, rng, device: str, objects: list, magnitude: float = VALUE_RANGE, value_ints: tuple = INT_VALUES
) -> list:
    """One seeded value per argument of ``typed``, in order: floats within ``magnitude`` of zero, the
    integer arrays that hold values only (``launch.value_ints``) in [``value_ints``), the others in
    ``INT_VALUES``; the objects behind handles (built at the default magnitude) are kept in
    ``objects`` until the launch is done."""
    import numpy as np
    import warp as wp

    args = []
    for arg in typed.adj.args:
        if arg.label in launch.handles:
            args.append(_handle(launch.handles[arg.label], rng, device, objects))
        elif arg.label in launch.offsets:  # CSR offsets: one per row and one past the last, in order
            values = np.sort(rng.integers(0, LAUNCH_SIZE + 1, size=LAUNCH_SIZE + 1))
            args.append(wp.array(values.astype(np.int32), dtype=arg.type.dtype, device=device))
        else:
            ints = value_ints if arg.label in launch.value_ints else INT_VALUES
            args.append(_argument(arg.type, rng, device, magnitude, ints))
    return args


def launched(
    kernel, launch, args: list, device: str, adj_args: list | None = None, block_dim: int | None = None
) -> None:
    """Launch ``kernel`` over the launch's dimensions, its backward pass when ``adj_args`` are
    given, and wait for it. ``block_dim``: the one a prebuilt module was compiled for (Warp's
    defaults otherwise: ``TILE_BLOCK_DIM`` for tile kernels)."""
    import warp as wp

    dim = (LAUNCH_SIZE,) * launch.dims
    backward = {"adj_inputs": adj_args, "adjoint": True} if adj_args is not None else {}
    if launch.tiled:  # one block per index, its threads sharing the tiles
        threads = block_dim or TILE_BLOCK_DIM
        wp.launch_tiled(kernel, dim=dim, inputs=args, device=device, block_dim=threads, **backward)
    else:
        wp.launch(kernel, dim=dim, inputs=args, device=device, block_dim=block_dim, **backward)
    wp.synchronize_device(device)
