"""Untrusted work in a child of its own, forked from a spawner that never held a job.

The worker (``worker.py``) starts Warp once, warms its compiler, then forks the ``Spawner`` before
it reads any job. Each compile or run of a candidate is a child of the spawner (a ``fork``, about
5 ms): the child reads its own work from its folder, so no candidate's process holds the job it
belongs to (the row's answer, the other candidates). The child starts a session of its own, works
in its own folder (its current directory, ``TMPDIR`` and Warp's kernel cache), applies its layers
(``layers.confine_child``) and writes its result there as JSON. After each child the spawner ends
whatever it left behind. A phase that needs a fresh process (a CUDA launch: CUDA does not survive
``fork``) runs ``python -m MODULE`` the same way, reading the same files.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from generation.evaluation.sandbox.limits import Limits, limit_self

RESULT_FILE = "result.json"
OUTPUT_FILE = "output.txt"  # the child's stdout and stderr: the first error comes from here
WORK_FILE = "work.json"  # what the child is to do, written by the worker
REQUEST_VARIABLE = "WIRP_CHILD_REQUEST"  # a fresh process's phase, folder and limits
OUTER_NAMESPACE_VARIABLE = "WIRP_HARNESS_PID_NAMESPACE"  # the harness's PID namespace, set by the harness
FIRST_ERROR_BYTES = 65536  # how much of the start and of the end of a child's output is read for its first error
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4

Phase = Callable[[dict], dict]  # a child's work: its work file's contents in, its result out
Confine = Callable[[Path, float, Limits], None]  # applies a child's layers to itself


@dataclass(frozen=True)
class Outcome:
    """How a child ended: its result, or the first error (``failure`` names the kind)."""

    result: dict | None
    failure: str = ""  # "", "error", "timeout", "crashed"; "sandbox": it failed before its work began
    error: str = ""
    seconds: float = 0.0
    first_part_done: bool = False  # a child of two parts left the file that says its first part is done
    second_part_seconds: float = 0.0  # how long its second part ran, where it had one


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


class Spawner:
    """A fork of the warm worker, made before the worker holds any job, that runs each child."""

    def __init__(self, phases: dict[str, Phase], confine: Confine):
        requests, self._requests = os.pipe()
        self._answers, answers = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._requests)
            os.close(self._answers)
            code = 1
            try:
                _serve(requests, answers, phases, confine)
                code = 0
            finally:
                os._exit(code)
        os.close(requests)
        os.close(answers)
        self._reader = os.fdopen(self._answers)

    def run(
        self,
        phase: str,
        work: dict,
        folder: Path,
        seconds: float,
        limits: Limits,
        process: list[str] = (),
        then: tuple[str, float] | None = None,
        on_second_part: Callable[[], None] | None = None,
    ):
        """Run ``phase`` on ``work`` in a child confined to ``folder`` (made here) for at most
        ``seconds``: a fork, or ``process`` (an argv whose module calls ``process_main``). With
        ``then`` (a file name and seconds), a phase of two parts: once the child has written that
        file in its folder (its first part done), it has that many seconds more from then on, and
        ``on_second_part`` is called as soon as the spawner sees it. The child holds no pipe to say
        so: its code may be a candidate's."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / WORK_FILE).write_text(json.dumps(work))
        request = {
            "phase": phase,
            "folder": str(folder),
            "seconds": seconds,
            "then": list(then) if then else None,
            "limits": asdict(limits),
        }
        os.write(self._requests, (json.dumps(request | {"process": list(process)}) + "\n").encode())
        while True:
            line = self._reader.readline()
            if not line:
                raise RuntimeError("the spawner died")
            answer = json.loads(line)
            if answer.get("part") != 2:
                break
            if on_second_part is not None:
                on_second_part()
        if not answer["started"]:
            why = _first_error(folder / OUTPUT_FILE) or _how_it_ended(answer["status"], seconds)
            return Outcome(None, "sandbox", f"the sandbox could not start the child ({why})", answer["took"])
        second = bool(then) and (folder / then[0]).exists()
        limit = then[1] if second else seconds  # the limit of the part it ended in
        outcome = dataclasses.replace(
            _outcome(folder, answer["status"], limit, answer["took"]),
            first_part_done=second,
            second_part_seconds=answer.get("second_took", 0.0),
        )
        if outcome.failure and _size(folder / OUTPUT_FILE) == limits.file_mb * 2**20:  # its last words were lost
            flood = f"its output reached the file-size limit ({limits.file_mb} MB)"
            return dataclasses.replace(outcome, error=f"{outcome.error.split(':')[0]}: {flood}")
        return outcome

    def close(self) -> None:
        os.close(self._requests)  # the spawner reads the end of its requests and leaves
        self._reader.close()
        os.waitpid(self.pid, 0)


