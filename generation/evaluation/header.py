"""Warp's precompiled header for the evaluation workers' Clang builds, made once per Warp install and
CPU in the user's cache (``cache_dir()/headers``), by a one-off process that builds only the
worker's own warm-up kernel. A worker that reads it starts in about half a second; one that makes its
own runs Clang on Warp's whole prelude first (about 1.5 s), at every start of ``eval`` and the reward."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from generation.cache import cache_dir
from generation.evaluation.sandbox.layers import WORKER, worker_environment

logger = logging.getLogger(__name__)

HEADERS = "headers"  # the cache's folder of headers: the workers' children may read it, nothing else of the cache
MAKE_SECONDS = 300  # the one-off process's limit: Clang on Warp's prelude takes a few seconds


def _key() -> str:
    """What the header depends on: Warp's version and headers (Clang refuses a header whose sources
    changed), and the CPU (Warp compiles with ``-march=native``)."""
    warp_folder = importlib.util.find_spec("warp").submodule_search_locations[0]
    builtin = Path(warp_folder) / "native" / "builtin.h"
    try:
        cpu = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        cpu = ""
    parts = [importlib.metadata.version("warp-lang"), warp_folder, str(builtin.stat().st_mtime_ns), cpu]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def shared_header() -> str:
    """The header's path, made now where it is missing; "" where it cannot be made (the workers then
    make their own, as before)."""
    path = cache_dir() / HEADERS / f"warp-{importlib.metadata.version('warp-lang')}-{_key()}.pch"
    if path.is_file():
        return str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="wirp_header_") as scratch:
            subprocess.run(
                [sys.executable, "-m", WORKER, "--make-header", str(path)],
                env=worker_environment(scratch),  # none of the user's variables, as a worker's
                cwd=scratch,
                capture_output=True,
                timeout=MAKE_SECONDS,
                check=True,
            )
    except (OSError, subprocess.SubprocessError) as error:
        logger.debug("no shared precompiled header (each worker makes its own): %s", error)
        return ""
    return str(path) if path.is_file() else ""
