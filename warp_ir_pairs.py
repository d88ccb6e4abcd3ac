"""warp-ir-pairs: NVIDIA Warp kernels paired with the C++ and CUDA code Warp generates for them.

The dataset script: ``load_dataset("./warp_ir_pairs.py", "cuda", trust_remote_code=True)`` on
``datasets`` 3.6. All the work is in the ``generation`` package (``generation/hub/builder.py``).
"""

from generation.hub import builder


class WarpIRPairs(builder.WarpIRPairs):
    """Warp kernels and their generated code (configs cpu, cuda, ptx, real_cpu, real_cuda)."""
