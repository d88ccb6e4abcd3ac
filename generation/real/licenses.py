"""The licence of a harvested file: its ``SPDX-License-Identifier`` header, else the licence file
nearest to it under the harvested root, recognised by its text, else the build's default.

Only text is read; an unrecognised licence file gives the default, never a guess.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

# A header comment in the first lines of a file: ``# SPDX-License-Identifier: Apache-2.0``.
SPDX_HEADER = re.compile(r"^[ \t]*(?:#|//|/\*|\*)?[ \t]*SPDX-License-Identifier:[ \t]*([^\s*#][^\n*#]*?)[ \t]*$", re.M)
HEADER_LINES = 30
LICENSE_FILE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENSE.rst", "COPYING", "COPYING.txt")
# What a licence file must say to be recognised, most specific first (BSD-3 before BSD-2).
LICENSE_TEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Apache-2.0", ("Apache License", "Version 2.0")),
    ("MPL-2.0", ("Mozilla Public License", "2.0")),
    ("BSD-3-Clause", ("Redistribution and use in source and binary forms", "Neither the name")),
    ("BSD-2-Clause", ("Redistribution and use in source and binary forms",)),
    ("MIT", ("Permission is hereby granted, free of charge",)),
    ("ISC", ("Permission to use, copy, modify, and/or distribute this software for any purpose",)),
    ("Unlicense", ("This is free and unencumbered software released into the public domain",)),
)


def spdx_header(text: str) -> str | None:
    """The ``SPDX-License-Identifier`` of a file's header comment, if it has one."""
    head = "\n".join(text.splitlines()[:HEADER_LINES])
    match = SPDX_HEADER.search(head)
    return match.group(1) if match else None


@cache
def license_file_id(path: Path) -> str | None:
    """The SPDX id of a licence file, recognised by its text (``LICENSE_TEXTS``); None if not."""
    try:
        return license_text_id(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def license_text_id(text: str) -> str | None:
    """The SPDX id of a licence's text (``LICENSE_TEXTS``); None if it is not recognised."""
    text = " ".join(text.split())
    return next((spdx for spdx, needles in LICENSE_TEXTS if all(n in text for n in needles)), None)


def nearest_license_file(file: Path, root: Path) -> Path | None:
    """The licence file nearest to ``file``: in its folder, then each parent up to ``root``."""
    folder = file.parent
    while True:
        found = next((folder / name for name in LICENSE_FILE_NAMES if (folder / name).is_file()), None)
        if found or folder == root or root not in folder.parents:
            return found
        folder = folder.parent


def file_license(text: str, file: Path, root: Path, default: str) -> str:
    """A harvested file's licence: SPDX header, else the nearest licence file under ``root``, else ``default``."""
    header = spdx_header(text)
    if header:
        return header
    license_file = nearest_license_file(file, root)
    return (license_file_id(license_file) if license_file else None) or default
