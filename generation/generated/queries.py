"""Spatial queries on handles passed as ``wp.uint64``: meshes, hash grids, BVHs and volumes, each
with the shape real kernels give it (``if query.result:``, ``while wp.hash_grid_query_next(...)``).

Each idiom emits its statements through a ``KernelBuilder`` and leaves new locals (a ``vec3`` or
a ``float``) for the rest of the kernel to read. The run check launches them on real objects.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from generation.generated.builder import KernelBuilder
from generation.generated.expressions import Expr, named
from generation.generated.policy import Policy

HANDLE_NAMES = {"mesh": "mesh", "hash_grid": "grid", "bvh": "bvh", "volume": "volume"}
MESH_POINT_QUERIES = {
    "mesh_query_point": "signed",
    "mesh_query_point_no_sign": "unsigned",
    "mesh_query_point_sign_normal": "signed",
    "mesh_query_point_sign_winding_number": "signed",
}


def handle(kb: KernelBuilder, kind: str) -> Expr:
    """The kernel's ``wp.uint64`` handle of ``kind`` (added on first use)."""
    name = HANDLE_NAMES[kind]
    if name not in {n for n, _ in kb.inputs}:
        kb.inputs.append((name, "wp.uint64"))
    return named(name)


def _radius(kb: KernelBuilder) -> Expr:
    """A search radius: a float argument, or a literal."""
    if kb.chance("radius_argument"):
        if "radius" not in {n for n, _ in kb.inputs}:
            kb.inputs.append(("radius", "float"))
        return named("radius")
    value = kb.rng.choice(("0.5", "1.0", "1.5"))
    return Expr(value, value, const=True)


def _point(kb: KernelBuilder) -> Expr:
    """Where a query looks: a point expression, a bare read at the smallest size."""
    return kb.expr("vec3", 0 if kb.profile.compact else kb.rng.randint(0, 1))


def mesh_point(kb: KernelBuilder, points: str) -> None:
    """The closest point on a mesh, evaluated from the face and barycentrics the query returns."""
    mesh, p = handle(kb, "mesh"), _point(kb)
    func = kb.rng.choice(list(MESH_POINT_QUERIES))
    query, closest = kb.fresh("query"), kb.fresh("t")
    found = f"wp.mesh_eval_position({mesh.code}, {query}.face, {query}.u, {query}.v)"
    if MESH_POINT_QUERIES[func] == "signed" and kb.chance("mesh_normal_offset"):
        found += f" + wp.mesh_eval_face_normal({mesh.code}, {query}.face) * {query}.sign"
    kb.emit(f"{query} = wp.{func}({mesh.code}, {p.code}, 10.0)", mesh, p)
    kb.emit(f"{closest} = {p.code}", p)
    kb.emit(f"if {query}.result:", kind="if")
    kb.emit(f"    {closest} = {found}")
    kb.say(f"sets {closest} to the point of the mesh closest to {p.phrase} ({func})")
    kb.new_local(closest, "vec3", ("mesh_query_point",))


def mesh_ray(kb: KernelBuilder, points: str) -> None:
    """A ray cast against a mesh: the hit distance and how the ray meets the surface."""
    mesh, start = handle(kb, "mesh"), _point(kb)
    direction = kb.expr("vec3", 1)
    ray, hit = kb.fresh("ray"), kb.fresh("s")
    unit = kb.fresh("t")
    kb.emit(f"{unit} = wp.normalize({direction.code})", direction)
    kb.emit(f"{ray} = wp.mesh_query_ray({mesh.code}, {start.code}, {unit}, 100.0)", mesh, start)
    kb.emit(f"{hit} = float(0.0)")
    kb.emit(f"if {ray}.result:", kind="if")
    kb.emit(f"    {hit} = {ray}.t + wp.dot({ray}.normal, {start.code}) * {ray}.sign")
    kb.say(f"casts a ray from {start.phrase} along {direction.phrase} and sets {hit} to where it hits the mesh")
    kb.new_local(hit, "float32", ("mesh_query_ray",))


def hash_grid(kb: KernelBuilder, points: str) -> None:
    """Neighbours within a radius from a hash grid, each read back from the points array."""
    grid, radius = handle(kb, "hash_grid"), _radius(kb)
    index = f"wp.hash_grid_point_id({grid.code}, {kb.index})" if kb.chance("hash_grid_sorted_id") else kb.index
    query, neighbour, total, distance = kb.fresh("query"), kb.fresh("index"), kb.fresh("s"), kb.fresh("d")
    weight = kb.rng.choice(
        (f"({radius.code} - {distance})", f"wp.smoothstep({radius.code}, 0.0, {distance})", f"{distance} * {distance}")
    )
    kb.emit(f"{query} = wp.hash_grid_query({grid.code}, {points}[{index}], {radius.code})", grid, radius, named(points))
    kb.emit(f"{neighbour} = int(0)")
    kb.emit(f"{total} = float(0.0)")
    kb.emit(f"while wp.hash_grid_query_next({query}, {neighbour}):", kind="while")
    kb.emit(f"    {distance} = wp.length({points}[{neighbour}] - {points}[{index}])")
    kb.emit(f"    if {distance} < {radius.code}:", kind="if")
    kb.emit(f"        {total} += {weight}")
    kb.say(f"sums {weight} over the neighbours within {radius.phrase} of {points}[{index}] into {total}")
    kb.new_local(total, "float32", ("hash_grid_query",))


