"""Untrusted work in a child of its own: a time limit, memory and CPU limits, a scratch folder.

The worker process (``worker.py``) has Warp started and its compiler warm; each compile or run
is a ``fork`` of it (about 5 ms), so one candidate's crash, hang or stray write never reaches
another's. The child starts a session of its own (a timeout kills everything it started), works
in its own folder (its current directory, ``TMPDIR`` and Warp's kernel cache), and writes its
result there as JSON. What is not isolated: the child can still read and write the user's files
by absolute path, and it has network access unless the worker was started without it
(``harness.py`` starts workers in a network namespace where ``unshare`` allows it).
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generation.backend.children import address_space, child_environment

RESULT_FILE = "result.json"
OUTPUT_FILE = "output.txt"  # the child's stdout and stderr: the first error comes from here


@dataclass(frozen=True)
class Limits:
    """What each child may use: wall-clock seconds per phase, memory beyond the worker's own
    address space, CPU seconds (the wall limit plus one), and the size of any file it writes."""

    compile_seconds: float = 120.0
    run_seconds: float = 60.0
    memory_mb: int = 4096
    file_mb: int = 256


@dataclass(frozen=True)
class Outcome:
    """How a child ended: its result, or the first error (``failure`` names the kind)."""

    result: dict | None
    failure: str = ""  # "", "error", "timeout", "crashed"
    error: str = ""
    seconds: float = 0.0


def _limit_self(seconds: float, limits: Limits, memory: bool = True) -> None:
    if memory:  # not for a CUDA process: the driver reserves far more address space than it uses
        size = address_space() + limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    size = limits.file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child(work: Callable[[], dict], folder: Path, seconds: float, limits: Limits) -> None:
    """In the forked child: confine, work, write the result, and leave without cleaning up after
    the parent (``os._exit``)."""
    code = 1
    try:
        os.setsid()
        os.chdir(folder)
        os.environ["TMPDIR"] = tempfile.tempdir = str(folder)  # the module caches it: set both
        output = os.open(OUTPUT_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        _limit_self(seconds, limits)
        report_to_parent(work)
        code = 0
    finally:
        os._exit(code)


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


def _wait(pid: int, seconds: float) -> int | None:
    """The child's wait status, or None if it outlived ``seconds`` (it is then killed). Whatever
    it started is killed with it either way."""
    handle = os.pidfd_open(pid)
    try:
        ready = select.select([handle], [], [], seconds)[0]
    finally:
        os.close(handle)
    if not ready:
        with_group(pid, signal.SIGKILL)
    status = os.waitpid(pid, 0)[1]
    with_group(pid, signal.SIGKILL)  # its own children, if any outlived it
    return status if ready else None


def with_group(pid: int, sig: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def in_child(work: Callable[[], dict], folder: Path, seconds: float, limits: Limits) -> Outcome:
    """Run ``work`` in a forked child confined to ``folder`` (made here) for at most ``seconds``."""
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(work, folder, seconds, limits)
    return _outcome(folder, _wait(pid, seconds), seconds, time.monotonic() - start)


def in_process(argv: list[str], stdin: str, folder: Path, seconds: float, limits: Limits) -> Outcome:
    """Run ``argv`` (a module that calls ``report_to_parent``) as a fresh process confined to
    ``folder``, as ``in_child`` does, for work that cannot be forked: CUDA. Its memory is not limited
    (the driver's address space), its CPU seconds and files are."""
    folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(folder / OUTPUT_FILE, "wb") as output:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=output,
            cwd=folder,
            env=dict(child_environment(), TMPDIR=str(folder)),
            start_new_session=True,
            preexec_fn=lambda: _limit_self(seconds, limits, memory=False),
        )
        try:
            process.communicate(stdin.encode(), timeout=seconds)
            status = process.returncode
        except subprocess.TimeoutExpired:
            with_group(process.pid, signal.SIGKILL)
            process.wait()
            status = None
    with_group(process.pid, signal.SIGKILL)
    # as os.waitpid reports it: the signal in the low bits, or the exit code above them
    wait_status = None if status is None else -status if status < 0 else status << 8
    return _outcome(folder, wait_status, seconds, time.monotonic() - start)


def _outcome(folder: Path, status: int | None, seconds: float, took: float) -> Outcome:
    """What a child's wait status and files say about how it ended."""
    if status is None:
        return Outcome(None, "timeout", f"timed out after {seconds:g} s", took)
    result_path = folder / RESULT_FILE
    if os.WIFSIGNALED(status) or not result_path.exists():
        why = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        return Outcome(None, "crashed", f"crashed ({why}): {_first_error(folder / OUTPUT_FILE)}".rstrip(": "), took)
    result = json.loads(result_path.read_text())
    if "error" in result:
        told = _first_error(folder / OUTPUT_FILE)  # a compiler's first diagnostic, say
        return Outcome(None, "error", f"{result['error']} | {told}" if told else result["error"], took)
    return Outcome(result["ok"], seconds=took)


# Lines a child prints that say nothing about why it failed.
_NOISE = ("Warp CUDA warning", "Warp ", "Module ")


def _first_error(output: Path) -> str:
    """The first line of the child's output that reads as an error (an assertion, a signal)."""
    try:
        lines = output.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    meaningful = [line for line in lines if line.strip() and not line.startswith(_NOISE)]
    errors = [line for line in meaningful if "error" in line.lower() or "ssert" in line or "fault" in line.lower()]
    return first_line(_SCRATCH_PATH.sub(r"\1", (errors or meaningful or [""])[0]))


# A compiler names the file it read with its full path, inside the child's scratch folder.
_SCRATCH_PATH = re.compile(r"\S*/([\w.-]+\.(?:cpp|cu|py):)")
