"""Reading NVRTC's PTX: kernel entry points and the versions it records."""

from __future__ import annotations

import re


def entry(ptx: str, name: str) -> str:
    """The ``.visible .entry name(...) { ... }`` function of ``ptx``, or "" when absent."""
    start = ptx.find(f".visible .entry {name}(")
    if start < 0:
        return ""
    end = ptx.find("\n}\n", start)
    if end < 0:
        raise ValueError(f"PTX entry {name!r} has no closing brace")
    return ptx[start : end + 2]


def entry_header(name: str = r"\w+") -> str:
    """A pattern (multiline) for the line that opens a kernel entry point whose name matches ``name``."""
    return rf"^\.visible \.entry ({name})\("


def entry_names(ptx: str) -> list[str]:
    """The kernel entry points ``ptx`` defines, in order."""
    return re.findall(entry_header(), ptx, re.M)


def isa_version(ptx: str) -> str:
    """The PTX ISA version (``.version 9.4``)."""
    match = re.search(r"^\.version (\S+)$", ptx, re.M)
    return match.group(1) if match else ""


def compiler_version(ptx: str) -> str:
    """The CUDA compiler release NVRTC names in the PTX header (``13.4, V13.4.92``)."""
    match = re.search(r"^// Cuda compilation tools, release (.+)$", ptx, re.M)
    return match.group(1).strip() if match else ""
