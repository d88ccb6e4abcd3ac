"""Import mode: import the harvested files in a child process and take every kernel Warp then knows.

Static mode (``harvest.py``) only reads files, so it cannot see kernels that code makes: factory
products, overloads registered in loops. Import mode runs the package, as ``trust_remote_code``
would, in a child process so that nothing it does (settings, hangs, crashes) reaches the build:

- the child imports each harvested file as its module, one step at a time, and reports each step
  before taking it (``progress.jsonl``);
- then it runs the user's setup script, if any (``import_setup``: what makes the kernels a package
  builds only when used);
- then it writes every kernel whose function lives in a harvested file, and each concrete overload
  of a generic one, as a self-contained module (``synthesis.py``);
- the parent waits at most ``timeout`` seconds for each step. A step that hangs or ends the process
  is counted against its file and the child is started again without it.

Every kernel definition in the files is accounted for: it gives rows, or it is counted as a skip
(its file failed to import, no import made it, or its values cannot be written out).

The child is ``generation/backend/import_child.py``, beside the Warp code it drives.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from generation.backend import run_step
from generation.backend.children import child_environment, network_isolation_available
from generation.source.spec import Failure

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120  # seconds one step (one file's import, one kernel's writing) may take
POLL_SECONDS = 0.05


@dataclass
class ImportedKernel:
    """A kernel (or one overload of a generic kernel) the child wrote out."""

    origin: str  # the file it was defined in, as rows name it
    qualname: str  # ``make_fill.<locals>.fill`` for a factory's product
    line: int  # the definition's first line (its first decorator)
    overload: str  # Warp's signature of the overload (``a1f4_a1f4``), "" for a concrete kernel
    name: str  # the kernel's name in ``python_source``
    python_source: str
    files: list[str]  # the other harvested files its definitions came from
    doc: str
    built_by: str = ""  # run mode: the test (pytest node id) or script that built it; "" when the import did
    run: str = ""  # run mode: the command (as rows show it) of the part that took it


class ImportModeError(ValueError):
    """Import mode could not run at all (the child fails before its first file): shown like a bad option."""


@dataclass(frozen=True)
class Unmade:
    """A kernel definition that gave no kernel: where it is, and why (its file's import failed, or
    nothing made it)."""

    origin: str
    first_line: int  # its first decorator's
    def_line: int
    failure: Failure


@dataclass
class ImportResult:
    kernels: list[ImportedKernel] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)  # kernels not written out, steps left out
    unmade: list[Unmade] = field(default_factory=list)
    made: set[tuple[str, int]] = field(default_factory=set)  # (origin, line) of each definition that gave a kernel
    run_failures: list[tuple[str, str]] = field(default_factory=list)  # run mode: (command shown, why, in one line)

    @property
    def failures(self) -> list[Failure]:
        """Every skip: kernels, steps and definitions."""
        return self.skipped + [unmade.failure for unmade in self.unmade]


def merged(parts: list[ImportResult]) -> ImportResult:
    """The results of run mode's parts as one: a kernel several parts took counts once (with the
    test that built it, where one did), a skip once, and a definition is unmade only if no part
    made it. Parts are told apart by their commands, so a kernel that repeats inside a part
    collapses too (one run repeats it; its plan counts the repeat as a duplicate)."""
    made = set().union(*(part.made for part in parts))
    kernels: dict[tuple, ImportedKernel] = {}
    for kernel in (kernel for part in parts for kernel in part.kernels):
        key = (kernel.origin, kernel.qualname, kernel.overload, kernel.python_source)
        if key not in kernels or (kernel.built_by and not kernels[key].built_by):
            kernels[key] = kernel
    # A generic kernel one part never launched is written as it stands; a part that launched it wrote
    # its overloads instead, as one run of both parts would have.
    launched = {(k.origin, k.qualname) for k in kernels.values() if k.overload}
    kernels = {key: k for key, k in kernels.items() if k.overload or (k.origin, k.qualname) not in launched}
    unmade: dict[tuple[str, int], Unmade] = {}
    for u in (u for part in parts for u in part.unmade):
        if (u.origin, u.first_line) not in made and (u.origin, u.def_line) not in made:
            unmade.setdefault((u.origin, u.first_line), u)
    return ImportResult(
        sorted(kernels.values(), key=lambda k: (k.origin, k.line, k.qualname, k.overload, k.python_source)),
        list(dict.fromkeys(failure for part in parts for failure in part.skipped)),
        list(unmade.values()),
        made,
        [failure for part in parts for failure in part.run_failures],
    )


RUN_PROGRAMS = ("pytest", "python")
RUN_STEP = "run"
RUN_GRACE = 60  # seconds past the command's own limit before the parent stops the child
# A test that ends the process is left out and the command run again; after this many, the command is.
CRASHED_TESTS_RETRIED = 10


@dataclass(frozen=True)
class RunCommand:
    """Run mode's command: ``pytest ARGS``, ``python FILE ARGS`` or ``python -m MODULE ARGS``, run in
    the child after the imports, for at most ``seconds``, in a working copy of the folder the build
    started in (``run_step.working_copy``); rows record it as given, an absolute path by its name."""

    text: str
    seconds: float = 600

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def shown(self) -> str:
        """The command as rows record it: an absolute path reduced to its name."""
        return shlex.join(Path(arg).name if Path(arg).is_absolute() else arg for arg in shlex.split(self.text))


def parse_run_command(text: str) -> RunCommand:
    """A run command checked: one of ``RUN_PROGRAMS`` with what it runs; an error naming it otherwise."""
    try:
        argv = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"run_command {text!r} cannot be split into arguments: {error}") from None
    if not argv or argv[0] not in RUN_PROGRAMS or (argv[0] == "python" and len(argv) < 2 + (argv[1:2] == ["-m"])):
        raise ValueError(
            f"run_command must be 'pytest ARGS', 'python FILE ARGS' or 'python -m MODULE ARGS', got {text!r}"
        )
    return RunCommand(text)


# -- the parent --------------------------------------------------------------------------------


def import_kernels(
    files: list[tuple[str, Path, Path]],
    timeout: float = DEFAULT_TIMEOUT,
    setup: str | None = None,
    runs: tuple[RunCommand, ...] = (),
) -> ImportResult:
    """Import mode (no ``runs``), or run mode with each command of ``runs`` as a part: a child of
    its own per part, as many side by side as there are cores, the parts' results ``merged``."""
    if len(runs) <= 1:
        return import_part(files, timeout, setup, runs[0] if runs else None)
    with ThreadPoolExecutor(max_workers=min(len(runs), os.cpu_count() or 1)) as pool:
        parts = list(pool.map(lambda run: import_part(files, timeout, setup, run), runs))
    return merged(parts)


