"""``evaluate``: score predictions (files or built-in baselines) for one task on one split by
compiling and running them against the reference, and write the report.

Text scores (``exact``, ``chrf``) are computed here; compiling and running happen in worker
processes (``worker.py``), each candidate in a sandboxed child of its own (``sandbox``). Every
candidate of a row goes to the worker in one job, so the reference is built and run once per row
whatever the number of sources and samples. Scores do not depend on the number of workers: inputs
are seeded by the row, the input set and the salt, and no candidate shares a process with another.

A candidate's fate is its own: a worker that dies (or hangs) while a candidate's phase runs fails
that candidate, with the reason, and the rest of its job is scored again in a fresh worker.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import json
import logging
import os
import queue
import re
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.backend import header
from generation.backend.children import child_environment
from generation.backend.ptxas import RELEASE
from generation.evaluation import report
from generation.evaluation import views as view_module
from generation.evaluation.baselines import BASELINES
from generation.evaluation.measured import PYTHON_TASK, RESULT, compiles_here, launch_device
from generation.evaluation.predictions import read_predictions
from generation.evaluation.sandbox import namespaces
from generation.evaluation.sandbox.children import OUTER_NAMESPACE_VARIABLE
from generation.evaluation.sandbox.layers import WORKER, Layer, Plan, layers_here, runtime_paths, worker_environment
from generation.evaluation.sandbox.limits import Limits, run_limit
from generation.evaluation.scores import Score
from generation.evaluation.text import chrf, exact
from generation.names import unknown
from generation.training import sft

logger = logging.getLogger(__name__)

DEFAULT_INPUT_SETS = 5
ORACLE_SETS = 15  # further input sets on which a mutant is run: whether it changes behaviour at all
# A prediction longer than this many times its reference (plus a margin) is scored as wrong
# without being compiled: a 10 MB answer to a 20 kB question is not worth a compiler's minute.
LONGEST = 4
LONGEST_MARGIN = 10_000
PATIENCE_MARGIN = 60  # seconds past a phase's limit a worker may stay silent before it counts as hung
WORKER_DEATHS = 2  # deaths outside any candidate after which a job is a harness failure


@dataclass(frozen=True)
class Source:
    """One set of predictions: a file or a baseline, with ``{row_id: {sample: text}}``."""

    name: str
    predictions: dict[str, dict[int, str]]
    notes: dict[str, str] = field(default_factory=dict)  # row_id -> what a baseline did (a mutant's change)


HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # what load_dataset would look up on the Hub: org/name


def load_rows(data, config: str, split: str) -> tuple[list[dict], list[dict]]:
    """The split's rows and the train split's (for ``nearest``) from a build folder, anything
    ``load_dataset`` reads, or a loaded ``DatasetDict``."""
    built = load_splits(data, config)
    if split not in built:
        raise ValueError(f"split {split!r} is not in {data} ({config}); its splits are {list(built)}")
    train = list(built["train"]) if "train" in built else []
    return list(built[split]), train


def load_splits(data, config: str):
    """``config``'s ``DatasetDict`` from a build folder, anything ``load_dataset`` reads, or a
    loaded ``DatasetDict`` (returned as it is)."""
    import datasets

    if isinstance(data, datasets.DatasetDict):
        built = data
    elif not Path(data).exists() and not HUB_ID.fullmatch(str(data)):  # before any Hub lookup
        raise ValueError(
            f"no build folder at {data}: run `warp-ir-pairs build {config} --out {data}` first, or give a Hub "
            "dataset id (org/name)"
        )
    elif Path(data).is_dir() and not (Path(data) / config).is_dir() and _built_configs(data):
        raise ValueError(f"config {config!r} is not built in {data}; built configs are {_built_configs(data)}")
    elif Path(data).is_dir() and (Path(data) / config).is_dir():
        from generation.hub.publish import load_builds  # datatrove: only a build folder needs it

        builds = load_builds(data)
        if config not in builds:
            raise ValueError(f"config {config!r} is not built in {data}; built configs are {list(builds)}")
        built = builds[config]
    else:
        built = datasets.load_dataset(str(data), config, trust_remote_code=str(data).endswith(".py"))
    return built


def _flat(row: dict) -> dict:
    """What a worker needs of a row."""
    keys = ("id", "kernel_name", "python_source", "device", "code", "forward", "backward")
    return {key: row[key] for key in keys} | {"arch": row["metadata"]["arch"]}


def _built_configs(folder) -> list[str]:
    """The configs a build folder holds (a folder of each name)."""
    from generation.pipeline.options import CONFIGS

    return [name for name in CONFIGS if (Path(folder) / name).is_dir()]


class EvaluationError(RuntimeError):
    """The evaluation cannot run here: a sandbox that is not complete where one is required, or a
    worker that cannot start."""


class WorkerStartFailed(EvaluationError):
    """A worker ended before it was ready: nothing would score here."""


class WorkerDied(RuntimeError):
    """A worker ended (or stopped answering) before its job was done."""


@dataclass
class WorkerRun:
    """What a worker told of one job: the scores it finished, then the row's end, or where it died
    the phase it was in (``source`` None: the reference's)."""

    scores: list[Score]
    end: dict | None = None
    running: dict | None = None
    why: str = ""


# Warp's own modules that rows import and that start a program when imported: Warp's test utilities
# find the C library with ``ctypes.util.find_library``, which runs ``ldconfig``, and a confined
# child that starts a program is ended (SIGSYS), so the reference of every row harvested from
# Warp's tests failed to compile. A worker imports those its rows import before it forks any child,
# as it imports the sandbox's own libraries. Only Warp's, the runtime every child runs: a harvested
# package's modules are imported in the child, under every layer.
PRELOADABLE = ("warp.tests.unittest_utils",)


def preloads(sources: Iterable[str]) -> tuple[str, ...]:
    """The ``PRELOADABLE`` modules that some of ``sources`` import."""
    found: set[str] = set()
    for source in sources:
        found.update(
            m for m in PRELOADABLE if m not in found and re.search(rf"^(from|import) {re.escape(m)}\b", source, re.M)
        )
    return tuple(sorted(found))


class Worker:
    """A worker process fed one job per line, inside the sandbox's namespaces where they are in
    force, and started again after it dies. Its log and (outside the namespaces) its scratch folders
    and Warp's precompiled header go to ``scratch``, which the harness removes."""

    def __init__(
        self,
        layers: tuple[Layer, ...],
        scratch: str,
        limits: Limits,
        gpus: int,
        number: int = 0,
        shared_header: str = "",
        preload: tuple[str, ...] = (),
    ):
        plan = Plan.of(layers)
        command = [sys.executable, "-m", WORKER, "--layers", plan.to_argument(), "--header", shared_header]
        command += [argument for module in preload for argument in ("--preload", module)]
        if plan.namespaces:
            outer = {OUTER_NAMESPACE_VARIABLE: os.readlink("/proc/self/ns/pid")}
            inside = worker_environment(namespaces.SCRATCH) | outer
            visible = (*runtime_paths(), os.path.dirname(shared_header)) if shared_header else runtime_paths()
            self.command = namespaces.wrapped(command, visible, inside, limits.scratch_mb, gpus > 0)
            self.environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            self.command, self.environment = command, worker_environment(scratch)
        self.scratch = scratch
        self.shared_header = shared_header
        self.log = Path(scratch) / f"worker{number}.log"
        self.patience = max(limits.compile_seconds, limits.run_seconds) + PATIENCE_MARGIN
        self.process: subprocess.Popen | None = None
        self.header_read = ""
        self._buffer = b""

    def _start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.environment,
                cwd=self.scratch,
            )
        self._buffer = b""
        try:
            ready = next(self._events(), None)
        except WorkerDied:
            ready = None
        if ready is None or ready["event"] != "ready":
            self.close()
            raise WorkerStartFailed(f"the evaluation worker did not start: {self.last_words()}")
        self.header_read = ready.get("header", "")  # "shared": it read the cache's precompiled header
        if self.shared_header and self.header_read != "shared":  # refused by Clang: the next evaluation makes it again
            with contextlib.suppress(OSError):
                os.unlink(self.shared_header)

    def _events(self) -> Iterator[dict]:
        """The worker's events, each within ``patience`` seconds of the one before."""
        out = self.process.stdout.fileno()
        while True:
            while b"\n" not in self._buffer:
                if not select.select([out], [], [], self.patience)[0]:
                    raise WorkerDied(f"the evaluation worker sent nothing for {self.patience:g} s")
                chunk = os.read(out, 1 << 16)
                if not chunk:
                    return
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.startswith(RESULT.encode()):
                yield json.loads(line[len(RESULT) :])

    def last_words(self) -> str:
        """The last line the worker wrote to its log (a traceback's error, bwrap's complaint)."""
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        code = self.process.poll() if self.process is not None else None
        status = f"exit {code}" if code is not None and code >= 0 else f"signal {-code}" if code else "no exit"
        return f"{lines[-1].strip()} ({status})" if lines else status

    def ensure_started(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self._start()

    def score(self, job: dict) -> WorkerRun:
        self.ensure_started()
        run = WorkerRun([])
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
            for event in self._events():
                kind = event["event"]
                if kind == "scoring":
                    run.running = event
                elif kind == "scored":
                    run.scores.append(Score.from_json(event))
                    run.running = None
                elif kind == "row":
                    run.end = event
                    return run
        except (BrokenPipeError, WorkerDied) as error:
            run.why = str(error)
        self.kill()
        run.why = run.why or f"the evaluation worker died: {self.last_words()}"
        return run

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        """Let the worker finish (its input closed, it cleans up after itself), killing it only
        when it does not."""
        if self.process is not None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
            self.process.stdout.close()
            self.process = None


def score_job(worker: Worker, job: dict) -> tuple[dict, list[Score]]:
    """A job's row end and its candidates' scores. Where the worker dies, the candidate whose phase
    it died in fails alone (its error says so: a crash, a kill, a hang that took the worker along),
    and the rest of the job is scored again in a fresh worker, the reference first; a job whose
    worker dies twice outside any candidate is a harness failure, its unfinished candidates not
    measured."""
    row_id = job["row"]["id"]

    def unscored(candidate: dict, **scores) -> Score:
        return Score(candidate["source"], row_id, candidate["sample"], **scores)

    scores: dict[tuple, Score] = {}
    left = job["candidates"]
    deaths = 0
    while True:
        run = worker.score(job | {"candidates": left})
        scores |= {score.key: score for score in run.scores}
        if run.end is not None:
            return run.end, list(scores.values())
        running = run.running or {"source": None}
        if running["source"] is not None:
            died = _died_in(unscored(running), running["phase"], job["task"], run.why)
            scores[died.key] = died
        else:
            deaths += 1
            if deaths == WORKER_DEATHS:
                why = f"the evaluation worker died {deaths} times outside any candidate ({run.why})"
                unfinished = [unscored(c, harness=why) for c in left if unscored(c).key not in scores]
                scores |= {score.key: score for score in unfinished}
                return {"id": row_id, "reference": "", "weak": "", "note": "", "harness": why}, list(scores.values())
        left = [candidate for candidate in left if unscored(candidate).key not in scores]


def _died_in(score: Score, phase: str, task: str, why: str) -> Score:
    """A candidate in whose phase its worker died: that phase failed, and with it the candidate."""
    score.compiles = phase != "compile"
    score.correct = False  # not measured (None) only where its row's reference could not run
    score.round_trip = False if task == PYTHON_TASK and phase == "compile" else None
    score.error = f"{phase}: {why} while this candidate's {phase} phase ran"
    return score


@functools.cache
def _gpus() -> int:
    """CUDA devices a worker will see (asked of Warp in a child: this process does not start Warp)."""
    probe = "from generation.backend import warp_api; print(warp_api.cuda_device_count())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=child_environment())
    return int(done.stdout.split()[-1]) if done.returncode == 0 and done.stdout.split() else 0


def sandbox_layers(require: bool) -> tuple[Layer, ...]:
    """The sandbox's layers on this machine; a warning, once, for each that is missing, or with
    ``require`` an error naming them."""
    layers = layers_here()
    missing = [layer for layer in layers if layer.missing]
    if missing and require:
        named = "; ".join(f"{layer.name}: {layer.missing}" for layer in missing)
        raise EvaluationError(f"the sandbox is not complete here and require_sandbox is set ({named})")
    for layer in missing:
        if layer.name not in _WARNED:
            _WARNED.add(layer.name)
            logger.warning("sandbox layer %s is missing: %s (candidates run without it)", layer.name, layer.missing)
    return layers


_WARNED: set[str] = set()
SCRATCH_PREFIX = "wirp_eval_p"  # then the process's id: wirp_eval_p1234_xxxxxxxx


def scratch_folder() -> str:
    """A new scratch folder for this process's pool, named for the process, once those of processes
    that ended without removing theirs are gone: SIGTERM ends a training script that holds an
    ``ExecutionReward`` without running its cleanup, and its folder (the workers' logs) stayed."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*_*"):
        owner = folder.name.removeprefix(SCRATCH_PREFIX).split("_", 1)[0]
        if owner.isdigit() and not _running(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}_")


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts, though it cannot be signalled)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Pool:
    """Warm workers that live across runs of jobs: the evaluation makes one per call, the execution
    reward one for its life. Each worker has a thread of its own for the pool's life, which starts,
    feeds and ends it: a sandboxed worker dies with the thread that started it (bubblewrap's
    ``--die-with-parent`` is the thread's death, not the process's). A job goes first to the worker
    its row's id picks, which may keep the row's reference (``keep_reference``); an idle worker takes
    the others' jobs. Its scratch folder goes with ``close``."""

    def __init__(self, layers: tuple[Layer, ...], limits: Limits, gpus: int, count: int, preload: tuple[str, ...] = ()):
        # Children read a precompiled header directly only where Landlock keeps them from writing it.
        shared = header.shared_header() if Plan.of(layers).landlock else ""
        self.scratch = scratch_folder()
        self.workers = [
            Worker(layers, self.scratch, limits, gpus, number, shared, preload) for number in range(max(1, count))
        ]
        self._inboxes: list[queue.Queue] = [queue.Queue() for _ in self.workers]
        self._threads = [threading.Thread(target=self._serve, args=(n,), daemon=True) for n in range(len(self.workers))]
        for thread in self._threads:
            thread.start()

    def _serve(self, number: int) -> None:
        """Worker ``number``'s thread: each order its inbox gets, until None; then the worker ends."""
        worker = self.workers[number]
        try:
            while (order := self._inboxes[number].get()) is not None:
                order(worker)
        finally:
            worker.close()

    def start(self) -> None:
        """Start every worker now, side by side (each warms its compiler, a few seconds)."""
        started: queue.Queue = queue.Queue()

        def start(worker: Worker) -> None:
            try:
                worker.ensure_started()
                started.put(None)
            except BaseException as error:
                started.put(error)

        for inbox in self._inboxes:
            inbox.put(start)
        failures = [failure for failure in (started.get() for _ in self._inboxes) if failure is not None]
        if failures:
            raise failures[0]

    def run(self, jobs: list[dict], progress: bool = False) -> Iterator[tuple[dict, list[Score]]]:
        """Each job's row end and scores, in the order jobs finish."""
        from tqdm.auto import tqdm

        queues = [collections.deque() for _ in self.workers]
        for job in jobs:
            queues[zlib.crc32(job["row"]["id"].encode()) % len(queues)].append(job)
        lock = threading.Lock()
        done: queue.Queue = queue.Queue()

        def next_job(number: int) -> dict | None:
            with lock:
                if queues[number]:
                    return queues[number].popleft()
                longest = max(queues, key=len)
                return longest.pop() if longest else None

        def serve(number: int, worker: Worker) -> None:
            try:
                while (job := next_job(number)) is not None:
                    done.put(score_job(worker, job))
            except BaseException as error:  # raised where the results are awaited, not lost with the thread
                done.put(error)
            finally:
                done.put(None)

        busy = range(min(len(self.workers), max(1, len(jobs))))
        for number in busy:
            self._inboxes[number].put(functools.partial(serve, number))
        disable = not (progress and sys.stderr.isatty())
        total = sum(len(job["candidates"]) for job in jobs)
        idle = 0
        try:
            with tqdm(total=total, desc="scoring", unit="candidate", disable=disable) as bar:
                while idle < len(busy):
                    result = done.get()
                    if result is None:
                        idle += 1
                        continue
                    if isinstance(result, BaseException):
                        raise result
                    bar.update(len(result[1]))
                    yield result
        finally:
            with lock:
                for pending in queues:
                    pending.clear()
            while idle < len(busy):  # every worker's thread back at its inbox before the next run
                idle += done.get() is None

    def close(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)
        for thread in self._threads:
            thread.join()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sources(
    rows: Sequence[dict],
    train: Sequence[dict],
    task: str,
    views: tuple[str, ...],
    predictions: Sequence[str | Path],
    baselines: Sequence[str],
) -> list[Source]:
    """The predictions files first (named by their file names, never as a baseline), then the baselines."""
    by_id = {row["id"]: row for row in rows}
    sources: list[Source] = []
    for path in predictions:
        name = Path(path).stem
        while name in BASELINES or any(source.name == name for source in sources):
            name += "'"
        texts = read_predictions(path, by_id)
        view_module.check_placeholders(Path(path).name, texts, by_id, views)
        sources.append(Source(name, texts))
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
        raise ValueError(unknown("config", config, CONFIGS))
    if task not in sft.TASKS:
        raise ValueError(unknown("task", task, sft.TASKS))
    strange = [name for name in baselines if name not in BASELINES]
    if strange:
        raise ValueError(unknown("baseline", strange[0], BASELINES))
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
    require_sandbox: bool = False,
    input_salt: str | None = None,
) -> dict[str, Any]:
    """Score every source on ``split`` of ``config`` (in ``data``: a build folder, anything
    ``load_dataset`` reads, or a ``DatasetDict``) for ``task``; write the report into ``out``
    (``summary.md``, ``summary.json``, ``rows.jsonl``, ``scores.png``) and return the summary.

    ``predictions`` are JSONL files (``predictions.py``), ``baselines`` names of built-in ones
    (``reference``, ``nearest``, ``mutate``); ``views`` the SFT views the predictions were made
    in; ``limit`` scores the split's first rows only. ``require_sandbox`` refuses to run where a
    layer of the sandbox is missing; ``input_salt`` (``fresh_salt()`` draws one) seeds the inputs
    so that no one can know them in advance (the report records it)."""
    views = check_request(config, task, views, baselines, input_sets, len(predictions) + len(baselines))
    layers = sandbox_layers(require_sandbox)
    limits = limits or Limits()
    rows, train = load_rows(data, config, split)
    rows = rows[:limit] if limit else rows
    sources = _sources(rows, train, task, views, predictions, baselines)
    oracle = ORACLE_SETS if "mutate" in baselines else 0
    gpus = _gpus() if task != PYTHON_TASK and any(row["device"] != "cpu" for row in rows) else 0
    if rows and not compiles_here(task, rows[0]["device"]):  # a split's rows share one device
        logger.warning("ptx compiles is not measured: it needs nvJitLink %s.%s or newer (the ptx extra)", *RELEASE)
    records: dict[tuple, Score] = {}  # (source, row_id, sample) -> scores
    jobs = []
    for row in rows:
        target = view_module.target_text(row, task, views)
        candidates = []
        for source in sources:
            samples = source.predictions.get(row["id"], {})
            for sample, text in sorted(samples.items()):
                code = view_module.prediction_code(text, row, views)
                record = _text_scores(source, row, sample, code, target, task, config, gpus)
                records[record.key] = record
                if not record.error:
                    candidates.append({"source": source.name, "sample": sample, "code": code})
            if not samples:
                record = _missing(source, row, task, config, gpus)
                records[record.key] = record
        jobs.append(
            {
                "row": _flat(row),
                "task": task,
                "input_sets": input_sets,
                "oracle_sets": oracle,
                "candidates": candidates,
                "limits": dataclasses.asdict(limits),
                "input_salt": input_salt or "",
                "gpus": gpus,
            }
        )
    weak: dict[str, str] = {}
    notes: dict[str, str] = {}
    preload = preloads(job["row"]["python_source"] for job in jobs)
    with Pool(layers, limits, gpus, min(workers or os.cpu_count() or 1, len(jobs)), preload) as pool:
        finished = list(pool.run(jobs, progress))
    for end, scores in finished:
        weak[end["id"]] = end["weak"]
        notes[end["id"]] = end["note"]
        for measured in scores:
            record = records[measured.key].merged(measured)
            record.harness = measured.harness or end.get("harness", "")
            record.error = record.error or (f"reference: {end['reference']}" if end["reference"] else "")
            record.reference_note = end["note"]
            if end["reference"] and record.correct is not None:
                record.correct = None  # nothing to compare with: not measured
            records[record.key] = record
    rank = {source.name: k for k, source in enumerate(sources)}
    position = {row["id"]: k for k, row in enumerate(rows)}
    ordered = [records[key] for key in sorted(records, key=lambda key: (rank[key[0]], position[key[1]], key[2] or 0))]
    for record in ordered:
        record.weak = bool(weak.get(record.id))
    request = {
        "config": config,
        "split": split,
        "task": task,
        "views": list(views),
        "input_sets": input_sets,
        "input_salt": input_salt,
        "run_limit": run_limit(limits),
        "rows": len(rows),
        "sources": [source.name for source in sources],
    }
    sandbox = {
        "in_force": [{"layer": layer.name, "confines": layer.confines} for layer in layers if not layer.missing],
        "missing": {layer.name: layer.missing for layer in layers if layer.missing},
    }
    summary = report.summarize(ordered, request, weak, notes, sandbox)
    if out is not None:
        report.write(Path(out), ordered, summary)
    return summary


