"""The user's cache folder: ``WARP_IR_PAIRS_CACHE``, else ``~/.cache/warp-ir-pairs``. It holds what
is slow to make and the same from build to build: the measured reference of Warp's own kernels,
the packages a real build downloads, and Warp's precompiled headers for CPU builds
(``backend/header.py``)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("WARP_IR_PAIRS_CACHE") or Path.home() / ".cache" / "warp-ir-pairs")
