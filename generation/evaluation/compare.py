"""Outputs compared: a candidate's arrays against the reference's, and references too weak to tell.

A run saves every array argument before and after each launch (``execute.run_phase``), under
``SET/pre|post|adj_pre|adj_post/NAME``. Integers and booleans must match exactly; floats within a
tolerance set by their precision, relative to each value and to the array's scale (the median
magnitude of its nonzero values), so an output of 1e-6 is held to 1e-10, not to a fixed 1e-4 that
zeros would pass; a median, so a few large values do not loosen every other one (one empty row's
maximum of -1.0e6 made a mean of 1e5, and every value of the array passed within 10). NaNs must sit
in the same places, infinities must match.
"""

from __future__ import annotations

import numpy as np

# Relative tolerance by float precision: |candidate - reference| <= RTOL * (|reference| + scale), the
# scale the median |reference| over the array's nonzero finite values.
RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9}
OUTPUTS = ("post", "adj_post")  # what a launch wrote: the forward's arrays, the backward's adjoints


def outputs(arrays: dict[str, np.ndarray], input_sets: range) -> dict[str, np.ndarray]:
    """The arrays a launch left behind, for the given input sets."""
    return {
        key: value
        for key, value in arrays.items()
        if int(key.split("/", 1)[0]) in input_sets and key.split("/")[1] in OUTPUTS
    }


def mismatch(reference: np.ndarray, candidate: np.ndarray) -> str:
    """Why ``candidate`` does not match ``reference`` ("" when it does)."""
    if candidate.shape != reference.shape or candidate.dtype != reference.dtype:
        return (
            f"shape or type {candidate.dtype}{list(candidate.shape)}, expected {reference.dtype}{list(reference.shape)}"
        )
    if reference.dtype.kind != "f":
        same = np.array_equal(reference, candidate, equal_nan=reference.dtype.kind == "f")
        return "" if same else _first_difference(reference, candidate, reference != candidate)
    nan = np.isnan(reference)
    if not np.array_equal(nan, np.isnan(candidate)):
        return _first_difference(reference, candidate, nan != np.isnan(candidate))
    finite = np.isfinite(reference)
    if not np.array_equal(reference[~finite & ~nan], candidate[~finite & ~nan]):
        return "infinities differ"
    magnitudes = np.abs(reference[finite])
    magnitudes = magnitudes[magnitudes > 0]
    scale = float(np.median(magnitudes)) if magnitudes.size else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        off = finite & ~(np.abs(candidate - reference) <= RTOL[reference.dtype] * (np.abs(reference) + scale))
    return _first_difference(reference, candidate, off) if off.any() else ""


def _first_difference(reference: np.ndarray, candidate: np.ndarray, where: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(where)[0])
    found, wanted = candidate[index], reference[index]
    return f"{int(where.sum())} of {where.size} values differ; at {list(index)}: {found!r}, expected {wanted!r}"


def first_mismatch(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray], input_sets: range) -> str:
    """The first output that differs, as ``SET/KIND/NAME: why`` ("" when all match)."""
    expected = outputs(reference, input_sets)
    for key, value in expected.items():
        if key not in candidate:
            return f"{key}: missing"
        why = mismatch(value, candidate[key])
        if why:
            return f"{key}: {why}"
    return ""


def weak(reference: dict[str, np.ndarray], input_sets: range) -> str:
    """Why the reference's outputs cannot tell a kernel that does nothing from a right one ("" when
    they can): no launch changed any array, or every array a launch changed holds one value (all
    zeros, say) or nothing finite, in every input set."""
    changed = []
    for key, after in outputs(reference, input_sets).items():
        before = reference[key.replace("/post/", "/pre/").replace("/adj_post/", "/adj_pre/")]
        if not np.array_equal(before, after, equal_nan=after.dtype.kind == "f"):
            changed.append(after)
    if not changed:
        return "no launch changes any array"
    if all(_uninformative(after) for after in changed):
        return "every changed array holds a single value or nothing finite"
    return ""


def _uninformative(values: np.ndarray) -> bool:
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]
    flat = values.reshape(-1)
    return flat.size == 0 or bool((flat == flat[0]).all())
