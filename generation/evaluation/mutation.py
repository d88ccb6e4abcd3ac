"""Seeded mutants of a reference target, to measure the harness as mutation testing measures a
test suite: each mutant changes one thing in the kernel's forward pass.

Each kind of mutation is a finder (the sites it can change) and an edit, in one table per
language; a row's sites are listed in order and one is drawn with a seed, so the same seed and
row always give the same mutant. A ``Mutant`` records what was changed, for the report.
"""

from __future__ import annotations

import ast
import random
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from generation.backend import ptx


@dataclass(frozen=True)
class Mutant:
    code: str
    kind: str  # operator, constant, index, dropped, swapped
    change: str  # the text before -> after, for the report


@dataclass(frozen=True)
class Site:
    start: int
    end: int
    replacement: str
    kind: str


# Warp's C++ builtins swapped for another of the same arity and types.
CPP_OPERATORS = {
    "wp::add": "wp::sub",
    "wp::sub": "wp::add",
    "wp::mul": "wp::add",
    "wp::div": "wp::mul",
    "wp::min": "wp::max",
    "wp::max": "wp::min",
    "wp::sin": "wp::cos",
    "wp::cos": "wp::sin",
    "wp::sqrt": "wp::abs",
    "wp::exp": "wp::abs",
}
CPP_COMPARISONS = {" < ": " > ", " > ": " < ", " <= ": " >= ", " >= ": " <= ", " == ": " != ", " != ": " == "}


# The line that opens the forward kernel: a C++ or CUDA function, or a PTX entry.
FORWARD_HEADERS = {
    "cpp": r"^.*\w_c(?:pu|uda)_kernel_forward\(.*$",
    "ptx": ptx.entry_header(r"\w+_cuda_kernel_forward"),
}


def _forward_function(code: str, language: str = "cpp") -> tuple[int, int]:
    """Where the forward kernel's body lies in C++, CUDA or PTX code."""
    header = re.search(FORWARD_HEADERS[language], code, re.M)
    if not header:
        raise ValueError(f"no forward kernel in the {language} code")
    end = code.find("\n}", header.end())
    return header.end(), end if end >= 0 else len(code)


def _cpp_sites(code: str) -> list[Site]:
    start, end = _forward_function(code)
    body = code[start:end]
    sites: list[Site] = []
    for match in re.finditer(r"\b(wp::\w+)\(", body):
        if match.group(1) in CPP_OPERATORS:
            sites.append(Site(start + match.start(1), start + match.end(1), CPP_OPERATORS[match.group(1)], "operator"))
    for match in re.finditer(r"\(var_\w+( [<>=!]=? )var_\w+\)", body):
        operator = match.group(1)
        if operator in CPP_COMPARISONS:
            sites.append(Site(start + match.start(1), start + match.end(1), CPP_COMPARISONS[operator], "operator"))
    for match in re.finditer(r"^\s*const wp::\w+ var_\w+ = (-?[\d.]+(?:e[-+]?\d+)?)f?;", body, re.M):
        value = match.group(1)
        changed = str(int(value) + 1) if re.fullmatch(r"-?\d+", value) else repr(float(value) + 1.0)
        sites.append(Site(start + match.start(1), start + match.end(1), changed, "constant"))
    for match in re.finditer(r"wp::address\((var_\w+), (var_\w+)\)", body):
        sites.append(Site(start + match.start(2), start + match.end(2), "0", "index"))
    for match in re.finditer(r"^[ \t]*(?:wp::array_store|wp::atomic_\w+)\(.*\);$", body, re.M):
        sites.append(Site(start + match.start(), start + match.end(), "", "dropped"))
    for match in re.finditer(r"\b(?:wp::(?:sub|div|min|max|pow|atan2))\((var_\w+), (var_\w+)\)", body):
        first, second = match.group(1), match.group(2)
        if first != second:
            sites.append(Site(start + match.start(1), start + match.end(2), f"{second}, {first}", "swapped"))
    return sites


# PTX's floating-point instructions swapped for another of the same operands (rounding and type
# suffixes kept), and float comparisons reversed (their unordered forms too: ``ltu`` -> ``gtu``).
# Of the integer instructions only min and max: the rest are mostly address and loop arithmetic.
PTX_OPERATORS = {"add": "sub", "sub": "add", "mul": "add", "div": "mul", "min": "max", "max": "min"}
PTX_COMPARISONS = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le", "eq": "ne", "ne": "eq"}
PTX_FLOAT = r"(?:\.r[nzmp])?(?:\.ftz)?\.f(?:16|32|64)\b"


def _float_bits_plus_one(literal: str) -> str:
    """A PTX float literal (``0f3F800000``, ``0d3FF0000000000000``) with 1.0 added to its value."""
    single = literal[1] == "f"
    kind, width = ("f", 8) if single else ("d", 16)
    value = struct.unpack(">" + kind, bytes.fromhex(literal[2:]))[0] + 1.0
    return f"0{literal[1]}{struct.pack('>' + kind, value).hex().upper():0>{width}}"


