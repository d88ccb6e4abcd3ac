"""Import mode's child: import the harvested files, run the setup script, and write out every
kernel Warp then knows whose function lives in a harvested file (``synthesis.py``).

The parent (``generation/real/importer.py``) starts it with a job file, reads its progress line
before each step, and kills it at a step's time limit; the child watches the parent in turn.

    python -m generation.backend.import_child JOB.json
"""

from __future__ import annotations

import ast
import functools
import gc
import json
import os
import runpy
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from generation.backend import run_step
from generation.source.features import is_kernel
from generation.source.modules import module_name, package_prefix
from generation.source.spec import Failure, SkipError, kernel_origin


def _watch_parent(folder: Path, parent: int) -> None:
    """End this process when the build that started it (process ``parent``) ends, removing the job's
    folder, which a killed parent could not: a killed build leaves neither behind. The parent's pid
    comes from the job, not from ``os.getppid()`` here: a build killed while this process was still
    starting has already been replaced as its parent, and would be watched for good."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(3)

    if os.getppid() != parent:  # gone before this process got here: end at once, not from a thread
        watch()
    threading.Thread(target=watch, daemon=True).start()


def _definitions(path: Path) -> list[tuple[int, int, str]]:
    """(first decorator line, def line, name) of every ``@wp.kernel`` definition in a file, at any depth."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return []
    found = [node for node in ast.walk(tree) if is_kernel(node)]
    return sorted((min([n.lineno] + [d.lineno for d in n.decorator_list]), n.lineno, n.name) for n in found)


@dataclass
class Steps:
    """The child's progress file, a line written before each step, and the steps the parent left out
    (each with why: it hung or ended the process in an earlier run)."""

    progress: TextIO
    left_out: dict[str, Failure]

    def take(self, name: str) -> bool:
        """Report a step before taking it; False for one left out."""
        self.progress.write(name + "\n")
        return name not in self.left_out


@dataclass(frozen=True)
class HarvestedFiles:
    files: list[tuple[str, Path, Path]]  # (origin, path, root) of each

    @functools.cached_property
    def _origins(self) -> dict[str, str]:
        return {str(path.resolve()): origin for origin, path, _ in self.files}

    def origin_of(self, file: str) -> str | None:
        """The origin of a harvested file, None for any other (Warp's, a dependency's)."""
        return self._origins.get(str(Path(file).resolve())) if file else None

    def read_from(self, folder: Path, copy: Path | None) -> HarvestedFiles:
        """The same files where run mode's command reads them: in ``copy`` (of ``folder``) where it
        holds them, so the package and its tests (a ``conftest.py`` among them) are imported once."""
        moved = lambda path: run_step.seen_from(path, folder, copy)  # noqa: E731
        return HarvestedFiles([(origin, moved(path), moved(root)) for origin, path, root in self.files])

    def test_file(self, path: Path, folder: Path) -> str:
        """A test file as ``built_by`` names it: as rows name a harvested file (``pkg/_src/x_test.py``),
        by its package's name and path when it lies in a harvested folder, else relative to
        ``folder`` (where the command ran), else by its name."""
        origin = self.origin_of(str(path))
        if origin is not None:
            return origin
        path = path.resolve()
        for root, label in self._labels.items():
            if path.is_relative_to(root):
                return label + path.relative_to(root).as_posix()
        return path.relative_to(folder.resolve()).as_posix() if path.is_relative_to(folder.resolve()) else path.name

    @functools.cached_property
    def _labels(self) -> dict[Path, str]:
        """Each harvested folder and how origins start under it: a file's origin is its folder's
        label, then its path there (``pkg/`` + ``_src/ops.py``)."""
        labels = {}
        for origin, file, root in self.files:
            inside = file.resolve().relative_to(root.resolve()).as_posix()
            if origin.endswith(inside):
                labels.setdefault(root.resolve(), origin[: -len(inside)])
        return labels


def import_files(files: HarvestedFiles, steps: Steps) -> dict[str, Failure]:
    """Import each file as its module; why each file that gave no module did not (by origin)."""
    not_imported: dict[str, Failure] = {}
    for origin, path, root in files.files:
        name, _ = module_name(path, root)
        prefix = package_prefix(root)
        entry = str(root.parents[len(prefix) - 1] if prefix else root)
        if entry not in sys.path:
            sys.path.insert(0, entry)
        if not steps.take(f"import {origin}"):
            not_imported[origin] = steps.left_out[f"import {origin}"]
            continue
        try:
            __import__(name)
        except BaseException as error:  # noqa: BLE001 - a file's import may raise anything, SystemExit included
            not_imported[origin] = Failure("import_failed", f"{origin}: {type(error).__name__}: {error}"[:300])
            continue
        found_file = getattr(sys.modules.get(name), "__file__", None) or ""
        if Path(found_file).resolve() != path.resolve():  # ``types.py`` in a plain folder: the name is taken
            other = f"{name!r} is already the module {found_file or 'built in'}"
            not_imported[origin] = Failure("import_failed", f"{origin}: {other}, not this file")
    return not_imported


