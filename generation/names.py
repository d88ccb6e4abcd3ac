"""Error lines for a name that is not one of the allowed ones: what was given, what is allowed, and
the closest allowed name when one is close (a typo)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def unknown(kind: str, given: object, allowed: Iterable[str]) -> str:
    """``unknown config 'cdua'; allowed configs are [...]; did you mean 'cuda'?``"""
    allowed = list(allowed)
    close = difflib.get_close_matches(str(given), allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {given!r}; allowed {kind}s are {allowed}{hint}"