def fresh_salt() -> str:
    """A salt for ``input_salt`` no one can know in advance."""
    return secrets.token_hex(8)


def _base_record(source: Source, row: dict, sample: int | None, task: str, config: str, gpus: int) -> Score:
    return Score(
        source=source.name,
        id=row["id"],
        sample=sample,
        category=row["category"],
        difficulty=row["metadata"]["difficulty"] or "real",
        config=config,
        compiles=False if compiles_here(task, row["device"]) else None,
        correct=False if launch_device(task, row["device"], gpus) else None,
        round_trip=False if task == PYTHON_TASK else None,
        note=source.notes.get(row["id"], ""),
    )


def _missing(source: Source, row: dict, task: str, config: str, gpus: int) -> Score:
    record = _base_record(source, row, None, task, config, gpus)
    record.error = "no prediction for this row"
    return record


def too_long(code: str, target: str) -> str:
    """Why a prediction is scored as wrong without being compiled ("" where it is not too long)."""
    longest = LONGEST * len(target) + LONGEST_MARGIN
    if len(code) > longest:
        return f"prediction too long: {len(code):,} characters, over {longest:,} ({LONGEST}x the reference)"
    return ""


def _text_scores(
    source: Source, row: dict, sample: int, code: str, target: str, task: str, config: str, gpus: int
) -> Score:
    record = _base_record(source, row, sample, task, config, gpus)
    record.error = too_long(code, target)
    if record.error:
        return record
    record.exact = exact(code, target)
    record.chrf = round(chrf(code, target), 4)
    return record
