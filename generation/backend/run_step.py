"""Run mode's step in the child (``import_child.py``): run the user's command in this process, so
that every kernel Warp builds or launches while it runs stays inspectable, and note which test or
example built each one.

Warp makes a kernel object when a ``@wp.kernel`` decorator runs (at import, or each time a factory
is called) and a concrete overload of a generic kernel when a launch first meets its argument types
(``Kernel._add_normalized_overload``, which ``wp.overload`` also goes through). Both are wrapped here,
in the child only, to record the scene that was running: a pytest node id, or the script's name.
What the kernels are is still read afterwards from the live objects (``write_kernels``).

The command runs in a scratch folder (its current directory), under a memory limit and a time
limit of its own: at the limit it is interrupted as Ctrl-C would (pytest ends its session), and
the kernels built so far are still written out. A command that fails partway is reported in one line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import runpy
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from generation.backend.children import address_space

# What ``started`` holds after a test's node id once the test has finished: nothing is running.
FINISHED = "-"
MEMORY_MB = 8192  # address space the command may add to the child's own


class Scene:
    """What is running now (a test's node id, a script's name), what each kernel was built under,
    and a reference to each kernel a factory made with new values: Warp's module keeps only the
    latest kernel of a name, so ``make_scale(2.0)`` and ``make_scale(3.0)`` would leave one."""

    current = ""
    built_by: dict[int, str] = {}  # id of a kernel or overload -> the scene that made it
    kept: dict[tuple, object] = {}  # (function's code, closure values) -> the first kernel made from them

    @classmethod
    def record(cls, kernel) -> None:
        if cls.current:
            cls.built_by.setdefault(id(kernel), cls.current)
        func = getattr(kernel, "func", None)
        if func is not None and getattr(kernel, "generic_parent", None) is None:
            cells = tuple(_cell_key(cell) for cell in func.__closure__ or ())
            cls.kept.setdefault((func.__code__, cells), kernel)


def _cell_key(cell) -> str:
    """A closure value as far as telling factory calls apart needs; never an error in the package's code."""
    try:
        return repr(cell.cell_contents)[:200]
    except Exception:  # noqa: BLE001 - an empty cell, or a value whose repr fails: this call's own
        return f"cell {id(cell)}"


def watch_warp() -> None:
    """Record the scene of every kernel and overload Warp makes from now on."""
    from warp._src import context

    make, overload = context.Kernel.__init__, context.Kernel._add_normalized_overload

    def recorded_init(self, *args, **kwargs):
        make(self, *args, **kwargs)
        Scene.record(self)

    def recorded_overload(self, arg_types):
        made = overload(self, arg_types)
        Scene.record(made)
        return made

    context.Kernel.__init__ = recorded_init
    context.Kernel._add_normalized_overload = recorded_overload


class _TimeUp(KeyboardInterrupt):
    """Raised in the command at its time limit: pytest ends its session on it, as on Ctrl-C."""

    fired = False  # whether the limit came: pytest reports it as an interrupted session, not by raising


# What a copy of the folder the build started in leaves out: version control, environments (and any
# folder holding a ``pyvenv.cfg``), caches.
NOT_COPIED = (".git", ".hg", ".venv", "venv", ".tox", "node_modules", "__pycache__", "*.egg-info", ".build")
COPY_LIMIT_BYTES = 256 * 2**20  # a bigger folder is not copied: the command reads it in place
COPY_LIMIT_FILES = 20_000


def working_copy(folder: Path, scratch: Path) -> bool:
    """Copy ``folder`` (the one the build started in) into ``scratch``, so the command reads its tests,
    examples and data as it would there, and what it writes stays in the copy; False, copying
    nothing, when the folder holds more than ``COPY_LIMIT_BYTES`` or ``COPY_LIMIT_FILES``."""
    patterns = shutil.ignore_patterns(*NOT_COPIED)
    inside = scratch.resolve()  # never the copy into itself, where scratch lies under the folder

    def ignored(current: str, names: list[str]) -> set[str]:
        holding_scratch = {name for name in names if Path(current, name).resolve() in (inside, *inside.parents)}
        environments = {name for name in names if Path(current, name, "pyvenv.cfg").is_file()}  # any venv's name
        return set(patterns(current, names)) | holding_scratch | environments

    total, files, stack = 0, 0, [folder]
    while stack:
        current = stack.pop()
        entries = list(os.scandir(current))
        skip = ignored(str(current), [entry.name for entry in entries])
        for entry in (e for e in entries if e.name not in skip):
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total, files = total + entry.stat(follow_symlinks=False).st_size, files + 1
            if total > COPY_LIMIT_BYTES or files > COPY_LIMIT_FILES:
                return False
    shutil.copytree(folder, scratch, symlinks=True, ignore=ignored, dirs_exist_ok=True)
    return True


def seen_from(path: Path, folder: Path, copy: Path | None) -> Path:
    """Where the command reads ``path`` (a file or folder under ``folder``, or anywhere): in the copy
    of ``folder`` where the copy holds it, else where it lies. Harvested files and the command's
    own paths both go through here, so a package's tests and the package are one set of files."""
    if copy is None:
        return path
    try:
        copied = copy / Path(os.path.realpath(folder / path)).relative_to(os.path.realpath(folder))
    except ValueError:  # not under the folder
        return path
    return copied if copied.exists() else path


def _argument(arg: str, folder: str, copy: Path | None) -> str:
    """A command argument that names a file or folder, as the command in ``copy`` reads it: relative
    where the copy holds it, else absolute (the copy's file, or the folder's where the copy has none,
    as under ``.venv`` or with no copy at all); any other argument as given."""
    original = Path(folder, arg)
    if arg.startswith("-") or not original.exists():
        return arg
    seen = seen_from(original, Path(folder), copy)
    return arg if seen != original and not Path(arg).is_absolute() else str(seen)


