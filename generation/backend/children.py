"""Child Python processes that import this package: import mode's child and the run check's."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds ``generation``


def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment with ``generation`` importable first, plus ``extra`` variables."""
    path = os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **extra)