def _serve(requests: int, answers: int, phases: dict[str, Phase], confine: Confine) -> None:
    """The spawner's loop: a child per request, its wait status per answer. The spawner dies with
    the worker; it keeps none of the worker's pipes but its own two, and no child keeps those."""
    _prctl(PR_SET_DUMPABLE, 0)  # no child may open this process's memory through /proc
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    nothing = os.open(os.devnull, os.O_RDWR)
    os.dup2(nothing, 0)  # the worker's jobs and events are the worker's alone
    os.dup2(nothing, 1)
    os.close(nothing)
    for line in os.fdopen(requests):
        request = json.loads(line)
        folder, seconds, then = Path(request["folder"]), request["seconds"], request.get("then")
        limits = Limits(**request["limits"])
        start = time.monotonic()
        began, told = os.pipe()  # the child says here that it is confined and about to work
        second_started = None
        if request["process"]:
            status = _in_process(request, folder, seconds, limits, told)
        else:
            pid = os.fork()
            if pid == 0:
                for own in (began, requests, answers):  # a child that wrote answers could skew the next ones
                    os.close(own)
                _child(phases[request["phase"]], folder, seconds + (then[1] if then else 0), limits, confine, told)
            second_part = functools.partial(os.write, answers, b'{"part": 2}\n')  # before the child's end
            status, second_started = _wait(pid, seconds, (folder / then[0], then[1], second_part) if then else None)
        os.close(told)
        _end_leftovers()
        answer = {"status": status, "took": time.monotonic() - start, "started": _started(began)}
        if second_started is not None:
            answer["second_took"] = time.monotonic() - second_started
        os.write(answers, (json.dumps(answer) + "\n").encode())


def _started(began: int) -> bool:
    """Whether the child said it began its work (a leftover of it may still hold the pipe open)."""
    os.set_blocking(began, False)
    try:
        return os.read(began, 1) == b"1"
    except BlockingIOError:
        return False
    finally:
        os.close(began)


def _begin(told: int) -> None:
    """Say the child is confined and has its work: what fails from here on is the candidate's."""
    os.write(told, b"1")
    os.close(told)


