"""The execution reward: ``eval``'s scores as a TRL reward function, from warm workers that keep each
row's reference, with a cache in front of them.

One reward (one worker) scores a few rows' references, mutants, garbage and empty completions, plain
and conversational; ``eval`` scores the same candidates from a file, and each reward must be what
``eval``'s score says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import run_python

from generation.evaluation import harness
from generation.evaluation.baselines import BASELINES
from generation.evaluation.predictions import write_predictions
from generation.evaluation.reward import ExecutionReward, completion_text, reward_of
from generation.evaluation.scores import Score
from generation.training import sft

ROWS = 4
KINDS = ("reference", "conversation", "mutant", "garbage", "empty")


@pytest.fixture(scope="module")
def scored(builds, tmp_path_factory):
    """The reward made once (one worker, a cache file), its rewards for every kind of candidate on
    the first rows of the train split, and ``eval``'s report of the same candidates."""
    data = builds["cpu"]
    rows = list(data["train"])[:ROWS]
    mutants = BASELINES["mutate"](rows, "python_to_forward", (), [])
    candidates = {
        "reference": {row["id"]: row["forward"] for row in rows},
        "conversation": {
            row["id"]: [{"role": "assistant", "content": f"```cpp\n{row['forward']}\n```\nThat is the forward."}]
            for row in rows
        },
        "mutant": {row_id: made["text"] for row_id, made in mutants.items()},
        "garbage": {row["id"]: "this is not C++ (" for row in rows},
        "empty": {row["id"]: "" for row in rows},
    }
    folder = tmp_path_factory.mktemp("reward")
    reward = ExecutionReward(data, "cpu", workers=1, cache_path=folder / "scores.sqlite")
    rewards = {}
    for kind in KINDS:
        ids = list(candidates[kind])
        rewards[kind] = dict(zip(ids, reward(completions=[candidates[kind][i] for i in ids], id=ids), strict=True))
    file = folder / "predictions.jsonl"
    samples = {
        row["id"]: {k: completion_text(candidates[kind][row["id"]]) for k, kind in enumerate(KINDS)}
        for row in rows
        if row["id"] in candidates["mutant"]
    }
    write_predictions(file, samples)
    summary_rows = _eval_rows(data, file, folder / "report", len(rows))
    yield {
        "reward": reward,
        "rows": rows,
        "candidates": candidates,
        "rewards": rewards,
        "eval": summary_rows,
        "cache": folder / "scores.sqlite",
    }
    reward.close()


def _eval_rows(data, file, out, limit):
    harness.evaluate(data, "cpu", split="train", predictions=[file], out=out, limit=limit, progress=False)
    import json

    return [Score.from_json(json.loads(line)) for line in open(out / "rows.jsonl")]


def test_references_score_one_mutants_less_and_garbage_nothing(scored):
    rewards = scored["rewards"]
    assert set(rewards["reference"].values()) == {1.0}
    assert set(rewards["conversation"].values()) == {
        1.0
    }  # fences and prose around the code are read as eval reads them
    # a mutant may change nothing its outputs show (an equivalent mutant): most do
    assert sum(value < 1.0 for value in rewards["mutant"].values()) > len(rewards["mutant"]) / 2
    assert set(rewards["garbage"].values()) == {0.0}
    assert set(rewards["empty"].values()) == {0.0}


def test_each_reward_is_what_evals_score_of_the_same_candidate_says(scored):
    checked = 0
    for score in scored["eval"]:
        if score.sample is None:
            continue
        kind = KINDS[score.sample]
        assert scored["rewards"][kind][score.id] == reward_of(score, 0.0), (kind, score)
        checked += 1
    assert checked == len(KINDS) * len(scored["candidates"]["mutant"])


def test_a_repeated_batch_is_answered_by_the_cache_in_memory_and_on_disk(scored, builds):
    reward, rows = scored["reward"], scored["rows"]
    ids = [row["id"] for row in rows]
    before = reward.calls["scored"]
    assert reward(completions=[row["forward"] for row in rows], id=ids) == [1.0] * len(rows)
    assert reward.calls["scored"] == before  # nothing compiled
    with ExecutionReward(builds["cpu"], "cpu", workers=1, cache_path=scored["cache"]) as again:
        assert again(completions=[row["forward"] for row in rows], id=ids) == [1.0] * len(rows)
        assert again.calls["scored"] == 0


def test_workers_and_references_live_across_calls(scored):
    """The fixture's five calls started the worker once and built each row's reference once: a new
    completion of a row scored before builds only itself."""
    reward, row = scored["reward"], scored["rows"][1]
    process = reward.pool.workers[0].process
    kept = reward.calls["references_kept"]
    assert reward(completions=[row["forward"] + "\n// another completion"], id=[row["id"]]) == [1.0]
    assert reward.pool.workers[0].process is process and process.poll() is None
    assert reward.calls["references_kept"] == kept + 1
    assert reward.calls["references_built"] == ROWS


def test_the_reward_is_what_trl_takes(scored):
    reward = scored["reward"]
    assert reward.__name__ == "execution_python_to_forward"
    row = scored["rows"][0]
    # TRL passes the SFT rows' columns (and its own) as keyword arguments
    example = sft.format_row(row, "python_to_forward", "prompt_completion")
    values = reward(
        prompts=[example["prompt"]],
        completions=[example["completion"]],
        id=[example["id"]],
        task=[example["task"]],
        derived=[example["derived"]],
        trainer_state=None,
        completion_ids=[[1, 2]],
    )
    assert values == [1.0]


