"""Assembling PTX without a GPU or a CUDA driver: nvJitLink, the CUDA toolkit's JIT linker (ptxas is
inside it), from the ``nvidia-nvjitlink`` wheel of the same release as Warp's NVRTC (the ``ptx``
extra). The driver assembles PTX with the same ptxas when it loads a module; this is how the
evaluation harness scores ``compiles`` for ``ptx`` targets on any machine, and how it makes the
machine code a GPU runs (a driver older than Warp's NVRTC cannot assemble its PTX itself).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

PACKAGE = "nvidia-nvjitlink"  # the wheel that carries libnvJitLink.so
API = "13_0"  # the API version every 13.x library exports (``__nvJitLinkCreate_13_0``, ...)
# Warp 1.19's NVRTC release: its PTX is ISA 9.4, which an older ptxas rejects.
RELEASE = (13, 4)
INPUT_PTX = 2  # ``NVJITLINK_INPUT_PTX``


@functools.cache
def _library() -> ctypes.CDLL | None:
    try:
        import nvidia  # a namespace package: the CUDA wheels install into it
    except ImportError:
        return None
    for folder in nvidia.__path__:
        found = sorted(glob.glob(os.path.join(folder, "cu13", "lib", "libnvJitLink.so*")))
        if found:
            return ctypes.CDLL(found[0])
    return None


def version() -> tuple[int, int] | None:
    """nvJitLink's release, or None where it is not installed."""
    library = _library()
    if library is None:
        return None
    major, minor = ctypes.c_uint(), ctypes.c_uint()
    library.nvJitLinkVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def available() -> bool:
    """Whether Warp's PTX can be assembled here: nvJitLink is installed, of Warp's NVRTC release or newer."""
    found = version()
    return found is not None and found >= RELEASE


def _call(name: str, *args) -> int:
    return getattr(_library(), f"__nvJitLink{name}_{API}")(*args)


def assemble(ptx: str, arch: int) -> bytes:
    """Assemble ``ptx`` for ``sm_<arch>`` as the driver would when loading it; return the machine
    code (a cubin). Raises ``CompileError`` with ptxas's first error when it does not assemble."""
    from generation.backend.warp_api import CompileError

    if not available():
        needed = ".".join(map(str, RELEASE))
        raise RuntimeError(f"assembling Warp's PTX needs {PACKAGE} {needed} or newer (found {version()})")
    handle = ctypes.c_void_p()
    options = (ctypes.c_char_p * 1)(f"-arch=sm_{arch}".encode())
    if _call("Create", ctypes.byref(handle), 1, options) != 0:
        raise RuntimeError(f"nvJitLink does not accept -arch=sm_{arch}")
    try:
        data = ptx.encode()
        failed = _call("AddData", handle, INPUT_PTX, data, ctypes.c_size_t(len(data)), b"candidate.ptx")
        failed = failed or _call("Complete", handle)
        if failed:
            raise CompileError(f"ptx assembly failed: {_first_error(handle)}")
        size = ctypes.c_size_t()
        _call("GetLinkedCubinSize", handle, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        _call("GetLinkedCubin", handle, cubin)
        return cubin.raw
    finally:
        _call("Destroy", ctypes.byref(handle))


def _first_error(handle: ctypes.c_void_p) -> str:
    size = ctypes.c_size_t()
    _call("GetErrorLogSize", handle, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value + 1)
    _call("GetErrorLog", handle, log)
    lines = [line.strip() for line in log.value.decode(errors="replace").splitlines() if line.strip()]
    return next((line for line in lines if "error" in line.lower()), lines[0] if lines else "no message")
