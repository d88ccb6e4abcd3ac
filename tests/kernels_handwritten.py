"""Hand-written kernels that the generator does not make: structs, helpers, 2D launches, overloads."""

from typing import Any

import warp as wp


@wp.struct
class Particle:
    pos: wp.vec3
    mass: float


@wp.func
def kinetic(p: Particle, v: wp.vec3):
    return 0.5 * p.mass * wp.dot(v, v)


@wp.kernel
def energy(particles: wp.array(dtype=Particle), vel: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = kinetic(particles[i], vel[i])


@wp.kernel
def blur(src: wp.array2d(dtype=float), dst: wp.array2d(dtype=float)):
    i, j = wp.tid()
    n = src.shape[0]
    m = src.shape[1]
    acc = float(0.0)
    for di in range(-1, 2):
        ii = wp.clamp(i + di, 0, n - 1)
        jj = wp.clamp(j, 0, m - 1)
        acc += src[ii, jj]
    dst[i, j] = acc / 3.0


@wp.kernel(enable_backward=False)
def count_positive(x: wp.array(dtype=float), count: wp.array(dtype=int)):
    i = wp.tid()
    if x[i] > 0.0:
        wp.atomic_add(count, 0, 1)


@wp.kernel
def scale_any(a: Any, s: float):
    i = wp.tid()
    a[i] = a[i] * s


wp.overload(scale_any, [wp.array(dtype=float), float])
wp.overload(scale_any, [wp.array(dtype=wp.vec3), float])


@wp.func
def potential(d: wp.vec3):
    return 1.0 / (wp.dot(d, d) + 0.01)


@wp.kernel(enable_backward=False)
def repel(x: wp.array(dtype=wp.vec3), f: wp.array(dtype=wp.vec3)):
    """Forces as the gradient of a potential: ``wp.grad`` calls the helper's adjoint in the forward pass."""
    i = wp.tid()
    f[i] = -wp.grad(potential)(x[i])


@wp.func
def slope(x: wp.vec3):
    """A helper that takes a gradient: Warp emits no adjoint for it."""
    return wp.grad(potential)(x)


@wp.kernel
def descend(x: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    out[i] = x[i] - 0.1 * slope(x[i])
