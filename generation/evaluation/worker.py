"""The evaluation worker: a long-lived process that scores every candidate of one row per job.

It reads one job per line on stdin and prints events on stdout, each a line that starts with
``RESULT``: ``ready`` once warm, ``scoring`` before each phase of each candidate (so the harness
knows whose phase a death interrupted), ``scored`` with each candidate's measured ``Score`` (so
nothing finished is lost with a worker), and ``row`` at the end of a job. Warp is started once and
its compiler warmed (the precompiled header is built once); then the spawner is forked, before any
job is read, and each compile and each run is one of its children (``sandbox.children``), confined
by the layers the harness names (``--layers``). The worker itself runs only this package's code.

    python -m generation.evaluation.worker --layers landlock,seccomp   # started by harness.py
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from generation.evaluation import compare, execute
from generation.evaluation.measured import PYTHON_TASK, RESULT, adjoints_compared, compiles_here, launch_device
from generation.evaluation.sandbox.children import Outcome, Spawner
from generation.evaluation.sandbox.layers import (
    PLAN_VARIABLE,
    PRELOAD_VARIABLE,
    Plan,
    confine_child,
    load,
    runtime_paths,
)
from generation.evaluation.sandbox.limits import Limits, for_candidates
from generation.evaluation.scores import Score

REFERENCE = "r"  # the reference's folder in a job's: removed once its outputs are read
REFERENCES_KEPT = 256  # rows whose reference a worker keeps for jobs that ask (``keep_reference``)


def _warm_up(folder: Path, direct: bool = True, shared: str = "") -> str:
    """Warm the compiler. With ``direct`` (where Landlock keeps children from writing a header), every
    child's build reads a precompiled header directly: ``shared`` (the one ``header.shared_header``
    made) where Clang takes it, else one this worker makes (Clang on Warp's prelude, about 1.5 s); a
    candidate that fails to build then fails at once. Without ``direct`` (no Landlock), each child
    goes on with a copy of the worker's own in Warp's way. Returns the header's folder."""
    from generation.backend import header, warp_api

    warp_api.init_warp()
    os.chdir(folder)  # where a build that reads the header links it (``warp_api.HEADER_LINK``)
    if direct and shared:
        refused = header.read_directly(shared, folder / "warm_up_shared")
        if not refused:
            return os.path.dirname(shared)
        print(f"the shared precompiled header was refused; making one: {refused}", file=sys.stderr, flush=True)
    header.build_warm_up(folder / "warm_up")  # in Warp's way: it makes the worker's own header
    if direct:
        refused = header.read_directly(warp_api.precompiled_header_file(), folder / "warm_up_direct")
        if refused:
            print(f"children use Warp's precompiled header in Warp's way: {refused}", file=sys.stderr, flush=True)
    return warp_api.precompiled_header_folder()


def _phase(name: str, outcome: Outcome) -> str:
    return f"{name}: {outcome.failure}: {outcome.error}" if outcome.failure else ""


class SandboxFailed(RuntimeError):
    """A child failed before its work began: the harness's failure, not the candidate's."""


@dataclasses.dataclass(frozen=True)
class Job:
    """What scoring a row needs besides the job's line: where, the limits, the spawner."""

    folder: Path
    limits: Limits
    spawner: Spawner
    tell: Callable[[str, dict], None] = lambda kind, payload: None  # an event said at once, between yields

    def run(self, phase: str, work: execute.Work, folder: Path) -> Outcome:
        seconds = self.limits.compile_seconds if phase == "compile" else self.limits.run_seconds
        fresh = phase == "run" and work.launch != "cpu"  # CUDA does not survive fork
        process = [sys.executable, "-m", "generation.evaluation.execute"] if fresh else []
        outcome = self.spawner.run(phase, dataclasses.asdict(work), folder, seconds, self.limits, process)
        if outcome.failure == "sandbox":
            raise SandboxFailed(f"{phase}: {outcome.error}")
        return outcome

    def build_and_run(
        self, work: execute.Work, folder: Path, running: dict | None = None
    ) -> tuple[Outcome, Outcome | None]:
        """Compile a candidate for a CPU launch and, where it built, run it at once in the same
        child, each part within its own time limit: the compile's outcome, and the run's (None where
        it did not build). ``running`` is told (a ``scoring`` event) as the run part starts."""
        limits = self.limits
        then = (execute.COMPILED_FILE, limits.run_seconds)
        started = (lambda: self.tell("scoring", running)) if running else None
        outcome = self.spawner.run(
            "compile_and_run", dataclasses.asdict(work), folder, limits.compile_seconds, limits, (), then, started
        )
        if outcome.failure == "sandbox":
            raise SandboxFailed(f"compile: {outcome.error}")
        if not outcome.first_part_done:
            return outcome, None
        try:  # the child wrote it: a Python candidate's own code ran there, so it is read warily
            result = json.loads((folder / execute.COMPILED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        return Outcome(result if isinstance(result, dict) else {}), outcome


@dataclasses.dataclass(frozen=True)
class Reference:
    """A row's reference, built and run: its outputs (None where it could not run), the row
    kernel's (name, type) arguments, and what the row's end event says of it."""

    arrays: dict | None
    row_args: tuple
    end: dict  # reference (why it could not run), weak, note, harness
    row_unit: dict | None = None  # what its build generated, which the row's candidates' builds take as it is
    run_seconds: float = 0.0  # how long its run took: its candidates' run limit follows from it


class KeptReferences:
    """The references of the last rows scored, kept across jobs that ask for it (``keep_reference``,
    a key naming the row and its inputs): the execution reward scores a row's completions again and
    again, and its reference need not be built each time. They stay in the worker, which no child
    shares."""

    def __init__(self, size: int = REFERENCES_KEPT):
        self.size = size
        self._kept: collections.OrderedDict[str, Reference] = collections.OrderedDict()

    def get(self, key: str) -> Reference | None:
        if key in self._kept:
            self._kept.move_to_end(key)
        return self._kept.get(key)

    def keep(self, key: str, reference: Reference) -> None:
        self._kept[key] = reference
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)


def _reference(base: execute.Work, row: dict, task: str, place: Job, input_sets: range) -> Reference:
    """Build and run the row's own code (or Python, for ``forward_to_python``) on the inputs."""
    end = {"reference": "", "weak": "", "note": "", "harness": ""}
    own = row["python_source"] if task == PYTHON_TASK else row["code"]
    work = dataclasses.replace(base, code=own, python_source=row["python_source"], is_reference=True)
    try:
        reference, why, complete, row_args, seconds = _build_and_run(work, place.folder / REFERENCE, place)
    except SandboxFailed as failure:
        reference, row_args, seconds, end["harness"] = None, (), 0.0, str(failure)
    row_unit = _row_unit(place.folder / REFERENCE / execute.ROW_UNIT_FILE) if reference is not None else None
    shutil.rmtree(place.folder / REFERENCE, ignore_errors=True)
    if reference is not None:
        end["weak"] = compare.weak(reference, input_sets)
        if not complete:
            end["note"] = f"adjoints not compared: the reference's backward pass failed ({why})"
    elif not end["harness"]:
        end["reference"] = why
    return Reference(reference, row_args, end, row_unit, seconds)


def _row_unit(path: Path) -> dict | None:
    """What the reference's build left for its candidates' (the row's own code wrote it: it is
    taken only as the three strings and the metadata it should be)."""
    try:
        unit = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    shapes = {"prelude": str, "beside_forward": str, "meta": dict}
    if not isinstance(unit, dict) or any(not isinstance(unit.get(key), kind) for key, kind in shapes.items()):
        return None
    return {key: unit[key] for key in shapes}


def score_row(job: dict, place: Job, kept: KeptReferences | None = None) -> Iterator[tuple[str, dict]]:
    """The events of scoring every candidate of the job's row: compiles, correct, round_trip,
    changed and the first error.

    The reference runs first. A row whose reference forward cannot run is not measured (its
    candidates' ``correct`` is None, with the reason); one whose reference backward pass fails on
    these inputs (Warp cannot differentiate some loops) is compared on its forward outputs only.
    Each child gets only its own candidate and what it needs of the row: a Python candidate never
    gets the row's Python source, its task's answer; the reference's outputs are gone from the
    disk before any candidate runs. A job with ``keep_reference`` (a key) takes the row's reference
    from ``kept`` where it is there (its end says ``kept``), and leaves it there otherwise."""
    row, task = job["row"], job["task"]
    input_sets, all_sets = range(job["input_sets"]), range(job["input_sets"] + job.get("oracle_sets", 0))
    # None: ``correct`` is not measured here. The harness counts the GPUs: one the sandbox hides
    # from the worker makes the reference fail, visibly, rather than ``correct`` go unmeasured.
    launch = launch_device(task, row["device"], job.get("gpus", 0))
    ptx = row["device"] == "ptx"
    base = execute.Work(
        row_id=row["id"],
        kernel_name=row["kernel_name"],
        device=row["device"],
        arch=row["arch"],
        task=task,
        code="",
        backward=adjoints_compared(task, bool(row["backward"])),
        input_sets=len(all_sets),
        target_forward=row["forward"] if task == PYTHON_TASK or ptx else "",
        row_code=row["code"] if ptx else "",
        launch=launch or "cpu",
        facts=execute.launch_facts(row["python_source"], row["kernel_name"]) if launch else None,
        input_salt=job.get("input_salt", ""),
    )
    end = {"id": row["id"], "reference": "", "weak": "", "note": "", "harness": "", "kept": False}
    reference: dict | None = None
    if launch is not None:
        yield "scoring", {"source": None, "sample": None, "phase": "reference"}
        key = job.get("keep_reference") if kept is not None else None
        known = kept.get(key) if key else None
        if known is None:
            known = _reference(base, row, task, place, input_sets)
            if key and not known.end["harness"]:
                kept.keep(key, known)
        else:
            end["kept"] = True
        reference, end = known.arrays, end | known.end
        base = dataclasses.replace(base, row_args=known.row_args, row_unit=known.row_unit)
        place = dataclasses.replace(place, limits=for_candidates(place.limits, known.run_seconds))
    for number, candidate in enumerate(job["candidates"]):
        started = time.monotonic()
        scratch = place.folder / f"c{number}"
        source = "" if task == PYTHON_TASK else row["python_source"]  # the prompt, for the unit it is built in
        work = dataclasses.replace(base, code=candidate["code"], python_source=source)
        score = Score(candidate["source"], row["id"], candidate["sample"])
        try:
            if compiles_here(task, row["device"]):
                yield "scoring", {"source": score.source, "sample": score.sample, "phase": "compile"}
                running = {"source": score.source, "sample": score.sample, "phase": "run"}
                if launch == "cpu" and reference is not None:  # both phases in one child
                    outcome, ran = place.build_and_run(work, scratch, running)
                else:
                    outcome, ran = place.run("compile", work, scratch), None
                score.compiles = outcome.failure == ""
                score.error = _phase("compile", outcome)
                score.round_trip = (outcome.result or {}).get("round_trip", False if task == PYTHON_TASK else None)
                if launch is not None and reference is not None:
                    score.correct = False
                    if score.compiles:
                        yield "scoring", running  # again where the run part was quicker than the spawner's look
                        judged = _judged(work, scratch, place, reference, input_sets, all_sets, ran)
                        score.correct, score.changed, score.error = judged
        except SandboxFailed as failure:  # not measured, and said why
            score = Score(score.source, score.id, score.sample, harness=str(failure))
        score.seconds = round(time.monotonic() - started, 3)
        shutil.rmtree(scratch, ignore_errors=True)
        yield "scored", score.measured()
    yield "row", end


def _judged(work, folder: Path, place: Job, reference: dict, input_sets: range, all_sets: range, ran=None):
    """Run a built candidate (unless it ``ran`` already) and compare its outputs with the
    reference's: correct, changed, error."""
    arrays, why, complete = _run(work, folder, place, ran)
    wanted_backward = any("/adj_post/" in key for key in reference)
    if arrays is None or (wanted_backward and not complete):
        return False, True, why
    try:
        error = compare.first_mismatch(reference, arrays, input_sets)
        changed = compare.first_mismatch(reference, arrays, all_sets) != ""
    except Exception as failure:  # outputs shaped as no run phase writes them
        return False, True, f"run: its outputs could not be compared ({type(failure).__name__}: {failure})"
    return error == "", changed, error


def _run(work: execute.Work, folder: Path, place: Job, ran: Outcome | None = None) -> tuple[dict | None, str, bool]:
    """Launch a built candidate (unless it ``ran`` already, with its build): its saved arrays (None
    without a forward), why the run failed ("" if it did not), and whether every pass it had was saved."""
    outcome = ran or place.run("run", work, folder)
    arrays: dict = {}
    saved = [name for name in execute.PASSES if (folder / f"{name}.npz").exists()]
    try:
        for name in saved:
            arrays |= _arrays(folder / f"{name}.npz", place.limits.file_mb * 2**20)
    except (OSError, ValueError, zipfile.BadZipFile) as failure:
        return None, f"run: its saved outputs are not what a run phase writes ({failure})", False
    if "forward" not in saved:
        return None, _phase("run", outcome), False
    return arrays, _phase("run", outcome), len(saved) == (2 if work.backward else 1)


def _arrays(path: Path, largest: int) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` a child saved, once it is seen to be what ``np.savez`` writes:
    stored, not compressed, no larger than a file may be (a child wrote it: it may not be)."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if any(member.compress_type != zipfile.ZIP_STORED for member in members):
            raise ValueError("a compressed member")
        if sum(member.file_size for member in members) > largest:
            raise ValueError("larger than a file may be")
    with np.load(path, allow_pickle=False) as file:
        return {key: file[key] for key in file.files}


def _build_and_run(work: execute.Work, folder: Path, place: Job) -> tuple[dict | None, str, bool, tuple, float]:
    """The reference built and run: its arrays (None if it failed), why, whether complete, the
    row kernel's (name, type) arguments it wrote down, and how long its run took."""
    if work.launch == "cpu":
        outcome, ran = place.build_and_run(work, folder)
    else:
        outcome, ran = place.run("compile", work, folder), None
    if outcome.failure:
        return None, _phase("compile", outcome), False, (), 0.0
    ran = ran or place.run("run", work, folder)
    seconds = ran.second_part_seconds if ran.first_part_done else ran.seconds
    arrays, why, complete = _run(work, folder, place, ran)
    if arrays is None:
        return None, why, False, (), 0.0
    row_args = json.loads((folder / execute.ROW_ARGS_FILE).read_text())
    return arrays, why, complete, tuple(map(tuple, row_args)), seconds


def emit(kind: str, payload: dict) -> None:
    print(RESULT + json.dumps({"event": kind} | payload), flush=True)


def serve(plan: Plan, shared: str = "", modules: list[str] | None = None) -> None:
    """Score jobs from stdin until it closes."""
    os.environ[PLAN_VARIABLE] = plan.to_argument()  # for the fresh processes of GPU runs
    os.environ[PRELOAD_VARIABLE] = ",".join(modules or [])
    root = Path(tempfile.mkdtemp(prefix="wirp_eval_"))
    spawner = None
    try:
        header_folder = _warm_up(root, direct=plan.landlock, shared=shared)
        reads = (*runtime_paths(), header_folder)  # a header no child can write
        load(plan, modules or [])
        spawner = Spawner(execute.PHASES, functools.partial(confine_child, plan=plan, reads=reads))
        read = "shared" if shared and header_folder == os.path.dirname(shared) else "own"
        emit("ready", {"layers": plan.to_argument(), "header": read})
        kept = KeptReferences()
        for number, line in enumerate(sys.stdin):
            job = json.loads(line)
            place = Job(root / f"job{number}", Limits(**job.get("limits", {})), spawner, emit)
            try:
                for kind, payload in score_row(job, place, kept):
                    emit(kind, payload)
            finally:
                shutil.rmtree(place.folder, ignore_errors=True)
    finally:
        if spawner is not None:
            spawner.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="", help="the child layers to apply: landlock, seccomp, namespaces")
    parser.add_argument("--header", default="", help="a precompiled header header.py made, to read directly")
    parser.add_argument("--preload", action="append", default=[], help="a trusted module to import before any child")
    args = parser.parse_args()
    serve(Plan.from_argument(args.layers), args.header, args.preload)


if __name__ == "__main__":
    main()
