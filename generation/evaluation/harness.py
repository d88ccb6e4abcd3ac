"""``evaluate``: score predictions (files or built-in baselines) for one task on one split by
compiling and running them against the reference, and write the report.

Text scores (``exact``, ``chrf``) are computed here; compiling and running happen in worker
processes (``worker.py``), each candidate in a forked child of its own. Every candidate of a row
goes to the worker in one job, so the reference is built and run once per row whatever the
number of sources and samples. Scores do not depend on the number of workers: inputs are seeded
by the row and the input set, and no candidate shares a process with another.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.backend.children import child_environment, network_isolation_available
from generation.backend.ptxas import RELEASE
from generation.evaluation import report
from generation.evaluation import views as view_module
from generation.evaluation.baselines import BASELINES
from generation.evaluation.measured import PYTHON_TASK, RESULT, compiles_here, launch_device
from generation.evaluation.predictions import read_predictions
from generation.evaluation.sandbox import Limits
from generation.evaluation.text import chrf, exact
from generation.training import sft

logger = logging.getLogger(__name__)

DEFAULT_INPUT_SETS = 5
ORACLE_SETS = 15  # further input sets on which a mutant's outputs are compared bit for bit
# A prediction longer than this many times its reference (plus a margin) is scored as wrong
# without being compiled: a 10 MB answer to a 20 kB question is not worth a compiler's minute.
LONGEST = 4
LONGEST_MARGIN = 10_000


@dataclass(frozen=True)
class Source:
    """One set of predictions: a file or a baseline, with ``{row_id: {sample: text}}``."""

    name: str
    predictions: dict[str, dict[int, str]]
    notes: dict[str, str] = field(default_factory=dict)  # row_id -> what a baseline did (a mutant's change)


def load_rows(data, config: str, split: str) -> tuple[list[dict], list[dict]]:
    """The split's rows and the train split's (for ``nearest``) from a build folder, anything
    ``load_dataset`` reads, or a loaded ``DatasetDict``."""
    import datasets

    from generation.hub.publish import load_builds

    if isinstance(data, datasets.DatasetDict):
        built = data
    elif Path(data).is_dir() and (Path(data) / config).is_dir():
        builds = load_builds(data)
        if config not in builds:
            raise ValueError(f"config {config!r} is not built in {data}; built configs are {list(builds)}")
        built = builds[config]
    else:
        built = datasets.load_dataset(str(data), config, trust_remote_code=str(data).endswith(".py"))
    if split not in built:
        raise ValueError(f"split {split!r} is not in {data} ({config}); its splits are {list(built)}")
    train = list(built["train"]) if "train" in built else []
    return list(built[split]), train


def _flat(row: dict) -> dict:
    """What a worker needs of a row."""
    keys = ("id", "kernel_name", "python_source", "device", "code", "forward", "backward")
    return {key: row[key] for key in keys} | {"arch": row["metadata"]["arch"]}


class Worker:
    """A worker process fed one job per line; restarted if it ever dies. Its temporary files (its
    scratch folders, Warp's precompiled header) go to ``scratch``, which the harness removes."""

    def __init__(self, network: bool, scratch: str):
        self.command = [sys.executable, "-m", "generation.evaluation.worker"]
        if not network:
            self.command = ["unshare", "--user", "--map-root-user", "--net", *self.command]
        self.scratch = scratch
        self.process: subprocess.Popen | None = None

    def score(self, job: dict) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=child_environment(TMPDIR=self.scratch),
            )
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            for line in self.process.stdout:
                if line.startswith(RESULT):
                    return json.loads(line[len(RESULT) :])
        except BrokenPipeError:
            pass
        self.close()
        raise RuntimeError("the evaluation worker died")

    def close(self) -> None:
        """Let the worker finish (its input closed, it cleans up after itself), killing it only
        when it does not."""
        if self.process is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
            self.process = None