def _ptx_sites(code: str) -> list[Site]:
    start, end = _forward_function(code, "ptx")
    body = code[start:end]
    sites: list[Site] = []
    for match in re.finditer(rf"^\s*({'|'.join(PTX_OPERATORS)}){PTX_FLOAT}", body, re.M):
        sites.append(Site(start + match.start(1), start + match.end(1), PTX_OPERATORS[match.group(1)], "operator"))
    for match in re.finditer(r"^\s*(min|max)\.[su](?:16|32|64)\b", body, re.M):
        sites.append(Site(start + match.start(1), start + match.end(1), PTX_OPERATORS[match.group(1)], "operator"))
    for match in re.finditer(r"^\s*setp\.(lt|gt|le|ge|eq|ne)(u?)\.f(?:16|32|64)\b", body, re.M):
        sites.append(Site(start + match.start(1), start + match.end(1), PTX_COMPARISONS[match.group(1)], "operator"))
    for match in re.finditer(r"\b0(?:f[0-9A-F]{8}|d[0-9A-F]{16})\b", body):
        changed = _float_bits_plus_one(match.group())
        if changed != match.group():  # infinities and NaNs stay what they are
            sites.append(Site(start + match.start(), start + match.end(), changed, "constant"))
    for match in re.finditer(r"^[ \t]*(?:st|red|atom)\.global\..*;$", body, re.M):
        sites.append(Site(start + match.start(), start + match.end(), "", "dropped"))
    for match in re.finditer(rf"^\s*(?:sub|div){PTX_FLOAT}\s+%\w+,\s*(%\w+),\s*(%\w+);", body, re.M):
        first, second = match.group(1), match.group(2)
        if first != second:
            sites.append(Site(start + match.start(1), start + match.end(2), f"{second}, {first}", "swapped"))
    return sites


PY_OPERATORS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.Div: ast.Mult,
    ast.Lt: ast.Gt,
    ast.Gt: ast.Lt,
    ast.LtE: ast.GtE,
    ast.GtE: ast.LtE,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}


def _replaced(node: ast.AST, change: Callable[[ast.AST], None]) -> str:
    copy = ast.parse(ast.unparse(node), mode="eval").body
    change(copy)
    return ast.unparse(copy)


def _python_sites(source: str, kernel_name: str) -> list[Site]:
    tree = ast.parse(source)
    kernel = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == kernel_name)
    offsets = [0]
    for line in source.splitlines(True):
        offsets.append(offsets[-1] + len(line))

    def span(node: ast.AST) -> tuple[int, int]:
        return offsets[node.lineno - 1] + node.col_offset, offsets[node.end_lineno - 1] + node.end_col_offset

    sites: list[Site] = []
    for node in ast.walk(kernel):
        if isinstance(node, ast.BinOp) and type(node.op) in PY_OPERATORS:
            new = _replaced(node, lambda copy: setattr(copy, "op", PY_OPERATORS[type(copy.op)]()))
            sites.append(Site(*span(node), f"({new})", "operator"))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in PY_OPERATORS:
            new = _replaced(node, lambda copy: setattr(copy, "ops", [PY_OPERATORS[type(copy.ops[0])]()]))
            sites.append(Site(*span(node), f"({new})", "operator"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.col_offset >= 0:
            value = node.value + 1  # never the value itself (x * 2 + 1 would keep -1.0)
            sites.append(Site(*span(node), repr(value), "constant"))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Name):
            sites.append(Site(*span(node.slice), "0", "index"))
        elif isinstance(node, ast.Call) and len(node.args) == 2 and not node.keywords:
            first, second = (ast.get_source_segment(source, arg) for arg in node.args)
            if first and second and first != second:
                sites.append(Site(span(node.args[0])[0], span(node.args[1])[1], f"{second}, {first}", "swapped"))
    for statement in ast.walk(kernel):  # stores and calls for their effect: nothing reads them later
        stores = isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Subscript)
        if (stores or isinstance(statement, (ast.AugAssign, ast.Expr))) and statement.lineno == statement.end_lineno:
            start, end = span(statement)
            sites.append(Site(start, end, "pass", "dropped"))
    return sites


# Each language's site finder, given the code and the kernel's name (which only Python needs).
SITES: dict[str, Callable[[str, str], list[Site]]] = {
    "cpp": lambda code, kernel_name: _cpp_sites(code),
    "ptx": lambda code, kernel_name: _ptx_sites(code),
    "python": _python_sites,
}


def mutate(code: str, language: str, seed: int, row_id: str, kernel_name: str = "") -> Mutant | None:
    """One seeded mutant of ``code`` (``language`` "cpp" for C++/CUDA, "ptx", "python"), or None
    when the code offers nothing to change."""
    sites = SITES[language](code, kernel_name)
    if not sites:
        return None
    site = random.Random(seed * 1_000_003 + zlib.crc32(row_id.encode())).choice(sites)
    before = code[site.start : site.end]
    mutated = code[: site.start] + site.replacement + code[site.end :]
    return Mutant(mutated, site.kind, f"{before.strip()} -> {site.replacement or '(dropped)'}")