def run(
    argv: list[str],
    seconds: float,
    scratch: Path,
    folder: str,
    copied: bool,
    test_file: Callable[[Path], str],
    started: TextIO | None = None,
) -> str:
    """Run ``argv`` (``pytest ARGS``, ``python FILE ARGS`` or ``python -m MODULE ARGS``) here, in
    ``scratch``, the working copy of ``folder`` (where the build started) when ``copied``, for at
    most ``seconds``; why it did not end cleanly, in one line ("" when it did), with the command's
    own first error. A path the copy does not hold (one under ``.venv``; any, when the folder was
    too big to copy) is read in place. ``test_file`` names a test's file for ``built_by``; each test's
    pytest node id and name (``[node_id, name]`` in JSON) is written to ``started`` as it starts, and
    ``FINISHED`` when it ends (a test that ends the process is the last line there)."""
    watch_warp()
    copy = scratch if copied else None
    argv = [argv[0], *(_argument(arg, folder, copy) for arg in argv[1:])]
    folder = str(scratch) if copied else folder
    here, saved_argv = os.getcwd(), sys.argv
    size = address_space() + MEMORY_MB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    signal.signal(signal.SIGALRM, _time_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    os.chdir(scratch)
    try:
        return _run(argv, folder, test_file, started)
    except _TimeUp:
        return f"did not finish in {seconds:g} s; the kernels built before then are taken"
    except SystemExit as exit_:
        return "" if exit_.code in (0, None) else f"exited with {exit_.code}"
    except BaseException as error:  # noqa: BLE001 - the command's own failure: reported, never fatal here
        return f"{type(error).__name__}: {error}".splitlines()[0][:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        os.chdir(here)
        sys.argv = saved_argv
        Scene.current = ""


def _run(argv: list[str], folder: str, test_file: Callable[[Path], str], started: TextIO | None = None) -> str:
    if argv[0] == "pytest":
        import pytest

        # In this process, whatever the project's own settings say: no xdist workers, whose kernels
        # this process would never see, and no cache written into the project.
        isolated = ["-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", folder]
        scenes, errors = _PytestScenes(test_file, started), _Tee(sys.stderr)
        with contextlib.redirect_stderr(errors):  # pytest prints a usage or conftest error there
            code = pytest.main([*isolated, *argv[1:]], plugins=[scenes])
        if code == pytest.ExitCode.INTERRUPTED and _TimeUp.fired:
            raise _TimeUp
        if code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            return ""
        first = scenes.first_error or _first_error(errors.getvalue())
        return f"pytest exited with {int(code)} ({code.name.lower()})" + (f": {first}" if first else "")
    if argv[1] == "-m":
        sys.argv = argv[2:]
        Scene.current = argv[2]
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        return ""
    sys.argv = argv[1:]
    Scene.current = Path(argv[1]).name
    runpy.run_path(argv[1], run_name="__main__")
    return ""


def _time_up(signum, frame) -> None:
    _TimeUp.fired = True
    raise _TimeUp


class _Tee(io.StringIO):
    """Text written on to ``stream``, its first ``KEPT`` characters kept (what pytest prints before a
    run; a long run's output is not held)."""

    KEPT = 65536

    def __init__(self, stream):
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text)
        super().write(text[: max(0, self.KEPT - self.tell())])
        return len(text)


def _error_line(text: str) -> str:
    """The line of a report that says what went wrong: pytest's first ``E   `` line (the exception, or
    the assertion before its diff), else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    marked = [line[1:].strip() for line in lines if line.startswith("E ")]
    return marked[0] if marked else (lines or [""])[-1]


def _first_error(printed: str) -> str:
    """What pytest printed before it ran anything (a usage error, a conftest that failed to import),
    in one line: its ``ERROR:`` or first line, and the exception it ends with."""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    if not lines:
        return ""
    head = next((line for line in lines if line.startswith("ERROR:")), lines[0])
    tail = _error_line(printed)
    return (head if tail in head else f"{head} {tail}")[:300]


class _PytestScenes:
    """A pytest plugin: the scene is the test running, named by its file (``test_file``) and its
    name in the file; and the first error a run met (a collection error, a failed test)."""

    def __init__(self, test_file: Callable[[Path], str], started: TextIO | None = None):
        self.test_file = test_file
        self.started = started
        self.first_error = ""
        self.names: dict[str, str] = {}  # node id -> the test as scenes name it

    def pytest_runtest_protocol(self, item, nextitem):
        Scene.current = self.names[item.nodeid] = f"{self.test_file(Path(item.path))}::{item.nodeid.partition('::')[2]}"
        if self.started is not None:  # its node id, to leave it out, and its name, to say which it was
            self.started.write(json.dumps([item.nodeid, Scene.current]) + "\n")
            self.started.flush()
        return None  # pytest runs the test itself

    def pytest_runtest_logfinish(self, nodeid, location):
        Scene.current = ""
        if self.started is not None:
            self.started.write(FINISHED + "\n")
            self.started.flush()

    def pytest_collectreport(self, report):
        if report.failed and not self.first_error:
            where = self.test_file(Path(report.fspath)) if report.fspath else "the tests"  # relative to the root
            self.first_error = f"collecting {where}: {_error_line(report.longreprtext)}"[:300]

    def pytest_runtest_logreport(self, report):
        if report.failed and not self.first_error:
            name = self.names.get(report.nodeid, report.nodeid)
            self.first_error = f"{name} failed: {_error_line(report.longreprtext)}"[:300]