@functools.cache
def _gpus() -> int:
    """CUDA devices a worker will see (asked of Warp in a child: this process does not start Warp)."""
    probe = "from generation.backend import warp_api; print(warp_api.cuda_device_count())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=child_environment())
    return int(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else 0


def _run_jobs(jobs: list[dict], workers: int, progress: bool) -> Iterator[dict]:
    """Each job's result, in the order jobs finish, from ``workers`` worker processes."""
    from tqdm.auto import tqdm

    network = not network_isolation_available()
    if network:
        logger.warning("unshare is not available: candidates run with network access")
    pending: queue.Queue = queue.Queue()
    for job in jobs:
        pending.put(job)
    done: queue.Queue = queue.Queue()

    def serve(scratch: str) -> None:
        worker = Worker(network, scratch)
        try:
            while True:
                try:
                    job = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put(worker.score(job))
                except Exception as error:  # the worker died: this job's candidates fail, the rest go on
                    done.put(_failed_job(job, f"harness: {error}"))
        finally:
            worker.close()

    scratch = tempfile.mkdtemp(prefix="wirp_eval_")
    try:
        count = max(1, min(workers, len(jobs)))
        threads = [threading.Thread(target=serve, args=(scratch,), daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        disable = not (progress and sys.stderr.isatty())
        total = sum(len(job["candidates"]) for job in jobs)
        with tqdm(total=total, desc="scoring", unit="candidate", disable=disable) as bar:
            for _ in jobs:
                result = done.get()
                bar.update(len(result["candidates"]))
                yield result
        for thread in threads:
            thread.join()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _failed_job(job: dict, why: str) -> dict:
    candidates = [
        {"key": c["key"], "compiles": False, "correct": False, "round_trip": None, "changed": None, "error": why}
        for c in job["candidates"]
    ]
    return {"id": job["row"]["id"], "reference": why, "weak": "", "note": "", "candidates": candidates}


def _sources(
    rows: Sequence[dict],
    train: Sequence[dict],
    task: str,
    views: tuple[str, ...],
    predictions: Sequence[str | Path],
    baselines: Sequence[str],
) -> list[Source]:
    """The predictions files first (named by their file names, never as a baseline), then the baselines."""
    ids = {row["id"] for row in rows}
    sources: list[Source] = []
    for path in predictions:
        name = Path(path).stem
        while name in BASELINES or any(source.name == name for source in sources):
            name += "'"
        sources.append(Source(name, read_predictions(path, ids)))
    for name in baselines:
        made = BASELINES[name](rows, task, views, train)
        texts = {row_id: {0: made_row["text"]} for row_id, made_row in made.items()}
        notes = {row_id: made_row.get("note", "") for row_id, made_row in made.items()}
        sources.append(Source(name, texts, notes))
    return sources


def check_request(
    config: str, task: str, views: Sequence[str], baselines: Sequence[str], input_sets: int, sources: int
) -> tuple[str, ...]:
    from generation.pipeline.options import CONFIGS

    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; allowed configs are {list(CONFIGS)}")
    if task not in sft.TASKS:
        raise ValueError(f"unknown task {task!r}; allowed tasks are {list(sft.TASKS)}")
    unknown = [name for name in baselines if name not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline {unknown[0]!r}; allowed baselines are {list(BASELINES)}")
    if input_sets < 1:
        raise ValueError(f"input_sets must be at least 1, got {input_sets}")
    if sources == 0:
        raise ValueError("nothing to score: give predictions files or baselines")
    return view_module.check_views(views)


def evaluate(
    data,
    config: str,
    split: str = "test",
    task: str = "python_to_forward",
    predictions: Sequence[str | Path] = (),
    baselines: Sequence[str] = (),
    out: str | Path | None = None,
    views: Sequence[str] = (),
    input_sets: int = DEFAULT_INPUT_SETS,
    workers: int | None = None,
    limit: int | None = None,
    limits: Limits | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every source on ``split`` of ``config`` (in ``data``: a build folder, anything
    ``load_dataset`` reads, or a ``DatasetDict``) for ``task``; write the report into ``out``
    (``summary.md``, ``summary.json``, ``rows.jsonl``, ``scores.png``) and return the summary.

    ``predictions`` are JSONL files (``predictions.py``), ``baselines`` names of built-in ones
    (``reference``, ``nearest``, ``mutate``); ``views`` the SFT views the predictions were made
    in; ``limit`` scores the split's first rows only."""
    views = check_request(config, task, views, baselines, input_sets, len(predictions) + len(baselines))
    rows, train = load_rows(data, config, split)
    rows = rows[:limit] if limit else rows
    sources = _sources(rows, train, task, views, predictions, baselines)
    oracle = ORACLE_SETS if "mutate" in baselines else 0
    gpus = _gpus() if task != PYTHON_TASK and any(row["device"] != "cpu" for row in rows) else 0
    if rows and not compiles_here(task, rows[0]["device"]):  # a split's rows share one device
        logger.warning("ptx compiles is not measured: it needs nvJitLink %s.%s or newer (the ptx extra)", *RELEASE)
    records = {}  # (source, row_id, sample) -> scores
    jobs = []
    for row in rows:
        target = view_module.target_text(row, task, views)
        candidates = []
        for source in sources:
            samples = source.predictions.get(row["id"], {})
            for sample, text in sorted(samples.items()):
                code = view_module.prediction_code(text, row, views)
                record = _text_scores(source, row, sample, code, target, task, config, gpus)
                records[source.name, row["id"], sample] = record
                if not record["error"]:
                    candidates.append({"key": [source.name, sample], "code": code})
            if not samples:
                records[source.name, row["id"], None] = _missing(source, row, task, config, gpus)
        jobs.append(
            {
                "row": _flat(row),
                "task": task,
                "input_sets": input_sets,
                "oracle_sets": oracle,
                "candidates": candidates,
                "limits": dataclasses.asdict(limits or Limits()),
            }
        )
    weak: dict[str, str] = {}
    notes: dict[str, str] = {}
    for result in _run_jobs(jobs, workers or os.cpu_count() or 1, progress):
        weak[result["id"]] = result["weak"]
        notes[result["id"]] = result["note"]
        for scores in result["candidates"]:
            name, sample = scores.pop("key")
            record = records[name, result["id"], sample]
            record.update({key: value for key, value in scores.items() if key in record})
            record["error"] = scores["error"] or (f"reference: {result['reference']}" if result["reference"] else "")
            record["reference_note"] = result["note"]
            if result["reference"] and record["correct"] is not None:
                record["correct"] = None  # nothing to compare with: not measured
    rank = {source.name: k for k, source in enumerate(sources)}
    position = {row["id"]: k for k, row in enumerate(rows)}
    ordered = [records[key] for key in sorted(records, key=lambda key: (rank[key[0]], position[key[1]], key[2] or 0))]
    for record in ordered:
        record["weak"] = bool(weak.get(record["id"]))
    request = {
        "config": config,
        "split": split,
        "task": task,
        "views": list(views),
        "input_sets": input_sets,
        "rows": len(rows),
        "sources": [source.name for source in sources],
    }
    summary = report.summarize(ordered, request, weak, notes)
    if out is not None:
        report.write(Path(out), ordered, summary)
    return summary


def _base_record(source: Source, row: dict, sample: int | None, task: str, config: str, gpus: int) -> dict:
    return {
        "source": source.name,
        "id": row["id"],
        "sample": sample,
        "category": row["category"],
        "difficulty": row["metadata"]["difficulty"] or "real",
        "config": config,
        "exact": False,
        "chrf": 0.0,
        "compiles": False if compiles_here(task, row["device"]) else None,
        "correct": False if launch_device(task, row["device"], gpus) else None,
        "round_trip": False if task == "forward_to_python" else None,
        "changed": None,
        "error": "",
        "note": source.notes.get(row["id"], ""),
    }


def _missing(source: Source, row: dict, task: str, config: str, gpus: int) -> dict:
    return _base_record(source, row, None, task, config, gpus) | {"error": "no prediction for this row"}


def _text_scores(
    source: Source, row: dict, sample: int, code: str, target: str, task: str, config: str, gpus: int
) -> dict:
    record = _base_record(source, row, sample, task, config, gpus)
    longest = LONGEST * len(target) + LONGEST_MARGIN
    if len(code) > longest:
        record["error"] = f"prediction too long: {len(code):,} characters, over {longest:,} ({LONGEST}x the reference)"
        return record
    record["exact"] = exact(code, target)
    record["chrf"] = round(chrf(code, target), 4)
    return record
