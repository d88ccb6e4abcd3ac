"""``ExecutionReward``: the evaluation harness's execution scores as a reward function for RL, called
by TRL's ``GRPOTrainer`` on each batch of completions.

    reward = ExecutionReward("data", config="cpu", task="python_to_forward")
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=sft_rows, ...)

The scale: 1.0 for a ``correct`` completion (it compiles and its outputs equal the reference's on
every input set), ``compiles_credit`` (0.0 by default) for one that compiles but is not correct, 0.0
for anything else (empty, garbage, too long, a crash). ``None`` only where this machine cannot
measure correctness: CUDA or PTX code without a GPU, a row whose own reference cannot run, a failure
of the harness itself. TRL (1.16, ``GRPOTrainer._calculate_rewards``) reads ``None`` as NaN: the
weighted sum over reward functions skips it (``nansum``), and a completion that every reward
function left unscored is kept out of its group's mean and gets no advantage (TRL warns once, naming
its row), rather than counting as 0.

Scores are ``eval``'s, completion by completion: the same parsing (fences, views), the same warm
workers and sandbox (``harness.Pool``), the same seeded inputs. What a reward adds: the workers live
across calls and keep each row's reference, and a cache answers a completion already scored (by
its row, its exact code, the views, the inputs and the harness version), in memory and, with
``cache_path``, on disk between runs.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import weakref
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from generation.evaluation import harness
from generation.evaluation import views as view_module
from generation.evaluation.measured import PYTHON_TASK
from generation.evaluation.sandbox.limits import Limits
from generation.evaluation.scores import Score

logger = logging.getLogger(__name__)

# Bumped whenever a change could score a candidate differently: a disk cache of another version is
# not read.
SCORING_VERSION = "5"
CACHE_SIZE = 100_000  # scores kept, in memory and on disk


def completion_text(completion: Any) -> str:
    """A completion as TRL passes it: a string, or a conversation (a list of ``{"role", "content"}``
    messages), whose assistant turns are the completion."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, list):
        said = [
            m.get("content") for m in completion if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
        ]
        return "\n".join(text for text in said if isinstance(text, str))
    raise TypeError(f"a completion is a string or a list of messages, got {type(completion).__name__}")


def reward_of(score: Score, compiles_credit: float) -> float | None:
    """A score's reward on the documented scale."""
    if score.harness:
        return None
    if score.correct:
        return 1.0
    if score.compiles is False:  # a prediction too long to compile too
        return 0.0
    if score.correct is None:
        return None
    return compiles_credit if score.compiles else 0.0


