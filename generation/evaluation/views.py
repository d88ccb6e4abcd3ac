"""From a model's completion to code: the fences taken off, a view's placeholders filled back from
the row, and the reference a prediction is compared with under the same view.

The SFT helper's views (``training/sft.py``) change only what a model sees: ``compact`` drops
comments, so compact code compiles as it is; ``placeholders`` writes ``HASH`` and ``MODULE`` for
names no model could derive, and those are put back here from the row before anything is compiled.
"""

from __future__ import annotations

import re
from typing import Any

from generation.names import unknown
from generation.training import sft

VIEWS = ("compact", "placeholders")
FENCE_OPEN = re.compile(r"\A\s*```[\w+-]*[ \t]*\n")
WORD = re.compile(r"\w+")


def check_views(views: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    strange = [view for view in views if view not in VIEWS]
    if strange:
        raise ValueError(unknown("view", strange[0], VIEWS))
    return tuple(views)


def code_of(completion: str) -> str:
    """The code in a completion: without an opening fence (a ``messages`` answer starts with one)
    and without the closing fence and anything after it; bare code is returned as it is."""
    text = FENCE_OPEN.sub("", completion, count=1)
    closing = re.search(r"(?m)^[ \t]*```", text)
    return (text[: closing.start()] if closing else text).strip("\n")


def target_text(row: dict[str, Any], task: str, views: tuple[str, ...] = ()) -> str:
    """The reference a prediction is compared with: the task's target column, compacted under
    ``compact`` (placeholders are filled back into the prediction instead)."""
    column = sft.TASKS[task].target
    text = row[column].strip("\n")
    if "compact" in views and column != "python_source" and row["device"] != "ptx":
        text = sft.compact(text).strip("\n")
    return text


def filled_back(prediction: str, row: dict[str, Any]) -> str:
    """``prediction`` with the ``placeholders`` view undone: each word the view changed in the row
    (``saxpy_HASH_cpu_kernel_forward``, ``MODULE``) becomes the row's word again. Words the row
    does not hold stay as the model wrote them."""
    replacements = sft.placeholder_map(row)
    back: dict[str, str] = {}
    for column in ("code", "python_source"):
        original = WORD.findall(row[column])
        shown = WORD.findall(sft._replace_all(row[column], replacements))
        if len(original) == len(shown):  # a hash is a whole word's part: words pair up one to one
            for word, placeholder in zip(original, shown, strict=True):
                if word != placeholder:
                    back.setdefault(placeholder, word)
    return WORD.sub(lambda match: back.get(match.group(), match.group()), prediction) if back else prediction


# What the ``placeholders`` view writes where a row holds a content hash or its module's name.
PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9])(HASH|MODULE)(?![A-Za-z0-9])")


def check_placeholders(
    source: str, texts: dict[str, dict[int, str]], rows: dict[str, dict[str, Any]], views: tuple[str, ...]
) -> None:
    """Refuse predictions written in the ``placeholders`` view when the evaluation was not told so:
    their ``HASH`` and ``MODULE`` names would compile nowhere and every score would be a silent 0."""
    if "placeholders" in views:
        return
    holding = [
        row_id
        for row_id, samples in texts.items()
        if any(PLACEHOLDER.search(text) for text in samples.values())
        and not PLACEHOLDER.search(rows[row_id]["code"] + rows[row_id]["python_source"])
    ]
    if holding:
        raise ValueError(
            f"{len(holding)} of the {len(texts)} predictions of {source!r} write HASH or MODULE where their rows "
            f"hold real names (row {holding[0]!r}): they were made in the placeholders view; pass it as the SFT "
            "export did (--view placeholders, or views=['placeholders'])"
        )


def prediction_code(completion: str, row: dict[str, Any], views: tuple[str, ...] = ()) -> str:
    """The code a completion holds, as it is compiled and compared."""
    code = code_of(completion)
    return filled_back(code, row) if "placeholders" in views else code