def write_kernels(files: HarvestedFiles, steps: Steps) -> tuple[list[dict], list[Failure], set[tuple[str, int]]]:
    """Every live kernel whose function lives in a harvested file, each concrete overload of a
    generic one on its own, written out as one module: the kernels (as ``ImportedKernel`` fields),
    the skips, and the definitions (origin, first line) that gave a kernel."""
    import warp as wp

    from generation.backend.synthesis import Synthesis

    harvested = lambda file: files.origin_of(file) is not None  # noqa: E731
    found = [k for k in gc.get_objects() if isinstance(k, wp.Kernel) and k.generic_parent is None]
    kernels: list[dict] = []
    skipped: list[Failure] = []
    made: set[tuple[str, int]] = set()
    for kernel in (k for k in found if harvested(k.func.__code__.co_filename)):
        origin = files.origin_of(kernel.func.__code__.co_filename)
        line = kernel.func.__code__.co_firstlineno
        made.add((origin, line))
        overloads = sorted(kernel.overloads.items()) if kernel.is_generic else []
        for signature, overload in overloads or [("", None)]:
            where = kernel_origin(origin, kernel.func.__qualname__, signature)
            if not steps.take(f"kernel {where}"):
                skipped.append(steps.left_out[f"kernel {where}"])
                continue
            synthesis = Synthesis(harvested)
            try:
                source = synthesis.kernel_source(kernel, overload)
            except SkipError as error:
                skipped.append(Failure(error.kind, f"{where}: {error}"))
                continue
            except Exception as error:  # noqa: BLE001 - counted, never a crash of the harvest
                skipped.append(Failure("synthesis_error", f"{where}: {type(error).__name__}: {error}"[:300]))
                continue
            other = {files.origin_of(f) for f in synthesis.files} - {origin}
            kernels.append(
                {
                    "origin": origin,
                    "qualname": kernel.func.__qualname__,
                    "line": line,
                    "overload": signature,
                    "name": kernel.func.__name__,
                    "python_source": source,
                    "files": sorted(other),
                    "doc": (kernel.func.__doc__ or "").strip(),
                    "built_by": run_step.Scene.built_by.get(id(overload if overload is not None else kernel), ""),
                }
            )
    return kernels, skipped, made


def unmade_definitions(
    files: HarvestedFiles, made: set[tuple[str, int]], not_imported: dict[str, Failure]
) -> list[list]:
    """``[origin, first line, def line, kind, message]`` for each kernel definition in the files that
    gave no kernel: its file's import failure, else ``not_created`` (no import made it)."""
    unmade = []
    for origin, path, _ in files.files:
        for first, def_line, name in _definitions(path):
            if (origin, first) in made or (origin, def_line) in made:
                continue
            where = f"{kernel_origin(origin, name)} (line {first})"
            why = not_imported.get(origin)
            if why is not None:
                unmade.append([origin, first, def_line, why.kind, f"{where}: {why.message}"[:400]])
            else:
                unmade.append([origin, first, def_line, "not_created", f"{where}: no kernel was made from it"])
    return unmade


def child_main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    _watch_parent(Path(job_path).parent, job["parent"])
    steps = Steps(open(job["progress"], "a", buffering=1), {s: Failure(*why) for s, why in job["left_out"].items()})
    files = HarvestedFiles([(origin, Path(path), Path(root)) for origin, path, root in job["files"]])
    run, scratch, copied = job.get("run"), Path(job_path).parent / "run", False
    if run:  # the working copy first: the files are imported from it, as the command will read them
        scratch.mkdir()
        copied = run_step.working_copy(Path(run["folder"]), scratch)
        files = files.read_from(Path(run["folder"]), scratch if copied else None)
    not_imported = import_files(files, steps)
    if job["setup"] and steps.take(f"setup {Path(job['setup']).name}"):  # its exceptions end the child: an error
        runpy.run_path(job["setup"], run_name="__main__")
    run_failure = ""
    if run and steps.take("run"):
        where = scratch if copied else Path(run["folder"])
        named = functools.partial(files.test_file, folder=where)
        argv = run["argv"] + [f"--deselect={test}" for test in run.get("deselect", [])]  # tests that ended it
        with open(run["started"], "a", buffering=1) as started:
            run_failure = run_step.run(argv, run["seconds"], scratch, run["folder"], copied, named, started)
    kernels, skipped, made = write_kernels(files, steps)
    unmade = unmade_definitions(files, made, not_imported)
    # One order whatever the import made first (``gc`` order is not): kernels by file, line,
    # overload, then the text itself; skips by kind and message.
    kernels.sort(key=lambda k: (k["origin"], k["line"], k["qualname"], k["overload"], k["python_source"]))
    skipped.sort(key=lambda f: (f.kind, f.message))
    result = {
        "kernels": kernels,
        "skipped": [[f.kind, f.message] for f in skipped],
        "unmade": sorted(unmade, key=lambda u: (u[3], u[4])),
        "made": sorted(made),
        "run_failure": run_failure,
    }
    Path(job["result"]).write_text(json.dumps(result))
    steps.progress.write("done\n")
    steps.progress.close()
    os._exit(0)  # skip interpreter teardown: a package's atexit hooks and threads cannot hang it


if __name__ == "__main__":
    child_main(sys.argv[1])
