"""Kernels harvested from real files: static reading (slices and cross-file bundles that run nothing
from the files), licences, and the parent side of import mode, whose child runs in the backend."""