def test_bad_calls_are_named(scored, builds):
    reward, row = scored["reward"], scored["rows"][0]
    with pytest.raises(ValueError, match="row id 'nope' is not in any split"):
        reward(completions=["x"], id=["nope"])
    with pytest.raises(ValueError, match="no `id` column"):
        reward(completions=["x"])
    with pytest.raises(ValueError, match="task is 'python_to_code'.*make it with task='python_to_code'"):
        reward(completions=["x"], id=[row["id"]], task=["python_to_code"])
    with pytest.raises(ValueError, match=r"derived is 'compact'.*views=\('compact',\)"):
        reward(completions=["x"], id=[row["id"]], derived=["compact"])
    with pytest.raises(ValueError, match="compiles_credit"):
        ExecutionReward(builds["cpu"], "cpu", compiles_credit=1.0)


def test_close_ends_the_workers(builds):
    reward = ExecutionReward(builds["cpu"], "cpu", workers=1)
    process = reward.pool.workers[0].process
    assert process.poll() is None
    reward.close()
    assert process.poll() is not None
    assert not os.path.exists(reward.pool.scratch)


def test_a_build_that_fails_leaves_the_precompiled_header_in_place():
    """Read directly, Warp's precompiled header survives a failed build (Warp's own use of it deletes it
    and builds again without it, about a second per failed candidate)."""
    code = """
import os, tempfile
from pathlib import Path
from generation.backend import header as headers, warp_api
from generation.backend.source_module import kernel_named, loaded_source
from generation.evaluation import worker
folder = Path(tempfile.mkdtemp())
worker._warm_up(folder)
header = warp_api.precompiled_header_file()
assert warp_api.reads_precompiled_header()
with loaded_source(headers.WARM_UP.replace("1.0", "2.0")) as module:
    kernel = kernel_named(module, "warm")
    with warp_api.substituted_unit(kernel.module, "this is not C++ ("):
        try:
            warp_api.load_on_cpu(kernel, "debug")
        except warp_api.CompileError:
            pass
print(os.path.exists(header))
__import__("shutil").rmtree(folder)
"""
    assert run_python(code) == "True"


def test_completions_in_a_view_the_reward_was_not_told_of_are_named(scored, caplog):
    """A policy trained on the placeholders view writes HASH and MODULE: without the view they compile
    nowhere, and the reward says so once instead of handing out silent zeros."""
    reward, row = scored["reward"], scored["rows"][0]
    example = sft.format_row(row, "python_to_forward", "prompt_completion", placeholders=True)
    assert "HASH" in example["completion"]
    with caplog.at_level("WARNING", logger="generation.evaluation.reward"):
        assert reward(completions=[example["completion"]], id=[row["id"]]) == [0.0]
    assert "placeholders view" in caplog.text and "views=['placeholders']" in caplog.text


TWO_PARTS = """
import time
from pathlib import Path
from generation.evaluation.sandbox.children import Spawner
from generation.evaluation.sandbox.limits import Limits

def two_parts(work):
    time.sleep(work["build"])
    Path("compiled.json").write_text("{}")
    time.sleep(work["run"])
    return {}

spawner = Spawner({"two": two_parts}, lambda folder, seconds, limits: None)
seen = []
root = Path(__import__("tempfile").mkdtemp())
for number, (build, run) in enumerate([(0, 0), (0.2, 30), (30, 0), (2.5, 1)]):
    folder = root / f"c{number}"
    outcome = spawner.run("two", {"build": build, "run": run}, folder, 3, Limits(), (), ("compiled.json", 1.5))
    seen.append((outcome.failure, outcome.first_part_done, outcome.error, outcome.second_part_seconds))
spawner.close()
__import__("shutil").rmtree(root)
print(seen)
"""


def test_a_child_of_two_parts_has_each_parts_time_limit():
    """Build and run in one child (a CPU candidate's two phases): the build's limit holds until the
    child marks it done, then the run's, from that moment on, as two children's limits would. The
    run part's time is measured (a reference's sets its candidates' run limit)."""
    seen = eval(run_python(TWO_PARTS))  # noqa: S307  (our own print of a list of tuples)
    assert seen[0][:3] == ("", True, "") and seen[0][3] < 0.5
    assert seen[1][:3] == ("timeout", True, "timed out after 1.5 s")  # the run's limit, not the build's 3 s
    assert seen[2] == ("timeout", False, "timed out after 3 s", 0.0)
    assert seen[3][:2] == ("", True)  # built in 2.5 s of 3, then ran 1 s of 1.5: 3.5 s in all is allowed
    assert 0.9 <= seen[3][3] < 1.5, seen[3]  # the run part's 1 s, not the child's 3.5


def test_a_pool_removes_the_scratch_folders_of_processes_that_ended_without_removing_them(tmp_path, monkeypatch):
    """SIGTERM ends a script that holds an ``ExecutionReward`` without its cleanup, and the pool's
    scratch folder stayed in the temporary folder (four of them after four such ends here). A new
    pool removes those whose process is gone, and no other process's."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    stale = tmp_path / f"{harness.SCRATCH_PREFIX}{ended.pid}_abcd1234"
    alive = tmp_path / f"{harness.SCRATCH_PREFIX}{os.getpid()}_efgh5678"
    other = tmp_path / "wirp_eval_ijkl9012"  # not a pool's: a worker's own, inside its sandbox
    for folder in (stale, alive, other):
        folder.mkdir()
        (folder / "worker0.log").write_text("a log\n")
    made = Path(harness.scratch_folder())
    assert not stale.exists() and alive.exists() and other.exists()
    assert made.parent == tmp_path and made.name.startswith(f"{harness.SCRATCH_PREFIX}{os.getpid()}_")