# Box queries: (handle kind, query, next, the item each step yields, how a step adds to the total, words).
BOX_QUERIES = {
    "bvh": ("bvh", "wp.bvh_query_aabb", "wp.bvh_query_next", "bounds", "1.0 / float({item} + 1)", "BVH boxes"),
    "mesh_aabb": ("mesh", "wp.mesh_query_aabb", "wp.mesh_query_aabb_next", "face", "float({item} + 1)", "mesh faces"),
}


def box_query(kb: KernelBuilder, kind: str) -> None:
    """The items (BVH boxes, mesh faces) whose bounds overlap a box around a point, iterated with
    ``while <next>(query, item):`` and summed."""
    handle_kind, query_func, next_func, item_name, step, words = BOX_QUERIES[kind]
    target, p = handle(kb, handle_kind), _point(kb)
    half = kb.rng.choice(("0.25", "0.5", "1.0"))
    query, item, total = kb.fresh("query"), kb.fresh(item_name), kb.fresh("s")
    if kind == "bvh" and kb.chance("bvh_ray"):  # the boxes a ray from the point passes through
        direction = kb.fresh("t")
        kb.emit(f"{direction} = wp.vec3({kb.rng.choice(('0.0, 0.0, 1.0', '1.0, 0.0, 0.0', '0.0, -1.0, 0.0'))})")
        kb.emit(f"{query} = wp.bvh_query_ray({target.code}, {p.code}, {direction})", target, p)
        query_func, words = "wp.bvh_query_ray", "BVH boxes along a ray"
    else:
        low, high = f"{p.code} - wp.vec3({half})", f"{p.code} + wp.vec3({half})"
        kb.emit(f"{query} = {query_func}({target.code}, {low}, {high})", target, p)
    kb.emit(f"{item} = int(0)")
    kb.emit(f"{total} = float(0.0)")
    kb.emit(f"while {next_func}({query}, {item}):", kind="while")
    kb.emit(f"    {total} += {step.format(item=item)}")
    kb.say(f"sums over the {words} within {half} of {p.phrase} into {total}")
    kb.new_local(total, "float32", (query_func.removeprefix("wp."),))


def volume(kb: KernelBuilder, points: str) -> None:
    """A volume sampled at a point: world to index space, then a sample, gradient or lookup."""
    vol, p = handle(kb, "volume"), _point(kb)
    uvw, value = kb.fresh("uvw"), kb.fresh("s")
    mode = kb.rng.choice(("LINEAR", "CLOSEST"))
    kb.emit(f"{uvw} = wp.volume_world_to_index({vol.code}, {p.code})", vol, p)
    form = kb.rng.choice((0, 0, 1, 2))  # mostly a sample, as real code samples volumes
    # The typed builtins (volume_sample_f) or the generic ones with a dtype (volume_sample).
    suffix, dtype = kb.rng.choice((("_f", ""), ("", ", dtype=float")))
    if form == 0:
        kb.emit(f"{value} = wp.volume_sample{suffix}({vol.code}, {uvw}, wp.Volume.{mode}{dtype})")
    elif form == 1:
        grad, sampled = kb.fresh("g"), kb.fresh("t")
        kb.emit(f"{grad} = wp.vec3()")
        kb.emit(f"{sampled} = wp.volume_sample_grad{suffix}({vol.code}, {uvw}, wp.Volume.{mode}, {grad}{dtype})")
        kb.emit(f"{value} = {sampled} + wp.length({grad})")
    else:
        looked, world = kb.fresh("t"), kb.fresh("t")
        kb.emit(f"{looked} = wp.volume_lookup{suffix}({vol.code}, 1, 2, 3{dtype})")
        kb.emit(f"{world} = wp.volume_index_to_world({vol.code}, {uvw})")
        kb.emit(f"{value} = {looked} + {world}[0]")
    kb.say(f"sets {value} to the volume sampled at {p.phrase}")
    kb.new_local(value, "float32", ("volume_sample",))


QUERIES: dict[str, Callable[[KernelBuilder, str], None]] = {
    "mesh_point": mesh_point,
    "mesh_ray": mesh_ray,
    "hash_grid": hash_grid,
    "bvh": lambda kb, points: box_query(kb, "bvh"),
    "mesh_aabb": lambda kb, points: box_query(kb, "mesh_aabb"),
    "volume": volume,
}

# Box queries keep a traversal stack per thread in shared memory: two in one kernel need more than
# a GPU block has at block_dim 256 (ptxas: 0x10400 bytes, 0xc000 max), which a PTX compile never sees.
SHARED_STACK = {"bvh", "mesh_aabb"}


def draw_idioms(rng: random.Random, policy: Policy) -> list[str]:
    """One query idiom, sometimes two; never two that each keep a shared-memory stack."""
    first = rng.choice(sorted(QUERIES))
    if not policy.chance(rng, "second_query"):
        return [first]
    others = [q for q in sorted(QUERIES) if q != first and not {q, first} <= SHARED_STACK]
    return [first, rng.choice(others)]
