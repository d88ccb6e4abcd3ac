"""Edits of source text by the positions ``ast`` gives (1-based lines, UTF-8 byte columns): a row's
module is written from its files' own lines, changed only where a name must change."""

from __future__ import annotations

import ast


def definition_name_edit(lines: list[str], statement: ast.stmt, final: str) -> tuple[int, int, int, int, str]:
    """The edit that renames a ``def``/``class`` statement's own name."""
    keyword = "def " if isinstance(statement, ast.FunctionDef) else "class "
    line = lines[statement.lineno - 1]
    col = len(line[: line.index(keyword) + len(keyword)].encode())
    return statement.lineno, col, statement.lineno, col + len(statement.name.encode()), final


def outermost(edits: list) -> list:
    spans = sorted(set(edits), key=lambda e: (e[0], e[1], -e[2], -e[3]))
    kept: list = []
    for edit in spans:
        if kept and (edit[0], edit[1]) < (kept[-1][2], kept[-1][3]):
            continue  # inside the previous edit
        kept.append(edit)
    return kept


def edited_text(lines: list[str], start: int, end: int, edits: list) -> str:
    """Lines ``start`` to ``end`` (1-based) with ``edits`` applied: (line, col, end line, end col,
    replacement), columns in UTF-8 bytes as ``ast`` gives them, none overlapping (``outermost``)."""
    text = [line.encode() for line in lines[start - 1 : end]]
    for line, col, end_line, end_col, replacement in reversed(sorted(edits)):
        first, last = line - start, end_line - start
        text[first : last + 1] = [text[first][:col] + replacement.encode() + text[last][end_col:]]
    return b"".join(text).decode().rstrip() + "\n"


NO_BACKWARD = 'wp.set_module_options({"enable_backward": False})\n'
WARP_IMPORT = "import warp as wp\n"


def without_backward(python_source: str) -> str:
    """The module with Warp's backward pass turned off, as its own text says it: the module option
    line goes right after ``import warp as wp`` (which is added, after the module's last top-level
    import, when the module lacks it). The one place a build's ``include_backward=False`` is applied."""
    lines = python_source.splitlines(True)
    if WARP_IMPORT not in lines:
        imports = [s for s in ast.parse(python_source).body if isinstance(s, (ast.Import, ast.ImportFrom))]
        at = imports[-1].end_lineno if imports else 0
        return "".join([*lines[:at], WARP_IMPORT, "\n", NO_BACKWARD, *lines[at:]])
    at = lines.index(WARP_IMPORT) + 1
    return "".join([*lines[:at], "\n", NO_BACKWARD, *lines[at:]])