class ScoreCache:
    """Scores by key, the last ``size`` used kept in memory, and all of them (up to ``size``) in a
    SQLite file where one is given, read again by the next run with the same file."""

    def __init__(self, size: int = CACHE_SIZE, path: str | Path | None = None):
        self.size = size
        self._memory: collections.OrderedDict[str, Score] = collections.OrderedDict()
        self._disk = None
        if path is not None:
            self._disk = sqlite3.connect(str(path), check_same_thread=False)
            self._disk.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, score TEXT)")

    def get(self, key: str) -> Score | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        if self._disk is not None:
            found = self._disk.execute("SELECT score FROM scores WHERE key = ?", (key,)).fetchone()
            if found:
                score = Score.from_json(json.loads(found[0]))
                self._remember(key, score)
                return score
        return None

    def put(self, scored: dict[str, Score]) -> None:
        for key, score in scored.items():
            self._remember(key, score)
        if self._disk is not None and scored:
            with self._disk:
                rows = [(key, json.dumps(score.to_json())) for key, score in scored.items()]
                self._disk.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", rows)
                self._disk.execute(
                    "DELETE FROM scores WHERE rowid <= (SELECT MAX(rowid) FROM scores) - ?", (self.size,)
                )

    def _remember(self, key: str, score: Score) -> None:
        self._memory[key] = score
        self._memory.move_to_end(key)
        while len(self._memory) > self.size:
            self._memory.popitem(last=False)

    def __len__(self) -> int:
        return len(self._memory)

    def close(self) -> None:
        if self._disk is not None:
            self._disk.close()
            self._disk = None


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One completion to score: its row, its code as ``eval`` compiles it, and its cache key."""

    row_id: str
    code: str
    key: str


class ExecutionReward:
    """A reward function for TRL: ``reward(prompts=..., completions=..., id=[...], **columns)``
    returns one float (or None) per completion; see the module's docstring for the scale.

    ``data`` is what ``eval`` takes (a build folder, anything ``load_dataset`` reads, a
    ``DatasetDict``); every split's rows can be scored (``split`` limits them to one). ``views``
    are the SFT views the completions were written in. ``workers`` warm workers (one per core by
    default) start here and live until ``close`` (or the end of a ``with`` block, or the process)."""

    def __init__(
        self,
        data,
        config: str = "cpu",
        task: str = "python_to_forward",
        views: Sequence[str] = (),
        workers: int | None = None,
        split: str | None = None,
        compiles_credit: float = 0.0,
        input_sets: int = harness.DEFAULT_INPUT_SETS,
        cache_size: int = CACHE_SIZE,
        cache_path: str | Path | None = None,
        limits: Limits | None = None,
        require_sandbox: bool = False,
        input_salt: str | None = None,
    ):
        self.views = harness.check_request(config, task, views, (), input_sets, 1)
        if not 0.0 <= compiles_credit < 1.0:
            raise ValueError(f"compiles_credit must be at least 0.0 and below 1.0 (correct), got {compiles_credit}")
        self.config, self.task, self.split = config, task, split
        self.compiles_credit, self.input_sets, self.input_salt = compiles_credit, input_sets, input_salt or ""
        self.limits = limits or Limits()
        self.__name__ = f"execution_{task}"  # what TRL logs the reward by
        self.rows = _rows_by_id(data, config, split)
        layers = harness.sandbox_layers(require_sandbox)
        devices = {row["device"] for row in self.rows.values()}
        self.gpus = harness._gpus() if task != PYTHON_TASK and devices - {"cpu"} else 0
        self.cache = ScoreCache(cache_size, cache_path)
        self._version = json.dumps(
            [SCORING_VERSION, metadata.version("warp-lang"), config, task, self.views, input_sets, self.input_salt]
        )
        preload = harness.preloads(row["python_source"] for row in self.rows.values())
        self.pool = harness.Pool(layers, self.limits, self.gpus, workers or os.cpu_count() or 1, preload)
        self._finalizer = weakref.finalize(self, _close, self.pool, self.cache)
        self.pool.start()
        self._warned_placeholders = False
        # completions; reused (cached, or repeated in the batch); scored; jobs whose row's reference was kept or built
        self.calls = collections.Counter()

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        id: Sequence[str] | None = None,  # noqa: A002  (TRL passes the dataset's columns by name)
        **columns: Any,
    ) -> list[float | None]:
        if id is None:
            raise ValueError("no `id` column: score SFT rows made by `warp-ir-pairs sft`, which keep each row's id")
        if len(id) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(id)} ids")
        self._check_columns(columns)
        self._check_placeholders(id, completions)
        candidates = [self._candidate(row_id, completion) for row_id, completion in zip(id, completions, strict=True)]
        scores = self.scores(candidates)
        return [reward_of(scores[candidate.key], self.compiles_credit) for candidate in candidates]

    def scores(self, candidates: Sequence[Candidate]) -> dict[str, Score]:
        """Each distinct candidate's score: from the cache, or from the workers (one job per row)."""
        found: dict[str, Score] = {}
        missing: dict[str, Candidate] = {}
        for candidate in candidates:
            cached = self.cache.get(candidate.key)
            if cached is not None:
                found[candidate.key] = cached
            else:
                missing.setdefault(candidate.key, candidate)
        self.calls.update(completions=len(candidates), reused=len(candidates) - len(missing), scored=len(missing))
        scored = self._measured(list(missing.values()))
        self.cache.put(scored)
        return found | scored

    def _candidate(self, row_id: str, completion: Any) -> Candidate:
        row = self.rows.get(row_id)
        if row is None:
            where = f"split {self.split!r}" if self.split else "any split"
            raise ValueError(f"row id {row_id!r} is not in {where} of the {self.config} data this reward was made with")
        code = view_module.prediction_code(completion_text(completion), row, self.views)
        digest = hashlib.sha256(json.dumps([self._version, row_id, row["python_source"], row["code"], code]).encode())
        return Candidate(row_id, code, digest.hexdigest())

    def _measured(self, candidates: list[Candidate]) -> dict[str, Score]:
        """Score candidates no cache holds: the too long ones here, the others in the workers, one
        job per row (split where there are fewer rows than workers), each candidate numbered by its
        place among its row's."""
        by_row: dict[str, list[Candidate]] = {}
        scored: dict[str, Score] = {}
        for candidate in candidates:
            row = self.rows[candidate.row_id]
            too_long = harness.too_long(candidate.code, view_module.target_text(row, self.task, self.views))
            if too_long:
                scored[candidate.key] = Score("reward", candidate.row_id, 0, compiles=False, error=too_long)
            else:
                by_row.setdefault(candidate.row_id, []).append(candidate)
        jobs = []
        parts = max(1, len(self.pool.workers) // max(1, len(by_row)))
        for row_id, row_candidates in by_row.items():
            numbered = list(enumerate(row_candidates))
            for part in range(min(parts, len(numbered))):
                jobs.append(self._job(self.rows[row_id], numbered[part::parts]))
        for end, measured in self.pool.run(jobs):
            self.calls.update(references_kept=end.get("kept", False), references_built=not end.get("kept", False))
            for score in measured:
                if end["reference"] and not score.harness:
                    score.correct = None  # nothing to compare with: not measured
                    score.error = score.error or f"reference: {end['reference']}"
                score.harness = score.harness or end.get("harness", "")
                scored[by_row[score.id][score.sample].key] = score
        return scored

    def _job(self, row: dict, numbered: list[tuple[int, Candidate]]) -> dict:
        reference = hashlib.sha256(json.dumps([self._version, row["id"], row["python_source"], row["code"]]).encode())
        return {
            "row": harness._flat(row),
            "task": self.task,
            "input_sets": self.input_sets,
            "oracle_sets": 0,
            "candidates": [{"source": "reward", "sample": number, "code": c.code} for number, c in numbered],
            "limits": dataclasses.asdict(self.limits),
            "input_salt": self.input_salt,
            "gpus": self.gpus,
            "keep_reference": reference.hexdigest(),
        }

    def _check_columns(self, columns: dict[str, Any]) -> None:
        """The SFT columns TRL passes along, where they say what the completions are: refuse rows
        of another task, or written in other views than this reward reads them in."""
        for name, wanted in (("task", self.task), ("derived", ",".join(self.views))):
            values = set(columns.get(name) or ())
            strange = sorted(value for value in values if value != wanted)
            if strange:
                raise ValueError(
                    f"the rows' {name} is {strange[0]!r} but this reward scores {name} {wanted!r}: make it with "
                    + (f"task={strange[0]!r}" if name == "task" else f"views={tuple(strange[0].split(','))}")
                )

    def _check_placeholders(self, ids: Sequence[str], completions: Sequence[Any]) -> None:
        """Warn, once, where completions write ``HASH``/``MODULE`` and this reward does not read the
        placeholders view: they compile nowhere, so every such reward would be a silent 0. (``eval``
        refuses such a file; a policy may write the word once by chance, so a reward only warns.)"""
        if self._warned_placeholders:
            return
        texts: dict[str, dict[int, str]] = {}
        for number, (row_id, completion) in enumerate(zip(ids, completions, strict=True)):
            if row_id in self.rows:
                texts.setdefault(row_id, {})[number] = view_module.code_of(completion_text(completion))
        try:
            view_module.check_placeholders("this batch", texts, self.rows, self.views)
        except ValueError as error:
            self._warned_placeholders = True
            logger.warning("%s; until then they score 0.0", error)

    def close(self) -> None:
        """End the workers and close the cache's file."""
        self._finalizer()

    def __enter__(self) -> ExecutionReward:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _close(pool: harness.Pool, cache: ScoreCache) -> None:
    pool.close()
    cache.close()


def _rows_by_id(data, config: str, split: str | None) -> dict[str, dict]:
    """Every row of ``data``'s ``config`` (or of one split) by id."""
    if split is not None:
        rows, _ = harness.load_rows(data, config, split)
        return {row["id"]: row for row in rows}
    built = harness.load_splits(data, config)
    return {row["id"]: row for name in built for row in built[name]}
