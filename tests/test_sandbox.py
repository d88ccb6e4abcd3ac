"""The evaluation sandbox: planted escapes beside the ``reference`` baseline, a candidate's fate its
own when a worker dies, salted inputs, and the layers a run reports.

Each planted escape (``escapes.py``) is a row's own answer plus one attempt to get out: a program
run, a file written or read outside its folder, a process left behind, a signal to the harness, a
bomb, a connection. The runs require the whole sandbox, so each attempt is stopped by a known guard
first: every test checks that nothing landed, that the candidate failed with that guard's error (it
was scored: never n/m), and that the reference scored in full on the same rows and workers.
"""

from __future__ import annotations

import json
import os
import secrets
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, load, run_python
from direct import reference_phases
from escapes import Places, cpp_prediction, escapes, python_cheats, python_prediction

from generation import cli
from generation.evaluation import harness
from generation.evaluation.predictions import write_predictions
from generation.evaluation.sandbox.layers import PLAN_VARIABLE, PRELOAD_VARIABLE, Plan, layers_here
from generation.evaluation.sandbox.limits import Limits, for_candidates

# Tests that need every layer run where the machine has them all, and must run on CI (.ci/run sets
# WIRP_REQUIRE_SANDBOX): elsewhere (no unprivileged user namespaces, an old kernel) they are skipped,
# naming what is missing, as eval itself warns there.
MISSING = "; ".join(f"{layer.name}: {layer.missing}" for layer in layers_here() if layer.missing)
needs_every_layer = pytest.mark.skipif(
    bool(MISSING) and not os.environ.get("WIRP_REQUIRE_SANDBOX"), reason=f"the sandbox is not complete here ({MISSING})"
)

# An endless loop costs 3 s in a run, 5 s in an import (a Python candidate's compile phase).
LIMITS = Limits(compile_seconds=5, run_seconds=3, memory_mb=2048, file_mb=16)
ROWS = 6  # the escapes are planted as several samples of each of these rows, beside each row's reference


