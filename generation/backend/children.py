"""Child Python processes that import this package (import mode's child, the run check's), and the facts of a
process they are limited and measured by: its address space, its peak memory."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds ``generation``


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment with ``generation`` importable first, plus ``extra`` variables."""
    path = os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **extra)


def network_isolation_available() -> bool:
    """Whether children can run without network: ``unshare`` into a new user and network namespace."""
    if not shutil.which("unshare"):
        return False
    probe = ["unshare", "--user", "--map-root-user", "--net", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def address_space() -> int:
    """This process's address space in bytes: a memory limit is set above it."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_mb(pid: int | str = "self") -> int:
    """A process's peak resident memory in MB since it started its program (Linux's ``VmHWM``);
    elsewhere this process's ``ru_maxrss``, which Linux would carry over ``exec`` from the process
    that started it (a command started by a large process would report that one's peak)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 if pid == "self" else 0
