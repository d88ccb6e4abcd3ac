"""Where kernels come from: the seeded grammar generator and the harvester of real files.

Nothing here imports Warp: kernels are Python source text until the backend imports them.
"""
