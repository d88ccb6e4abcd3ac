"""Warp's precompiled headers for Clang's CPU builds, made once per Warp install, CPU and kind of
build in the user's cache (``cache_dir()/headers``) by a one-off process that builds only a small
warm-up kernel, and read directly by every build that Clang lets read it. Two kinds: ``debug``, the
launches' debug build (the run check's and the evaluation's), made here, and ``check``, the compile
check's ``-O0`` build, made by ``compile_check`` (which builds its warm-up as it builds a batch).
A process that makes its own first runs Clang on Warp's whole prelude (about 1.5 s): each
evaluation worker at every start of ``eval`` and the reward did, and each run-check child; and in
Warp's own way a failed build deletes it, so the compile check made it again after each batch
that failed.

    python -m generation.backend.header PATH    # make the debug one at PATH (``shared_header`` runs this)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from generation.cache import cache_dir

logger = logging.getLogger(__name__)

MODE = "debug"  # the launches' builds: Warp's debug build, which checks every array access
CHECK = "check"  # the compile check's builds (made by ``compile_check``)
HEADERS = "headers"  # the cache's folder of headers: the evaluation's children may read it, nothing else of the cache
MAKE_SECONDS = 300  # the one-off process's limit: Clang on Warp's prelude takes a few seconds
WARM_UP = """
import warp as wp

@wp.kernel
def warm(a: wp.array(dtype=float)):
    a[wp.tid()] = 1.0
"""


def build_warm_up(kernel_cache: Path) -> None:
    """Build the warm-up kernel for CPU launches in ``MODE`` into an empty kernel cache, so that Clang
    really runs (making Warp's precompiled header, unless one is read directly). Raises
    ``warp_api.CompileError``."""
    import warp as wp

    from generation.backend import warp_api
    from generation.backend.source_module import kernel_named, loaded_source

    wp.config.kernel_cache_dir = str(kernel_cache)
    with loaded_source(WARM_UP) as module:
        warp_api.load_on_cpu(kernel_named(module, "warm"), MODE)


def read_directly(header: str, kernel_cache: Path) -> str:
    """Let this process's CPU builds read ``header`` directly (``warp_api.read_precompiled_header``),
    once a build of the warm-up kernel shows that Clang takes it. Returns "" then, or why Clang
    refused it, with Warp's own use of its header back in force. Builds link the header in the
    working folder (``warp_api.HEADER_LINK``)."""
    from generation.backend import warp_api

    warp_api.read_precompiled_header(header)
    try:
        build_warm_up(kernel_cache)
    except warp_api.CompileError as error:
        warp_api.read_precompiled_header("")
        if os.path.lexists(warp_api.HEADER_LINK):
            os.unlink(warp_api.HEADER_LINK)  # a later build links the header it reads
        return str(error)
    return ""


def make(path: Path, warm_up: Callable[[Path], None] | None = None) -> None:
    """Build the warm-up kernel in Warp's way (``warm_up(folder)``; by default for launches in
    ``MODE``) and keep the precompiled header it made at ``path``, written beside it and renamed, so
    that no build reads half of one."""
    from generation.backend import warp_api

    folder = Path(tempfile.mkdtemp(prefix="wirp_header_"))
    try:
        warp_api.init_warp()
        os.chdir(folder)
        (warm_up or (lambda scratch: build_warm_up(scratch / "kernels")))(folder)
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        shutil.copyfile(warp_api.precompiled_header_file(), partial)
        os.replace(partial, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _key(kind: str) -> str:
    """What the header depends on: Warp's version and headers (Clang refuses a header whose sources
    changed), the CPU (Warp compiles with ``-march=native``) and the kind of build."""
    warp_folder = importlib.util.find_spec("warp").submodule_search_locations[0]
    builtin = Path(warp_folder) / "native" / "builtin.h"
    try:
        cpu = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        cpu = ""
    parts = [importlib.metadata.version("warp-lang"), warp_folder, str(builtin.stat().st_mtime_ns), cpu, kind]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def shared_header(kind: str = MODE, maker: str = __name__) -> str:
    """The path of ``kind``'s header, made now where it is missing by ``python -m maker PATH``; ""
    where it cannot be made (builds then make their own in Warp's way, as before)."""
    from generation.backend.children import child_environment

    path = cache_dir() / HEADERS / f"warp-{importlib.metadata.version('warp-lang')}-{kind}-{_key(kind)}.pch"
    if path.is_file():
        return str(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="wirp_header_") as scratch:
            subprocess.run(
                [sys.executable, "-m", maker, str(path)],
                env=child_environment(TMPDIR=scratch, WARP_CACHE_PATH=scratch),
                cwd=scratch,
                capture_output=True,
                timeout=MAKE_SECONDS,
                check=True,
            )
    except (OSError, subprocess.SubprocessError) as error:
        logger.debug("no shared precompiled header (builds make their own): %s", error)
        return ""
    return str(path) if path.is_file() else ""


if __name__ == "__main__":
    make(Path(sys.argv[1]))
