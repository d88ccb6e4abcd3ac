"""Reading generated C++/CUDA the way a reader of a row would: which functions and structs a text
defines and uses, and whether it is made of verbatim slices of a row's ``code``. Written against
the text alone, not against ``generation``."""

from __future__ import annotations

import re

# A definition starts at column 0: ``static <type> name(`` (helpers, adjoints, CPU kernels),
# ``extern "C" __global__ void name(`` (CUDA kernels) or ``struct name``.
FUNCTION_DEFINITION = re.compile(r'^(?:static|extern "C")\b[^\n]*?\b(\w+)\($', re.M)
STRUCT_DEFINITION = re.compile(r"^struct (\w+)", re.M)
CALL = re.compile(r"\b(\w+)\(")
WORD = re.compile(r"\w+")


def defined(text: str) -> set[str]:
    return set(FUNCTION_DEFINITION.findall(text)) | set(STRUCT_DEFINITION.findall(text))


def missing_definitions(text: str, code: str) -> set[str]:
    """Functions ``text`` calls and structs it names that ``code`` defines and ``text`` does not."""
    elsewhere = set(FUNCTION_DEFINITION.findall(code)) - defined(text)
    structs = set(STRUCT_DEFINITION.findall(code)) - defined(text)
    return (elsewhere & set(CALL.findall(text))) | (structs & set(WORD.findall(text)))


def verbatim_slices(text: str, code: str) -> list[str]:
    """``text`` cut at blank lines into the fewest pieces that appear in ``code`` in order;
    raises AssertionError when it cannot be."""
    ends = [match.start() for match in re.finditer(r"\n\n", text)] + [len(text)]
    pieces, at, cursor = [], 0, 0
    while at < len(text):
        for end in reversed([end for end in ends if end > at]):  # the longest piece found after cursor
            found = code.find(text[at:end], cursor)
            if found >= 0:
                break
        else:
            raise AssertionError(f"not a slice of code: {text[at : at + 200]!r}")
        pieces.append(text[at:end])
        cursor, at = found + end - at, end + 2
    return pieces


def forward_body(forward: str) -> int:
    """Where a CPU kernel's forward function body starts (after its opening brace)."""
    header = re.search(r"^.*_cpu_kernel_forward\(", forward, re.M)
    return forward.index("\n{\n", header.end()) + len("\n{\n")
