"""Assembling PTX without a GPU or a CUDA driver: nvJitLink, the CUDA toolkit's JIT linker (ptxas is
inside it), from the ``nvidia-nvjitlink`` wheel of the same release as Warp's NVRTC (the ``ptx``
extra). The driver assembles PTX with the same ptxas when it loads a module; this is how the
evaluation harness scores ``compiles`` for ``ptx`` targets on any machine.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

PACKAGE = "nvidia-nvjitlink"  # the wheel that carries libnvJitLink.so
API = "13_0"  # the API version every 13.x library exports (``__nvJitLinkCreate_13_0``, ...)
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


def available() -> bool:
    """Whether PTX can be assembled here (the ``nvidia-nvjitlink`` wheel is installed)."""
    return _library() is not None


def _call(name: str, *args) -> int:
    return getattr(_library(), f"__nvJitLink{name}_{API}")(*args)


def assemble(ptx: str, arch: int) -> int:
    """Assemble ``ptx`` for ``sm_<arch>`` as the driver would when loading it; return the size of
    the machine code. Raises ``CompileError`` with ptxas's first error when it does not assemble."""
    from generation.backend.warp_api import CompileError

    if not available():
        raise RuntimeError(f"assembling PTX needs the {PACKAGE} wheel: pip install 'warp-ir-pairs[ptx]'")
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
        return size.value
    finally:
        _call("Destroy", ctypes.byref(handle))


def _first_error(handle: ctypes.c_void_p) -> str:
    size = ctypes.c_size_t()
    _call("GetErrorLogSize", handle, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value + 1)
    _call("GetErrorLog", handle, log)
    lines = [line.strip() for line in log.value.decode(errors="replace").splitlines() if line.strip()]
    return next((line for line in lines if "error" in line.lower()), lines[0] if lines else "no message")
