"""Warp's value types by name, as kernels write them: scalars, vectors, matrices, quaternions,
transforms, spatial types and the tile shapes the generator uses. The generator draws from this
table and source reading recognises its names, so it lives below both."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WType:
    """A Warp value type as the grammar sees it."""

    name: str  # grammar key and Warp name: "float32", "vec3d", "quat", "spatial_matrix", ...
    annotation: str  # how a signature writes it: "float", "wp.vec3d"
    kind: str  # float | int | bool | vector | matrix | quat | transform | tile
    scalar: str  # the scalar type of its components (itself for scalars)
    size: int = 1  # components of a vector/quat/transform, rows of a (square) matrix, elements of a tile
    shape: tuple[int, ...] = ()  # tiles: the compile-time shape

    @property
    def components(self) -> int:
        return self.size * self.size if self.kind == "matrix" else self.size


# Warp's names for the float types a vector, matrix, quaternion or transform can hold.
FLOAT_SUFFIX = {"float32": "", "float64": "d"}
SCALAR_ANNOTATION = {"float32": "float", "int32": "int", "bool": "bool"}


def _types() -> dict[str, WType]:
    table = [WType(s, SCALAR_ANNOTATION.get(s, f"wp.{s}"), k, s) for s, k in SCALAR_KINDS.items()]
    for scalar, suffix in FLOAT_SUFFIX.items():
        for n in (2, 3, 4):
            table.append(WType(f"vec{n}{suffix}", f"wp.vec{n}{suffix}", "vector", scalar, n))
            table.append(WType(f"mat{n}{n}{suffix}", f"wp.mat{n}{n}{suffix}", "matrix", scalar, n))
        table.append(WType(f"quat{suffix}", f"wp.quat{suffix}", "quat", scalar, 4))
        table.append(WType(f"transform{suffix}", f"wp.transform{suffix}", "transform", scalar, 7))
    table.append(WType("spatial_vector", "wp.spatial_vector", "vector", "float32", 6))
    table.append(WType("spatial_matrix", "wp.spatial_matrix", "matrix", "float32", 6))
    for shape in TILE_SHAPES:  # a block's shared tile of float32; never an argument, so no annotation
        table.append(WType(tile(shape), "", "tile", "float32", math.prod(shape), shape))
    return {t.name: t for t in table}


# Tile shapes: 1D tiles load a row of a 2D array, 2D tiles a slice of a 3D one (16 wide in the run check).
TILE_SHAPES = ((4,), (8,), (16,), (4, 4), (4, 8), (8, 4), (8, 8))


def tile(shape: tuple[int, ...]) -> str:
    return "tile" + "x".join(map(str, shape))


SCALAR_KINDS = {
    "float32": "float",
    "float64": "float",
    "float16": "float",
    "int32": "int",
    "int64": "int",
    "int8": "int",
    "int16": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "int",
    "uint64": "int",
    "bool": "bool",
}
TYPES: dict[str, WType] = _types()
