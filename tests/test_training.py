"""SFT formats: prompts and completions built from real rows, the compact and placeholder views,
``to_sft`` over every split, the ``sft`` command on a build folder, and the tiny training example
(run when its optional packages are installed)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import datasets
import pytest
from conftest import REPO

from generation import cli
from generation.evaluation.predictions import write_predictions
from generation.training import sft


def rows_of(builds, config):
    return [row for split in builds[config].values() for row in split]


@pytest.mark.parametrize("config", ["cpu", "cuda"])
def test_python_to_forward_prompt_holds_the_source_and_completion_the_target(builds, config):
    for row in rows_of(builds, config):
        example = sft.format_row(row, "python_to_forward")
        assert example["prompt"].endswith(f"\n\n```{'cpp' if config == 'cpu' else 'cuda'}\n")
        assert "```python\n" + row["python_source"].strip("\n") + "\n```" in example["prompt"]
        assert example["completion"] == row["forward"] + "\n```"
        assert f"Warp {row['metadata']['warp_version']}" in example["prompt"]
        assert f"block_dim {row['metadata']['block_dim']}" in example["prompt"]
        assert example["id"] == row["id"] and example["derived"] == ""


def test_every_task_has_its_columns_in_both_styles(builds):
    row = rows_of(builds, "cuda")[0]
    for task, spec in sft.TASKS.items():
        pc = sft.format_row(row, task)
        assert spec.target != "python_source" or pc["completion"].startswith("import warp")
        messages = sft.format_row(row, task, style="messages")["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[0]["content"] + "\n\n" + messages[1]["content"] == pc["prompt"] + pc["completion"]


def test_placeholders_leave_no_hash_or_module_name(builds):
    hashed = 0
    for row in rows_of(builds, "cuda") + rows_of(builds, "cpu"):
        kernel_hash = row["metadata"]["mangled_name"].rsplit("_", 1)[1]
        for task in sft.TASKS:
            example = sft.format_row(row, task, placeholders=True)
            text = example["prompt"] + example["completion"]
            assert kernel_hash not in text and row["metadata"]["module_name"] not in text
            assert not re.search(r"\b(?:wp_args_)?\w+_[0-9a-f]{8}_(?:cpu|cuda)_kernel", text)
            assert example["derived"] == "placeholders"
        hashed += "_HASH_" in sft.format_row(row, "python_to_code", placeholders=True)["completion"]
    assert hashed == len(rows_of(builds, "cuda") + rows_of(builds, "cpu"))


def test_compact_drops_only_the_echo_and_location_comments(builds):
    for config in ("cpu", "cuda"):
        for row in rows_of(builds, config):
            example = sft.format_row(row, "python_to_code", compact=True)
            completion = example["completion"].removesuffix("\n```")
            assert "<L " not in completion and not re.search(r"^// \S+\.py:\d+$", completion, re.M)
            assert example["derived"] == "compact" and len(completion) < len(row["code"])
            # Only those lines went: every other line is there, as Warp wrote it, in order.
            echo = r" *//.*<L \d+>|// \S+\.py:\d+"
            kept = [line for line in row["code"].splitlines() if not re.fullmatch(echo, line)]
            assert completion == "\n".join(kept).strip("\n")


def test_to_sft_formats_every_split_and_keeps_counts(builds):
    formatted = sft.to_sft(builds["cuda"], "forward_to_python", style="messages", compact=True)
    assert set(formatted) == set(builds["cuda"])
    for split in formatted:
        assert formatted[split].column_names == ["id", "task", "derived", "messages"]
        assert len(formatted[split]) == len(builds["cuda"][split])
        assert formatted[split][0]["derived"] == "compact"


def test_bad_task_or_style_names_the_value():
    with pytest.raises(ValueError, match=r"unknown task 'python_to_ptx'; allowed tasks are \['python_to_forward'"):
        sft.formatter("python_to_ptx", "prompt_completion")
    with pytest.raises(ValueError, match=r"unknown style 'chatml'; allowed styles are"):
        sft.formatter("python_to_code", "chatml")


def test_sft_command_writes_splits_that_load_back_and_eval_scores_them_in_the_same_view(tmp_path, capsys):
    """The README's path: export in the views, answer with the completions, score with the same
    ``--view``: the reference in full. Scored without the view, the placeholders are refused in one
    line naming the flag, never a silent 0."""
    data, out = tmp_path / "data", tmp_path / "sft"
    assert cli.main(["build", "cpu", "--num-examples", "6", "--num-test", "2", "--out", str(data)]) == 0
    views = ["--view", "compact,placeholders"]
    capsys.readouterr()
    assert cli.main(["sft", str(data), "--config", "cpu", "--out", str(out), *views]) == 0
    assert "%|" not in capsys.readouterr().err  # a few rows: no progress bars
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train", "validation", "test"} and len(loaded["train"]) == 6
    assert loaded["train"].column_names == ["id", "task", "derived", "prompt", "completion"]
    assert set(loaded["test"]["derived"]) == {"compact,placeholders"}
    write_predictions(tmp_path / "model.jsonl", {row["id"]: {0: row["completion"]} for row in loaded["test"]})
    evaluation = ["eval", str(data), "--config", "cpu", "--predictions", str(tmp_path / "model.jsonl")]
    assert cli.main([*evaluation, "--out", str(tmp_path / "report"), *views]) == 0
    scores = json.loads((tmp_path / "report" / "summary.json").read_text())["sources"]["model"]["overall"]
    assert (scores["exact"], scores["compiles"], scores["correct"]) == (1.0, 1.0, 1.0), scores
    capsys.readouterr()
    assert cli.main([*evaluation, "--out", str(tmp_path / "unviewed")]) == 2
    assert "they were made in the placeholders view; pass it as the SFT export did (--view placeholders" in (
        capsys.readouterr().err
    )
    assert cli.main(["sft", str(data), "--config", "cuda", "--out", str(out)]) == 2
    assert "config 'cuda' is not built" in capsys.readouterr().err


TRAINING_PACKAGES = ("torch", "transformers", "tokenizers")


@pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in TRAINING_PACKAGES),
    reason="the training example needs the `train` extra: pip install -e '.[train]'",
)
def test_tiny_training_example_runs_and_its_loss_falls(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "train_tiny.py"), "--out", str(tmp_path), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "loss.png").stat().st_size > 10_000
    assert "loss fell" in done.stdout and "fit in" in done.stdout
    assert (tmp_path / "predictions.jsonl").exists() and (tmp_path / "eval" / "summary.md").exists()
