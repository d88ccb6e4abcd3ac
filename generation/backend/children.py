"""Child Python processes that import this package: import mode's child and the run check's."""

from __future__ import annotations

import os
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