def import_part(
    files: list[tuple[str, Path, Path]],
    timeout: float = DEFAULT_TIMEOUT,
    setup: str | None = None,
    run: RunCommand | None = None,
) -> ImportResult:
    """Run the child on ``files`` ((origin, path, root) of each), then ``setup`` (a script that makes
    the kernels a package builds only when used), then ``run`` (run mode's command), until it
    finishes, leaving out each file or kernel that hangs past ``timeout`` seconds or ends the
    process, and the command if it ends the process or outlives its own limit."""
    left_out: dict[str, Failure] = {}  # step -> why ("test NODE_ID": a test of the command)
    while True:
        with tempfile.TemporaryDirectory(prefix="wirp-import-") as folder:
            outcome = _run_child(Path(folder), files, left_out, timeout, setup, run)
        if isinstance(outcome, ImportResult):
            if run is not None:
                tests = [(run.shown, f.message) for step, f in left_out.items() if step.startswith("test ")]
                whole = [(run.shown, left_out[RUN_STEP].message)] if RUN_STEP in left_out else []
                outcome.run_failures = tests + (whole or outcome.run_failures)
            return outcome
        step, failure = outcome
        is_test = step.startswith("test ")
        if is_test and (step in left_out or sum(s.startswith("test ") for s in left_out) >= CRASHED_TESTS_RETRIED):
            step = RUN_STEP  # the whole command left out, as for a script that ends the process
            failure = Failure(failure.kind, f"{failure.message}, after {CRASHED_TESTS_RETRIED} tests were left out")
            is_test = False
        if step in left_out or not (step.startswith(("import ", "kernel ")) or step == RUN_STEP or is_test):
            raise ImportModeError(f"import mode stopped: {failure.message}")  # the setup, or the child itself
        again = "running the command again without it" if is_test else "starting the import again without it"
        logger.warning("%s; %s", failure.message, again)
        left_out[step] = failure


