"""What planning made, kept so that building does not make it again.

Planning generates every draw to key its structure; building used to generate the selected ones a
second time. The scan now keeps each block's kernels on disk, compressed, one file per block, and
building reads a planned kernel back instead (about 0.05 ms against 0.9 ms to generate it), with
the features the scan read from the tree it parsed for the structure key (the build would parse
the source again for them). A
kernel is a pure function of the build's options and its draw index, so a block that is missing
(a further draw past the scanned ones, a file removed) or damaged is simply generated again, and
the rows are the same either way.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import uuid
import zlib
from pathlib import Path

from generation.pipeline.plan.model import BLOCK_SIZE, PlannedKernel
from generation.source.spec import KernelSpec

_FIELDS = [field.name for field in dataclasses.fields(KernelSpec)]
LEVEL = 1  # zlib: the fastest level; a kernel's source and description compress about 3x


# The offsets table at the start of a block's file: where each of its kernels starts, and the end.
_HEADER = struct.Struct(f"<{BLOCK_SIZE + 1}Q")


class KeptKernels:
    """Each scanned block's kernels in ``folder``, one file per block (``BLOCK.kernels``): a table of
    offsets, then each kernel compressed on its own, so one kernel is read without the others (the
    held-out splits take one kernel here and there from every block)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, block: int) -> Path:
        return self.folder / f"{block:07d}.kernels"

    def put(self, block: int, kernels: list[PlannedKernel]) -> None:
        """Keep ``block``'s kernels, in draw order; written under a temporary name, then moved into place."""
        blobs = [zlib.compress(json.dumps(_stored(kernel)).encode(), LEVEL) for kernel in kernels]
        offsets = [_HEADER.size]
        for blob in blobs:
            offsets.append(offsets[-1] + len(blob))
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{block:07d}.{uuid.uuid4().hex}.tmp"
        try:
            temporary.write_bytes(_HEADER.pack(*offsets) + b"".join(blobs))
            temporary.replace(self.path(block))
        finally:
            temporary.unlink(missing_ok=True)

    def get(self, index: int) -> PlannedKernel | None:
        """The kept kernel of draw ``index``, or None when its block was not kept or is damaged."""
        block, offset = divmod(index, BLOCK_SIZE)
        try:
            with open(self.path(block), "rb") as file:
                offsets = _HEADER.unpack(file.read(_HEADER.size))
                file.seek(offsets[offset])
                blob = file.read(offsets[offset + 1] - offsets[offset])
            fields, features = json.loads(zlib.decompress(blob))
            return PlannedKernel(index, KernelSpec(*fields), None if features is None else tuple(features))
        except (OSError, struct.error, zlib.error, ValueError, TypeError):  # generated again
            return None


def _stored(kernel: PlannedKernel) -> list:
    """What a kept file holds of a kernel (its index is its place in the block)."""
    return [[getattr(kernel.spec, name) for name in _FIELDS], kernel.features]
