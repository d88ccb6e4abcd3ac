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

import os
import resource
import runpy
import shutil
import signal
import sys
from pathlib import Path

from generation.backend.children import address_space

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


def _only_in(folder: str, arg: str, copy: Path | None) -> bool:
    """Whether ``arg`` names a file or folder under ``folder`` that the copy (if any) does not hold."""
    return not Path(arg).is_absolute() and Path(folder, arg).exists() and not (copy and Path(copy, arg).exists())


def run(argv: list[str], seconds: float, scratch: Path, folder: str) -> str:
    """Run ``argv`` (``pytest ARGS``, ``python FILE ARGS`` or ``python -m MODULE ARGS``) here, in a
    working copy of ``folder`` (where the build started) made in ``scratch``, for at most
    ``seconds``; why it did not end cleanly, in one line ("" when it did). A path the copy does
    not hold (one under ``.venv``; any, when the folder was too big to copy) is read in place."""
    watch_warp()
    copied = working_copy(Path(folder), scratch)
    # A path the copy lacks (under ``.venv``, or no copy at all) is read in place.
    argv = [str(Path(folder, arg)) if _only_in(folder, arg, scratch if copied else None) else arg for arg in argv]
    folder = str(scratch) if copied else folder
    here, saved_argv = os.getcwd(), sys.argv
    size = address_space() + MEMORY_MB * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    signal.signal(signal.SIGALRM, _time_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    os.chdir(scratch)
    try:
        return _run(argv, folder)
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


def _run(argv: list[str], folder: str) -> str:
    if argv[0] == "pytest":
        import pytest

        # In this process, whatever the project's own settings say: no xdist workers, whose kernels
        # this process would never see, and no cache written into the project.
        isolated = ["-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", folder]
        code = pytest.main([*isolated, *argv[1:]], plugins=[_PytestScenes()])
        if code == pytest.ExitCode.INTERRUPTED and _TimeUp.fired:
            raise _TimeUp
        return "" if code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) else f"pytest exited with {code}"
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


class _PytestScenes:
    """A pytest plugin: the scene is the node id of the test running."""

    def pytest_runtest_protocol(self, item, nextitem):
        path, _, test = item.nodeid.partition("::")  # a test outside the folder: its file by name
        Scene.current = item.nodeid if not path.startswith(("/", "..")) else f"{Path(path).name}::{test}"
        return None  # pytest runs the test itself

    def pytest_runtest_logfinish(self, nodeid, location):
        Scene.current = ""