def _run_child(
    folder: Path, files, left_out: dict[str, Failure], timeout: float, setup, run: RunCommand | None
) -> ImportResult | tuple:
    job = {
        "files": [[origin, str(path), str(root)] for origin, path, root in files],
        "setup": str(Path(setup).resolve()) if setup else None,
        "left_out": {step: [f.kind, f.message] for step, f in left_out.items()},
        "progress": str(folder / "progress.jsonl"),
        "result": str(folder / "result.json"),
        "parent": os.getpid(),  # the child watches this process, and ends with it
        "run": {
            "argv": run.argv,
            "seconds": run.seconds,
            "folder": os.getcwd(),
            "started": str(folder / "tests_started.txt"),  # each test's node id and name, as it starts
            "deselect": [step.removeprefix("test ") for step in left_out if step.startswith("test ")],
        }
        if run
        else None,
    }
    (folder / "job.json").write_text(json.dumps(job))
    # What the child and its command leave in a temporary folder (pytest's `tmp_path`, NVRTC's
    # precompiled headers, 80 MB each, from Warp's own tests) goes into this part's folder and is
    # removed with it, whether the part finishes or is killed.
    (folder / "tmp").mkdir()
    env = child_environment(TMPDIR=str(folder / "tmp"))
    command = [sys.executable, "-m", "generation.backend.import_child", str(folder / "job.json")]
    if run is not None and network_isolation_available():  # the command runs with no network
        command = ["unshare", "--user", "--map-root-user", "--net", *command]
    with open(folder / "output.log", "wb") as log:
        child = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills everything it started
        )
        try:
            step, started = "", time.monotonic()
            while child.poll() is None:
                latest = _last_step(folder / "progress.jsonl")
                limit = run.seconds + RUN_GRACE if run is not None and latest == RUN_STEP else timeout
                if latest != step:
                    step, started = latest, time.monotonic()
                elif time.monotonic() - started > limit:
                    return step, Failure("import_timeout", f"{_step_text(step)} did not finish in {limit:g} s")
                time.sleep(POLL_SECONDS)
        finally:
            _kill(child)
    if child.returncode == 0 and (folder / "result.json").exists():
        try:
            return _read_result(json.loads((folder / "result.json").read_text()), run)
        except (ValueError, KeyError, TypeError) as error:  # the harvested code ran in the child that wrote it
            what = "the run command" if run is not None else "the import"
            why = f"{what} left a result that is not what the child writes ({type(error).__name__}: {error})"
            return (RUN_STEP if run is not None else "result"), Failure("import_crashed", why)
    step = _last_step(folder / "progress.jsonl")
    tail = (folder / "output.log").read_bytes()[-300:].decode(errors="replace").strip().splitlines()
    why = f"exit code {child.returncode}" + (f": {tail[-1]}" if tail else "")
    test = _test_that_ended(folder / "tests_started.txt") if step == RUN_STEP and run.argv[0] == "pytest" else None
    if test is not None:  # a test ended it: the command can run again without it
        node, name = test
        return f"test {node}", Failure("import_crashed", f"the test {name} ended the process ({why})")
    return step, Failure("import_crashed", f"{_step_text(step)} ended the process ({why})")


def _test_that_ended(started: Path) -> tuple[str, str] | None:
    """pytest's node id (which has no file part for a file outside the root) and the test's name
    of the test that started last and did not finish, or None: none did, or the record is not what
    the child writes (the tests run in the process that writes it, so a test can garble it)."""
    last = _last_step(started)
    if last in ("start", run_step.FINISHED):
        return None
    try:
        test = json.loads(last)
    except ValueError:
        return None
    if not (isinstance(test, list) and len(test) == 2 and all(isinstance(part, str) for part in test)):
        return None
    return test[0], test[1]


def _kill(child: subprocess.Popen) -> None:
    """End the child and whatever it started (its process group), even after the child itself exited."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


def _last_step(progress: Path) -> str:
    try:
        lines = progress.read_text().splitlines()
    except FileNotFoundError:
        return "start"
    return lines[-1] if lines else "start"


def _step_text(step: str) -> str:
    """``import pkg/ops.py`` -> "importing pkg/ops.py"."""
    what, _, target = step.partition(" ")
    texts = {
        "import": f"importing {target}",
        "kernel": f"writing out {target}",
        "setup": f"running {target}",
        RUN_STEP: "running the run command",
    }
    return texts.get(what, "starting the import")


def _read_result(data: dict, run: RunCommand | None) -> ImportResult:
    shown = run.shown if run is not None else ""
    return ImportResult(
        [ImportedKernel(**kernel, run=shown) for kernel in data["kernels"]],
        [Failure(kind, message) for kind, message in data["skipped"]],
        [Unmade(origin, first, line, Failure(kind, message)) for origin, first, line, kind, message in data["unmade"]],
        {(origin, line) for origin, line in data["made"]},
        [(shown, data["run_failure"])] if data["run_failure"] else [],
    )
