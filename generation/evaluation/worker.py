"""The evaluation worker: a long-lived child that scores every candidate of one row per job.

It reads one job per line on stdin and prints one result line per job. Warp is started once and
its compiler warmed (the precompiled header is built once); each compile and each run is then a
forked child of this process (``sandbox.in_child``), so no candidate shares a process with
another. The worker itself runs only this package's code: the candidates run in the children.

    python -m generation.evaluation.worker    # started by harness.py, fed JSON lines
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from generation.evaluation import compare, execute
from generation.evaluation.measured import PYTHON_TASK, RESULT, compiles_here, launch_device
from generation.evaluation.sandbox import Limits, Outcome, in_child, in_process

WARM_UP = """
import warp as wp

@wp.kernel
def warm(a: wp.array(dtype=float)):
    a[wp.tid()] = 1.0
"""


def _warm_up(folder: Path) -> None:
    """Build one small kernel in debug mode, into an empty kernel cache so that Clang really runs:
    it makes the precompiled header (about 2 s) that every child then reuses."""
    import warp as wp

    from generation.backend import warp_api
    from generation.backend.source_module import kernel_named, loaded_source

    warp_api.init_warp()
    wp.config.kernel_cache_dir = str(folder / "warm_up")
    with loaded_source(WARM_UP) as module:
        warp_api.load_on_cpu(kernel_named(module, "warm"), execute.CPU_MODE)


def _phase(name: str, outcome: Outcome) -> str:
    return f"{name}: {outcome.failure}: {outcome.error}" if outcome.failure else ""


def score_row(job: dict, folder: Path, limits: Limits, gpus: int = 0) -> dict:
    """Every candidate of the job's row: compiles, correct, round_trip, changed and the first error.

    The reference runs first. A row whose reference forward cannot run is not measured (its
    candidates' ``correct`` is None, with the reason); one whose reference backward pass fails on
    these inputs (Warp cannot differentiate some loops) is compared on its forward outputs only."""
    row, task = job["row"], job["task"]
    input_sets, all_sets = range(job["input_sets"]), range(job["input_sets"] + job.get("oracle_sets", 0))
    launch = launch_device(task, row["device"], gpus)  # None: ``correct`` is not measured here
    runs = launch is not None
    base = execute.Work(
        row_id=row["id"],
        kernel_name=row["kernel_name"],
        python_source=row["python_source"],
        device=row["device"],
        arch=row["arch"],
        task=task,
        code="",
        backward=bool(row["backward"]),
        input_sets=len(all_sets),
        target_forward=row["forward"],
        row_code=row["code"],
        launch=launch or "cpu",
    )
    result: dict = {"id": row["id"], "reference": "", "weak": "", "note": "", "candidates": []}
    reference: dict | None = None
    if runs:
        own = row["python_source"] if task == PYTHON_TASK else row["code"]
        reference, why, complete = _build_and_run(
            dataclasses.replace(base, code=own, is_reference=True), folder / "r", limits
        )
        if reference is None:
            result["reference"] = why
        else:
            result["weak"] = compare.weak(reference, input_sets)
            if not complete:
                result["note"] = f"adjoints not compared: the reference's backward pass failed ({why})"
    for number, candidate in enumerate(job["candidates"]):
        started = time.monotonic()
        scratch = folder / f"c{number}"
        work = dataclasses.replace(base, code=candidate["code"])
        scores = {"key": candidate["key"], "compiles": None, "correct": None, "round_trip": None, "changed": None}
        scores["error"] = ""
        if compiles_here(task, row["device"]):
            outcome = in_child(lambda w=work: execute.compile_phase(w), scratch, limits.compile_seconds, limits)
            scores["compiles"] = outcome.failure == ""
            scores["error"] = _phase("compile", outcome)
            scores["round_trip"] = (outcome.result or {}).get("round_trip", False if task == PYTHON_TASK else None)
            if runs and reference is not None:
                scores |= _judged(work, scratch, limits, reference, input_sets, all_sets) if scores["compiles"] else {}
                scores["correct"] = bool(scores["compiles"] and scores.get("correct"))
        scores["seconds"] = round(time.monotonic() - started, 3)
        result["candidates"].append(scores)
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _judged(work, folder: Path, limits: Limits, reference: dict, input_sets: range, all_sets: range) -> dict:
    """Run a built candidate and compare its outputs with the reference's."""
    arrays, why, complete = _run(work, folder, limits)
    wanted_backward = any("/adj_post/" in key for key in reference)
    if arrays is None or (wanted_backward and not complete):
        return {"correct": False, "changed": True, "error": why}
    error = compare.first_mismatch(reference, arrays, input_sets)
    changed = compare.first_mismatch(reference, arrays, all_sets) != ""
    return {"correct": error == "", "changed": changed, "error": error}


def _run(work: execute.Work, folder: Path, limits: Limits) -> tuple[dict | None, str, bool]:
    """Launch a built candidate: its saved arrays (None without a forward), why the run failed
    ("" if it did not), and whether every pass it had was saved. A GPU launch runs in a fresh
    process: CUDA does not survive ``fork``."""
    if work.launch == "cpu":
        outcome = in_child(lambda: execute.run_phase(work), folder, limits.run_seconds, limits)
    else:
        command = [sys.executable, "-m", "generation.evaluation.execute"]
        outcome = in_process(command, json.dumps(dataclasses.asdict(work)), folder, limits.run_seconds, limits)
    arrays: dict = {}
    saved = [name for name in execute.PASSES if (folder / f"{name}.npz").exists()]
    for name in saved:
        with np.load(folder / f"{name}.npz", allow_pickle=False) as file:
            arrays |= {key: file[key] for key in file.files}
    if "forward" not in saved:
        return None, _phase("run", outcome), False
    return arrays, _phase("run", outcome), len(saved) == (2 if work.backward else 1)


def _build_and_run(work: execute.Work, folder: Path, limits: Limits) -> tuple[dict | None, str, bool]:
    outcome = in_child(lambda: execute.compile_phase(work), folder, limits.compile_seconds, limits)
    if outcome.failure:
        return None, _phase("compile", outcome), False
    return _run(work, folder, limits)


def serve() -> None:
    """Score jobs from stdin until it closes, one result line per job."""
    from generation.backend import warp_api

    root = Path(tempfile.mkdtemp(prefix="wirp_eval_"))
    try:
        _warm_up(root)
        gpus = warp_api.cuda_device_count()
        for number, line in enumerate(sys.stdin):
            job = json.loads(line)
            limits = Limits(**job.get("limits", {}))
            folder = root / f"job{number}"
            try:
                result = score_row(job, folder, limits, gpus)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            print(RESULT + json.dumps(result), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    serve()