def _child(phase: Phase, folder: Path, seconds: float, limits: Limits, confine: Confine, told: int) -> None:
    """In the forked child: confine, work, write the result, and leave without cleaning up after
    the parent (``os._exit``). A failure before the work begins is the sandbox's, and says so."""
    code = 1
    try:
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))  # it does not outlive the spawner
        os.chdir(folder)
        _own_files(folder)
        confine(folder, seconds, limits)
        work = json.loads(Path(WORK_FILE).read_text())
        _begin(told)
        report_to_parent(lambda: phase(work))
        code = 0
    except BaseException as error:  # before the work began: the candidate's code has not run
        print(f"sandbox error: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    finally:
        os._exit(code)


def _own_files(folder: Path) -> None:
    """The child's standard files: no input, its output to its own file; its temporary files in
    its folder."""
    os.environ["TMPDIR"] = tempfile.tempdir = str(folder)  # the module caches it: set both
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    output = os.open(OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(nothing)
    os.close(output)


def process_main(phases: dict[str, Phase], confine: Confine) -> None:
    """The child of a fresh process (``Spawner.run(..., process=argv)``), as a forked child is."""
    request = json.loads(os.environ.pop(REQUEST_VARIABLE))
    folder, seconds = Path(request["folder"]), request["seconds"]
    confine(folder, seconds, Limits(**request["limits"]))
    work = json.loads(Path(WORK_FILE).read_text())
    _begin(request["told"])
    report_to_parent(lambda: phases[request["phase"]](work))


def report_to_parent(work: Callable[[], dict]) -> None:
    """Do ``work`` and write its result, or its error, where the parent reads it."""
    try:
        result = {"ok": work()}
    except BaseException as error:  # the candidate's failure, reported, not raised
        result = {"error": first_line(f"{type(error).__name__}: {error}"), "trace": traceback.format_exc()}
    with open(RESULT_FILE, "w") as file:
        json.dump(result, file)


def first_line(text: str, limit: int = 300) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


MARK_POLL = 0.005  # seconds between looks for a two-part child's mark of its first part


def _wait(
    pid: int, seconds: float, then: tuple[Path, float, Callable[[], object]] | None = None
) -> tuple[int | None, float | None]:
    """The child's wait status, or None if it outlived ``seconds`` (it is then killed), or where
    ``then`` (a mark, seconds, and what to say when the mark is seen) is given and the child writes
    the mark, those seconds from the time it wrote it (at most ``seconds`` plus those in all); and
    when (``time.monotonic``) its second part started, None without one. Whatever it started is
    killed with it either way."""
    handle = os.pidfd_open(pid)
    start = time.monotonic()
    deadline = start + seconds
    second_started = None
    try:
        while True:
            wait = deadline - time.monotonic()
            ready = select.select([handle], [], [], max(0.0, min(MARK_POLL, wait) if then else wait))[0]
            if ready:
                break
            if then is not None and then[0].exists():  # its second part started: the first's limit no longer holds
                second_started = _written_at(then[0], start)
                deadline = min(second_started + then[1], start + seconds + then[1])
                then[2]()
                then = None
            elif time.monotonic() >= deadline:
                break
    finally:
        os.close(handle)
    if then is not None and second_started is None and then[0].exists():  # both parts ended between two looks
        second_started = _written_at(then[0], start)
    if not ready:
        with_group(pid, signal.SIGKILL)
    status = os.waitpid(pid, 0)[1]
    with_group(pid, signal.SIGKILL)  # its own children, if any outlived it
    return (status if ready else None), second_started


def _written_at(mark: Path, start: float) -> float:
    """When (``time.monotonic``) a child wrote ``mark``, from its modification time, not before ``start``."""
    return max(start, time.monotonic() - max(0.0, time.time() - mark.stat().st_mtime))


def with_group(pid: int, sig: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def own_pid_namespace() -> bool:
    """Whether this process is in a PID namespace other than the harness's (the namespaces layer)."""
    outer = os.environ.get(OUTER_NAMESPACE_VARIABLE, "")
    return bool(outer) and outer != os.readlink("/proc/self/ns/pid")


def _end_leftovers() -> None:
    """In a PID namespace of the worker's own, kill every process but the namespace's init, the
    worker and this spawner: a child that escaped its session (a double fork, where the seccomp
    layer is missing) does not outlive its candidate."""
    if not own_pid_namespace():
        return
    kept = {1, os.getpid(), os.getppid()}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in kept:
            with_group(int(name), signal.SIGKILL)


def _in_process(request: dict, folder: Path, seconds: float, limits: Limits, told: int) -> int | None:
    """Run the request's argv as a fresh process confined to ``folder``, as a forked child is: its
    wait status, or None past ``seconds``. Its memory is not limited (a CUDA driver's address space)."""
    with open(folder / OUTPUT_FILE, "wb") as output:
        process = subprocess.Popen(
            request["process"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            cwd=folder,
            env=dict(os.environ, TMPDIR=str(folder), **{REQUEST_VARIABLE: json.dumps(request | {"told": told})}),
            pass_fds=(told,),
            start_new_session=True,
            preexec_fn=lambda: limit_self(seconds, limits, memory=False, processes=False),
        )
        try:
            process.wait(timeout=seconds)
            status = process.returncode
        except subprocess.TimeoutExpired:
            with_group(process.pid, signal.SIGKILL)
            process.wait()
            status = None
    with_group(process.pid, signal.SIGKILL)
    # as os.waitpid reports it: the signal in the low bits, or the exit code above them
    return None if status is None else -status if status < 0 else status << 8


# What a signal that ended a child says about it, where the signal's name alone would not.
SIGNALS = {
    "SIGSYS": "the sandbox stopped a system call it forbids (a program, a process, a signal, ptrace)",
    "SIGXFSZ": "it wrote a file past the size limit",
    "SIGXCPU": "it used up its CPU seconds",
}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _how_it_ended(status: int | None, seconds: float) -> str:
    if status is None:
        return f"timed out after {seconds:g} s"
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return f"{name}: {SIGNALS[name]}" if name in SIGNALS else name
    return f"exit {os.WEXITSTATUS(status)}"


def _outcome(folder: Path, status: int | None, seconds: float, took: float) -> Outcome:
    """What a child's wait status and files say about how it ended."""
    if status is None:
        return Outcome(None, "timeout", _how_it_ended(status, seconds), took)
    result_path = folder / RESULT_FILE
    if os.WIFSIGNALED(status) or not result_path.exists():
        why = _how_it_ended(status, seconds)
        return Outcome(None, "crashed", f"crashed ({why}): {_first_error(folder / OUTPUT_FILE)}".rstrip(": "), took)
    try:
        result = json.loads(result_path.read_text())
        ok = result.get("ok") if "error" not in result else None
    except (ValueError, AttributeError, OSError):
        return Outcome(None, "crashed", "crashed: it left a result file that is not the harness's", took)
    if "error" in result:
        told = _first_error(folder / OUTPUT_FILE)  # a compiler's first diagnostic, say
        error = first_line(str(result["error"]))
        return Outcome(None, "error", f"{error} | {told}" if told else error, took)
    return Outcome(ok if isinstance(ok, dict) else {}, seconds=took)


# Lines a child prints that say nothing about why it failed.
_NOISE = ("Warp CUDA warning", "Warp ", "Module ")


def _first_error(output: Path) -> str:
    """The first line of the child's output that reads as an error (an assertion, a signal), from
    its start or its end (a flood of output may stand between them)."""
    try:
        with open(output, "rb") as file:
            head = file.read(FIRST_ERROR_BYTES)
            file.seek(max(len(head), os.fstat(file.fileno()).st_size - FIRST_ERROR_BYTES))
            tail = file.read()
    except OSError:
        return ""
    lines = (head + b"\n" + tail).decode(errors="replace").splitlines()
    meaningful = [line for line in lines if line.strip() and not line.startswith(_NOISE)]
    errors = [line for line in meaningful if "error" in line.lower() or "ssert" in line or "fault" in line.lower()]
    return first_line(_SCRATCH_PATH.sub(r"\1", (errors or meaningful or [""])[0]))


# A compiler names the file it read with its full path, inside the child's scratch folder. Only a
# whole word is tried from its start (the lookbehind): tried from every position of a word, a line of
# 64 KB of ``a/a/...`` that a candidate prints took the worker 30 s, outside the child's limits.
_SCRATCH_PATH = re.compile(r"(?<!\S)\S*/([\w.-]+\.(?:cpp|cu|py):)")
