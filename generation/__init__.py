"""warp-ir-pairs: pairs of NVIDIA Warp kernels and the C++/CUDA code Warp generates for them."""

from generation.extract import extract_ir

__all__ = ["extract_ir"]
