"""Supervised fine-tuning formats: rows turned into TRL's ``prompt``/``completion`` columns or
conversational ``messages``, for three tasks (Python to forward code, Python to the whole code,
and back from forward code to Python).

The prompt names everything that decides the target besides the source (Warp version, device,
block_dim, arch), so the target is a function of the prompt. Two optional views make targets
easier to learn; both are marked in the ``derived`` column and never touch the built rows:

- ``compact``: the lines Warp writes to echo each Python line (``// ... <L n>``, padded to a column:
  the alignment padding) and the ``// file:line`` comment above each helper are dropped; every
  other line stays as Warp wrote it;
- ``placeholders``: the content hashes in kernel and struct names (``saxpy_2f51673c``) and the
  module name (``wirp_<16 hex>``) become ``HASH`` and ``MODULE``, which no model could derive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import datasets

from generation.names import unknown


@dataclass(frozen=True)
class Task:
    """One direction of translation: the column shown in the prompt and the column to write."""

    source: str
    target: str
    instruction: str  # formatted with the row's facts: language, warp_version, build


TASKS = {
    "python_to_forward": Task(
        "python_source",
        "forward",
        "Write the {language} forward pass that NVIDIA Warp {warp_version} generates for this kernel ({build}), "
        "with the structs and helper functions it uses.",
    ),
    "python_to_code": Task(
        "python_source",
        "code",
        "Write all the {language} code that NVIDIA Warp {warp_version} generates for this kernel ({build}).",
    ),
    "forward_to_python": Task(
        "forward",
        "python_source",
        "Write the NVIDIA Warp kernel, as a complete Python module, that Warp {warp_version} compiles to this "
        "{language} forward pass ({build}).",
    ),
}
STYLES = ("prompt_completion", "messages")
LANGUAGE = {"cpu": "C++", "cuda": "CUDA", "ptx": "PTX"}
FENCE = {"python_source": "python", "cpu": "cpp", "cuda": "cuda", "ptx": "ptx"}

# The prompt of the ``prompt_completion`` style; the completion is the target and a closing fence,
# so a model learns where to stop. ``messages`` puts the same text, fenced, in a user and an
# assistant turn.
PROMPT_TEMPLATE = "{instruction}\n\n```{source_fence}\n{source}\n```\n\n```{target_fence}\n"
COMPLETION_TEMPLATE = "{target}\n```"

# Each pattern starts at a newline and has a literal to search for: about 60 us for 20 kB of CUDA.
ECHO_LINE = re.compile(r"\n *//[^\n<]*(?:<(?!L \d+>\n)[^\n<]*)*<L \d+>(?=\n)")
LOCATION_LINE = re.compile(r"\n// \S+\.py:\d+(?=\n)")
KERNEL_HASH = re.compile(r"_([0-9a-f]{8})_c(?:pu|uda)_kernel_")
STRUCT_HASH = re.compile(r"\nstruct \w+?_([0-9a-f]{8})\b")


def compact(code: str) -> str:
    """``code`` without the lines Warp writes to echo the Python source and its file locations."""
    return LOCATION_LINE.sub("", ECHO_LINE.sub("", "\n" + code))[1:]


def placeholder_map(row: dict[str, Any]) -> dict[str, str]:
    """What ``placeholders`` replaces in a row: its kernel and struct hashes and its module name."""
    hashes = set(KERNEL_HASH.findall(row["code"])) | set(STRUCT_HASH.findall(row["code"]))
    return {row["metadata"]["module_name"]: "MODULE", **dict.fromkeys(sorted(hashes), "HASH")}


def _replace_all(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


def build_facts(row: dict[str, Any]) -> str:
    """What besides the source decides the code: the device, block_dim and, for CUDA and PTX, the arch."""
    meta = row["metadata"]
    facts = [LANGUAGE[row["device"]] if row["device"] != "cpu" else "CPU", f"block_dim {meta['block_dim']}"]
    if row["device"] != "cpu":
        facts.append(f"sm_{meta['arch']}")
    return ", ".join(facts)


def format_row(
    row: dict[str, Any], task: str = "python_to_forward", style: str = "prompt_completion", **views: bool
) -> dict[str, Any]:
    """One row as an SFT example; ``views`` are ``compact`` and ``placeholders`` (see the module)."""
    spec = TASKS[task]
    texts = {column: row[column].strip("\n") for column in (spec.source, spec.target)}
    code_column = spec.target if spec.target != "python_source" else spec.source
    if views.get("compact") and row["device"] != "ptx":
        texts[code_column] = compact(texts[code_column]).strip("\n")
    if views.get("placeholders"):
        replacements = placeholder_map(row)
        texts = {column: _replace_all(text, replacements) for column, text in texts.items()}
    fences = {column: FENCE.get(column, FENCE[row["device"]]) for column in texts}
    instruction = spec.instruction.format(
        language=LANGUAGE[row["device"]], warp_version=row["metadata"]["warp_version"], build=build_facts(row)
    )
    prompt = PROMPT_TEMPLATE.format(
        instruction=instruction,
        source_fence=fences[spec.source],
        source=texts[spec.source],
        target_fence=fences[spec.target],
    )
    completion = COMPLETION_TEMPLATE.format(target=texts[spec.target])
    derived = ",".join(view for view in ("compact", "placeholders") if views.get(view))
    example = {"id": row["id"], "task": task, "derived": derived}
    if style == "messages":
        fence = "```" + fences[spec.target] + "\n"
        example["messages"] = [
            {"role": "user", "content": prompt[: -len(fence)].rstrip("\n")},
            {"role": "assistant", "content": fence + completion},
        ]
    else:
        example["prompt"], example["completion"] = prompt, completion
    return example


def check_format(task: str, style: str) -> None:
    if task not in TASKS:
        raise ValueError(unknown("task", task, TASKS))
    if style not in STYLES:
        raise ValueError(unknown("style", style, STYLES))


def formatter(task: str, style: str, **views: bool) -> Callable[[dict[str, list]], dict[str, list]]:
    """A batched ``Dataset.map`` function that formats rows for ``task`` in ``style``."""
    check_format(task, style)

    def format_batch(batch: dict[str, list]) -> dict[str, list]:
        rows = [dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)]
        examples = [format_row(row, task, style, **views) for row in rows]
        return {key: [example[key] for example in examples] for key in examples[0]} if examples else {}

    return format_batch


def to_sft(
    data: datasets.Dataset | datasets.DatasetDict,
    task: str = "python_to_forward",
    style: str = "prompt_completion",
    compact: bool = False,
    placeholders: bool = False,
    num_proc: int | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """A built dataset (any config, every split) as SFT examples for TRL's ``SFTTrainer``:
    ``prompt``/``completion`` or ``messages``, with the row's ``id``, the ``task`` and what was ``derived``."""
    columns = data.column_names
    columns = next(iter(columns.values())) if isinstance(columns, dict) else columns
    format_batch = formatter(task, style, compact=compact, placeholders=placeholders)
    return data.map(format_batch, batched=True, remove_columns=columns, num_proc=num_proc, desc=f"formatting {task}")
