"""A predictions file read and checked: one JSON object per line, ``{"id": ROW_ID, "prediction":
TEXT}``, optionally with ``"sample": K`` for several samples of one row.

Everything wrong with the file is named in one error before anything is compiled: lines that are
not JSON objects with a string ``id`` and ``prediction`` (and an integer ``sample``), an id and
sample given twice, ids that are not in the split. Rows the file does not cover are scored as
wrong and counted, not refused.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

SHOWN = 5  # problems of one kind named in the error before "and N more"


def _named(kind: str, items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return f"{kind}: {', '.join(items[:SHOWN])}{more}"


def read_predictions(path: str | Path, row_ids: Collection[str]) -> dict[str, dict[int, str]]:
    """``{row_id: {sample: text}}`` from a JSONL file; raises ``ValueError`` naming every problem."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no predictions file at {path}")
    found: dict[str, dict[int, str]] = {}
    malformed, duplicates, unknown = [], [], []
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                malformed.append(f"line {number} ({error.msg})")
                continue
            problem = _record_problem(record)
            if problem:
                malformed.append(f"line {number} ({problem})")
                continue
            row_id, sample = record["id"], record.get("sample", 0)
            if row_id not in row_ids:
                unknown.append(repr(row_id))
            elif sample in found.setdefault(row_id, {}):
                duplicates.append(f"{row_id!r} sample {sample}")
            else:
                found[row_id][sample] = record["prediction"]
    problems = [
        _named(kind, items)
        for kind, items in (
            ("malformed lines", malformed),
            ("ids given twice", duplicates),
            ("ids not in the split", unknown),
        )
        if items
    ]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return {row_id: samples for row_id, samples in found.items() if samples}


def _record_problem(record) -> str:
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("id"), str):
        return 'no string "id"'
    if not isinstance(record.get("prediction"), str):
        return 'no string "prediction"'
    sample = record.get("sample", 0)
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        return '"sample" is not a whole number'
    return ""


def write_predictions(path: str | Path, predictions: dict[str, dict[int, str]]) -> None:
    """Write ``{row_id: {sample: text}}`` as the JSONL this module reads."""
    with open(path, "w", encoding="utf-8") as file:
        for row_id, samples in predictions.items():
            for sample, text in sorted(samples.items()):
                file.write(json.dumps({"id": row_id, "prediction": text, "sample": sample}) + "\n")
