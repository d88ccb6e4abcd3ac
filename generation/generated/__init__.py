"""Kernels made by the seeded generator: a typed expression grammar, a kernel builder, idiom and
query families, and the categories that draw from them. No Warp import: kernels are source text."""