class Listener(socketserver.ThreadingTCPServer):
    """A TCP server on 127.0.0.1 that keeps whatever reaches it."""

    daemon_threads = True

    def __init__(self):
        self.received: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer.received.append(self.request.recv(64) or b"(connected)")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def _processes_named(name: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if name in Path(f"/proc/{pid}/comm").read_text():
                found.append(int(pid))
        except OSError:
            pass
    return found


def _landed(at: Places) -> list[str]:
    """Every trace an escape left where the test can see it."""
    traces = [str(path) for path in Path(at.landing).iterdir()]
    traces += [
        str(path) for folder in (tempfile.gettempdir(), "/tmp", at.data) for path in Path(folder).glob(f"*{at.token}*")
    ]
    return traces + [f"process {pid}" for pid in _processes_named(f"wd{at.token}"[:15])]


def escaped_run(builds, tmp_path, monkeypatch, task: str) -> tuple[list[dict], Places, Listener, Path]:
    """Score the planted escapes of ``task`` on the first rows of the small ``cpu`` build, several
    samples a row, beside the reference, with the whole sandbox required."""
    rows = list(builds["cpu"]["train"])
    server = Listener()
    home = tmp_path / "home"
    home.mkdir()
    at = Places(
        token=secrets.token_hex(4),
        landing=str(tmp_path / "landing"),
        data=str(Path(builds["cpu"]["train"].cache_files[0]["filename"]).parent),
        secret_file=str(home / "credentials"),
        secret=f"secret-{secrets.token_hex(8)}",
        port=server.server_address[1],
    )
    Path(at.landing).mkdir()
    Path(at.secret_file).write_text(at.secret)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WIRP_TEST_SECRET", at.secret)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    planted = escapes(at) + (python_cheats() if task == "forward_to_python" else [])
    predictions: dict[str, dict[int, str]] = {}
    where = {}  # (row id, sample) -> the escape planted there
    for number, escape in enumerate(planted):
        row = rows[number % ROWS]
        if task == "forward_to_python":
            text = python_prediction(row["python_source"], row["kernel_name"], escape)
        else:
            text = cpp_prediction(row["forward"], escape)
        predictions.setdefault(row["id"], {})[number // ROWS] = text
        where[row["id"], number // ROWS] = escape
    write_predictions(tmp_path / "escapes.jsonl", predictions)
    harness.evaluate(
        builds["cpu"],
        "cpu",
        "train",
        task,
        predictions=[tmp_path / "escapes.jsonl"],
        baselines=["reference"],
        out=tmp_path / "report",
        limit=ROWS,
        limits=LIMITS,
        require_sandbox=True,
        progress=False,
    )
    records = [json.loads(line) for line in open(tmp_path / "report" / "rows.jsonl")]
    for record in records:
        record["escape"] = where.get((record["id"], record["sample"])) if record["source"] == "escapes" else None
    assert sum(record["escape"] is not None for record in records) == len(planted)
    assert list((tmp_path / "tmp").iterdir()) == []  # the harness's temporary folder went with it
    return records, at, server, tmp_path / "report"


def check_escapes(records: list[dict], at: Places, server: Listener, report: Path) -> None:
    failures = []
    for record in (r for r in records if r["source"] == "escapes"):
        escape = record["escape"]
        failed = record["compiles"] is False or record["correct"] is False
        if not failed or escape.guard not in record["error"] or record["harness"]:
            failures.append((escape.kind, record["compiles"], record["correct"], record["error"], record["harness"]))
    assert not failures, "\n".join(map(str, failures))
    reference = [r for r in records if r["source"] == "reference"]
    assert all(r["compiles"] and r["correct"] for r in reference), [r["error"] for r in reference if not r["correct"]]
    assert _landed(at) == []
    assert server.received == []
    for path in report.iterdir():
        assert at.secret not in path.read_text(errors="replace"), path


@pytest.mark.long
@needs_every_layer
def test_cpp_escapes_are_stopped_and_scored_beside_an_unharmed_reference(builds, tmp_path, monkeypatch):
    check_escapes(*escaped_run(builds, tmp_path, monkeypatch, "python_to_forward"))


@pytest.mark.long
@needs_every_layer
def test_python_escapes_and_cheats_are_stopped_and_scored_beside_an_unharmed_reference(builds, tmp_path, monkeypatch):
    check_escapes(*escaped_run(builds, tmp_path, monkeypatch, "forward_to_python"))


class KillingWorker(harness.Worker):
    """A real worker killed (from outside, with SIGKILL) once in each of the phases named in
    ``victims``: (source, phase), source None for the reference's own."""

    victims: set = set()

    def _events(self):
        for event in super()._events():
            yield event
            victim = (event.get("source"), event.get("phase"))
            if event["event"] == "scoring" and victim in self.victims:
                self.victims.discard(victim)
                self.process.kill()


def test_a_dead_worker_fails_only_the_candidate_it_ran_and_the_rest_is_scored_again(builds, tmp_path, monkeypatch):
    """The worker dies in a candidate's run phase, then (rescoring) in the reference's: the candidate
    fails alone with its error, and every other prediction of its row and of the rows after it is
    scored in a fresh worker as if nothing had happened: no n/m, no harness failure."""
    rows = list(builds["cpu"]["train"])[:2]
    write_predictions(tmp_path / "victim.jsonl", {row["id"]: {0: row["forward"]} for row in rows})
    KillingWorker.victims = {("victim", "run"), (None, "reference")}
    monkeypatch.setattr(harness, "Worker", KillingWorker)
    summary = harness.evaluate(
        builds["cpu"],
        "cpu",
        "train",
        predictions=[tmp_path / "victim.jsonl"],
        baselines=["reference"],
        out=tmp_path / "r",
        limit=2,
        workers=1,
        progress=False,
    )
    assert KillingWorker.victims == set()  # both deaths happened
    records = [json.loads(line) for line in open(tmp_path / "r" / "rows.jsonl")]
    victim = [r for r in records if r["source"] == "victim" and r["correct"] is False]
    assert len(victim) == 1 and victim[0]["compiles"] is True, records
    assert "the evaluation worker died" in victim[0]["error"] and "run phase" in victim[0]["error"]
    assert summary["sources"]["reference"]["overall"]["correct"] == 1.0
    assert summary["sources"]["victim"]["overall"]["correct"] == 0.5
    assert all(r["correct"] is not None and not r["harness"] for r in records)


class RecordingWorker(harness.Worker):
    """A real worker that keeps every job it is given."""

    jobs: list = []

    def score(self, job):
        self.jobs.append(job)
        return super().score(job)


def test_a_salt_draws_other_inputs_and_the_report_records_it(builds, published, tmp_path, monkeypatch):
    """Salted inputs differ from the published ones, the salt reaches every job, and the reference
    still scores in full; the CLI's bare ``--input-salt`` draws a fresh salt, which the report keeps
    (the run can be repeated with it)."""
    published_inputs, salted = (reference_phases(builds["cpu"]["train"][0], salt=salt) for salt in ("", "a"))
    assert published_inputs.keys() == salted.keys()
    inputs = [key for key in published_inputs if "/pre/" in key]
    assert any(not np.array_equal(published_inputs[key], salted[key]) for key in inputs)
    RecordingWorker.jobs = []
    monkeypatch.setattr(harness, "Worker", RecordingWorker)
    summary = harness.evaluate(builds["cpu"], "cpu", "train", baselines=["reference"], limit=4, input_salt="a")
    assert summary["request"]["input_salt"] == "a"
    assert len(RecordingWorker.jobs) == 4 and all(job["input_salt"] == "a" for job in RecordingWorker.jobs)
    assert summary["sources"]["reference"]["overall"]["correct"] == 1.0
    data, _ = published
    command = ["eval", str(data), "--config", "cpu", "--split", "train", "--baseline", "reference", "--limit", "1"]
    assert cli.main([*command, "--workers", "1", "--input-salt", "--out", str(tmp_path / "r")]) == 0
    salt = json.loads((tmp_path / "r" / "summary.json").read_text())["request"]["input_salt"]
    assert len(salt) == 16 and salt != harness.fresh_salt()


LANDLOCK_MISSING = """
import sys
sys.modules["landlockpy"] = None  # as if it were not installed
import datasets
from generation.evaluation import harness
rows = datasets.load_from_disk(sys.argv[1])
try:
    harness.evaluate(rows, "cpu", "train", baselines=["reference"], limit=1, require_sandbox=True, progress=False)
except harness.EvaluationError as error:
    print("refused:", error)
for _ in range(2):
    summary = harness.evaluate(rows, "cpu", "train", baselines=["reference"], limit=1, progress=False)
print("missing:", sorted(summary["sandbox"]["missing"]), summary["sources"]["reference"]["overall"]["correct"])
"""


@needs_every_layer
def test_the_report_lists_the_layers_in_force_and_a_missing_layer_is_refused_when_required(builds, tmp_path):
    """Here every layer is in force, and the summary lists them. Without ``landlockpy`` the Landlock
    layer is missing: ``require_sandbox`` refuses to run, naming it; without the requirement the
    run warns once (however many runs) and the report names it."""
    assert [layer.name for layer in layers_here() if not layer.missing] == [
        "namespaces",
        "landlock",
        "seccomp",
        "limits",
    ]
    builds["cpu"].save_to_disk(str(tmp_path / "rows"))
    done = subprocess.run(
        [sys.executable, "-c", LANDLOCK_MISSING, str(tmp_path / "rows")],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert "refused: the sandbox is not complete here and require_sandbox is set (landlock:" in done.stdout, (
        done.stdout + done.stderr[-2000:]
    )
    assert "missing: ['landlock'] 1.0" in done.stdout
    assert done.stderr.count("sandbox layer landlock is missing") == 1


@needs_every_layer
def test_what_a_worker_sees_below_its_scratch_folder_stays_visible(tmp_path):
    """A checkout (its environment, its ``generation``) may lie in ``/tmp``, where a worker's own
    scratch folder is mounted: it is bound on top of the scratch, not hidden by it."""
    from generation.evaluation.sandbox import namespaces

    assert str(tmp_path).startswith(namespaces.SCRATCH + "/")
    (tmp_path / "seen.txt").write_text("seen\n")
    command = ["/bin/sh", "-c", f"cat {tmp_path}/seen.txt; touch {tmp_path}/written || echo read-only"]
    argv = namespaces.wrapped(command, [str(tmp_path)], {"PATH": "/usr/bin:/bin"}, 16, gpu=False)
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.stdout.split() == ["seen", "read-only"], done.stderr
    assert not (tmp_path / "written").exists()


class StartRecordingWorker(harness.Worker):
    """A real worker that notes which precompiled header it read at each start."""

    read: list = []

    def ensure_started(self):
        started = self.process is None or self.process.poll() is not None
        super().ensure_started()
        if started:
            self.read.append(self.header_read)


@needs_every_layer
def test_workers_read_the_header_made_once_and_make_their_own_when_it_is_refused(builds, tmp_path, monkeypatch):
    """The first evaluation on a machine makes Warp's precompiled header once, in the user's cache,
    and its workers read it (no Clang run on Warp's prelude at each start); so does a later one's. A
    header Clang refuses (damaged, or from another Warp) is set aside: each worker makes its own, the
    scores are the same, and the next evaluation makes the header again."""
    monkeypatch.setenv("WARP_IR_PAIRS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(harness, "Worker", StartRecordingWorker)

    def reference_scores(workers: int) -> float:
        summary = harness.evaluate(builds["cpu"], "cpu", "train", baselines=["reference"], limit=2, workers=workers)
        return summary["sources"]["reference"]["overall"]["correct"]

    StartRecordingWorker.read = []
    assert reference_scores(2) == 1.0 and reference_scores(1) == 1.0
    assert StartRecordingWorker.read == ["shared"] * 3
    (made,) = (tmp_path / "cache" / "headers").iterdir()
    made.write_bytes(b"not a precompiled header")
    StartRecordingWorker.read = []
    assert reference_scores(1) == 1.0
    assert StartRecordingWorker.read == ["own"] and not made.exists()  # the next evaluation makes it again
    assert reference_scores(1) == 1.0 and StartRecordingWorker.read == ["own", "shared"]


def test_a_candidate_may_run_ten_times_its_reference_and_at_least_five_seconds():
    """A candidate that loops for ever costs seconds, not the minute a reference may take."""
    limits = Limits(run_seconds=60)
    assert for_candidates(limits, 0.05).run_seconds == 5.0  # the floor: a reference's usual fraction of a second
    assert for_candidates(limits, 2.0).run_seconds == 20.0  # ten times a slow reference's
    assert for_candidates(limits, 30.0).run_seconds == 60.0  # never past the limit asked for
    assert for_candidates(Limits(run_seconds=3), 0.05).run_seconds == 3.0
    assert for_candidates(limits, 0.05).compile_seconds == limits.compile_seconds


WARP_TEST_FILE = """import warp as wp
from warp.tests.unittest_utils import *


@wp.kernel
def doubled(x: wp.array(dtype=float), y: wp.array(dtype=float)):
    i = wp.tid()
    y[i] = 2.0 * x[i]
"""


@needs_every_layer
def test_a_row_from_warps_tests_is_scored_in_the_sandbox(tmp_path):
    """Warp's test utilities start a program when imported (``ldconfig``, for ``ctypes.util.find_library``),
    and the sandbox ends a child that does: the reference of every row harvested from Warp's tests
    failed to compile (46 of the default ``real_cpu`` test split's 84). The workers import them before
    forking any child (``harness.PRELOADABLE``)."""
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "test_doubled.py").write_text(WARP_TEST_FILE)
    rows = load("real_cpu", tmp_path / "cache", paths=[str(tmp_path / "kernels")], num_validation=0, num_test=0)
    assert "from warp.tests.unittest_utils import *" in rows["train"][0]["python_source"]
    summary = harness.evaluate(
        rows, "real_cpu", "train", baselines=["reference"], require_sandbox=True, progress=False, workers=1
    )
    assert summary["sources"]["reference"]["overall"]["correct"] == 1.0


@needs_every_layer
def test_a_fresh_process_imports_what_its_worker_preloaded_before_its_seccomp(monkeypatch):
    """A GPU run starts a fresh process (CUDA does not survive ``fork``), which applies the worker's
    seccomp filter itself: it imports the worker's preloaded modules first, or Warp's test utilities
    end it there too. The same path, on the CPU."""
    row = {"id": "fresh", "kernel_name": "doubled", "python_source": WARP_TEST_FILE}
    monkeypatch.setenv(PLAN_VARIABLE, Plan(seccomp=True).to_argument())
    monkeypatch.setenv(PRELOAD_VARIABLE, "")
    with pytest.raises(AssertionError, match="SIGSYS"):
        reference_phases(row, fresh_process=True)
    monkeypatch.setenv(PRELOAD_VARIABLE, "warp.tests.unittest_utils")
    assert np.array_equal(reference_phases(row, fresh_process=True)["0/post/y"], 2.0 * reference_phases(row)["0/pre/x"])


FLOOD_CHECK = """
import json, resource, sys
from pathlib import Path
from generation.evaluation.sandbox.children import _first_error

resource.setrlimit(resource.RLIMIT_CPU, (20, 20))  # a worker that spent longer would be killed here
output = Path(sys.argv[1])
output.write_text("Warp 1.19\\n/tmp/wirp_x/scratch/unit.cpp:12:3: error: no member named 'foo'\\n")
path = _first_error(output)
output.write_text("error: " + "a/" * 65536 + "\\n")
print(json.dumps([path, len(_first_error(output))]))
"""


def test_a_childs_output_is_read_for_its_first_error_in_time_linear_in_its_size(tmp_path):
    """A candidate's output is read by its worker, outside the child's limits: a 128 KB line of
    ``a/a/...`` (the shape that makes a scratch-path pattern tried from every position quadratic)
    costs milliseconds, not the two minutes it once took, and paths still lose their folders."""
    read = json.loads(run_python(FLOOD_CHECK, str(tmp_path / "output")))  # fails where killed at 20 CPU seconds
    assert read == ["unit.cpp:12:3: error: no member named 'foo'", 300]
