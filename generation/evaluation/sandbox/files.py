"""The ``landlock`` layer: a child reads only what compiling and running need, writes only its own
folder, and signals, connects and binds nothing outside itself (Landlock, through ``landlockpy``).

Applied after ``fork``, in the child, before any candidate code runs; it holds for the rest of the
child's life, and for anything it could still start. Rights the kernel's Landlock ABI lacks are left
out (``landlockpy``'s best effort): ABI 1 confines files, 4 adds TCP, 6 adds signals and abstract
UNIX sockets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

ABI_FOR = {"files": 1, "TCP": 4, "signals": 6}  # what each Landlock ABI adds that this layer uses


def abi() -> int:
    """The kernel's Landlock ABI, 0 where there is none (or ``landlockpy`` is not installed)."""
    try:
        import landlockpy
    except ImportError:
        return 0
    return landlockpy.abi_version()


def confine_files(own: str, reads: Iterable[str]) -> None:
    """Restrict this process: read (never execute) ``reads`` (files or folders), read and write
    ``own`` (a folder), nothing else; no TCP; no signal to, and no abstract socket of, any process
    outside its own domain."""
    import landlockpy as landlock

    level = landlock.abi_version()
    every = landlock.fs_for_abi(level)
    read_file = landlock.AccessFS.READ_FILE
    with landlock.Ruleset(
        handled_fs=every, handled_net=landlock.net_for_abi(level), scoped=landlock.scope_for_abi(level)
    ) as ruleset:
        for path in reads:
            if os.path.exists(path):  # a folder's rights include listing it; a file takes file rights only
                ruleset.allow_path(path, read_file | landlock.AccessFS.READ_DIR if os.path.isdir(path) else read_file)
        ruleset.allow_path(own, every & ~landlock.AccessFS.EXECUTE)
        ruleset.restrict()
