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

    python -m generation.kernels.importer JOB.json    # the child; the parent is ``import_kernels``
"""

from __future__ import annotations

import ast
import gc
import json
import logging
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from generation.kernels import bundle
from generation.kernels.features import is_kernel
from generation.kernels.spec import Failure

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


class ImportModeError(ValueError):
    """Import mode could not run at all (the child fails before its first file): shown like a bad option."""


@dataclass
class ImportResult:
    kernels: list[ImportedKernel] = field(default_factory=list)
    skipped: list[Failure] = field(default_factory=list)


# -- the parent --------------------------------------------------------------------------------


def import_kernels(
    files: list[tuple[str, Path, Path]], timeout: float = DEFAULT_TIMEOUT, setup: str | None = None
) -> ImportResult:
    """Run the child on ``files`` ((origin, path, root) of each), then ``setup`` (a script that makes
    the kernels a package builds only when used), until it finishes, leaving out each file or
    kernel that hangs past ``timeout`` seconds or ends the process."""
    left_out: dict[str, Failure] = {}  # step -> why
    while True:
        with tempfile.TemporaryDirectory(prefix="wirp-import-") as folder:
            outcome = _run_child(Path(folder), files, left_out, timeout, setup)
        if isinstance(outcome, ImportResult):
            return outcome
        step, failure = outcome
        if step in left_out or not step.startswith(("import ", "kernel ")):  # the setup, or the child itself
            raise ImportModeError(f"import mode stopped: {failure.message}")
        logger.warning("%s; starting the import again without it", failure.message)
        left_out[step] = failure


def _run_child(folder: Path, files, left_out: dict[str, Failure], timeout: float, setup) -> ImportResult | tuple:
    job = {
        "files": [[origin, str(path), str(root)] for origin, path, root in files],
        "setup": str(Path(setup).resolve()) if setup else None,
        "left_out": {step: [f.kind, f.message] for step, f in left_out.items()},
        "progress": str(folder / "progress.jsonl"),
        "result": str(folder / "result.json"),
    }
    (folder / "job.json").write_text(json.dumps(job))
    package_root = str(Path(__file__).resolve().parents[2])  # so the child finds ``generation``
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    with open(folder / "output.log", "wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "generation.kernels.importer", str(folder / "job.json")],
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
                if latest != step:
                    step, started = latest, time.monotonic()
                elif time.monotonic() - started > timeout:
                    return step, Failure("import_timeout", f"{_step_text(step)} did not finish in {timeout:g} s")
                time.sleep(POLL_SECONDS)
        finally:
            _kill(child)
    if child.returncode == 0 and (folder / "result.json").exists():
        return _read_result(json.loads((folder / "result.json").read_text()))
    step = _last_step(folder / "progress.jsonl")
    tail = (folder / "output.log").read_bytes()[-300:].decode(errors="replace").strip().splitlines()
    why = f"exit code {child.returncode}" + (f": {tail[-1]}" if tail else "")
    return step, Failure("import_crashed", f"{_step_text(step)} ended the process ({why})")


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
    texts = {"import": f"importing {target}", "kernel": f"writing out {target}", "setup": f"running {target}"}
    return texts.get(what, "starting the import")


def _read_result(data: dict) -> ImportResult:
    return ImportResult(
        [ImportedKernel(**kernel) for kernel in data["kernels"]],
        [Failure(kind, message) for kind, message in data["skipped"]],
    )


# -- the child ---------------------------------------------------------------------------------


def _watch_parent(folder: Path) -> None:
    """End this process when the build that started it ends, removing the job's folder, which a
    killed parent could not: a killed build leaves neither behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def _definitions(path: Path) -> list[tuple[int, int, str]]:
    """(first decorator line, def line, name) of every ``@wp.kernel`` definition in a file, at any depth."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return []
    found = [node for node in ast.walk(tree) if is_kernel(node)]
    return sorted((min([n.lineno] + [d.lineno for d in n.decorator_list]), n.lineno, n.name) for n in found)


def child_main(job_path: str) -> None:
    _watch_parent(Path(job_path).parent)
    job = json.loads(Path(job_path).read_text())
    progress = open(job["progress"], "a", buffering=1)
    left_out = {step: Failure(*why) for step, why in job["left_out"].items()}

    def step(name: str) -> bool:
        """Report a step before taking it; False for one left out."""
        progress.write(name + "\n")
        return name not in left_out

    import warp as wp

    wp.config.log_level = 0
    from generation.kernels.synthesis import Synthesis, SynthesisError

    files = [(origin, Path(path), Path(root)) for origin, path, root in job["files"]]
    origins = {str(path.resolve()): origin for origin, path, _ in files}

    def origin_of(file: str) -> str | None:
        """The origin of a harvested file, None for any other (Warp's, a dependency's)."""
        return origins.get(str(Path(file).resolve())) if file else None

    not_imported: dict[str, Failure] = {}  # origin -> why its file gave no module
    for origin, path, root in files:
        name, _ = bundle.module_name(path, root)
        prefix = bundle.package_prefix(root)
        entry = str(root.parents[len(prefix) - 1] if prefix else root)
        if entry not in sys.path:
            sys.path.insert(0, entry)
        if not step(f"import {origin}"):
            not_imported[origin] = left_out[f"import {origin}"]
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

    if job["setup"] and step(f"setup {Path(job['setup']).name}"):  # its exceptions end the child: an error
        runpy.run_path(job["setup"], run_name="__main__")

    harvested = lambda file: origin_of(file) is not None  # noqa: E731
    found = [k for k in gc.get_objects() if isinstance(k, wp.Kernel) and k.generic_parent is None]
    found = [k for k in found if harvested(k.func.__code__.co_filename)]
    kernels: list[dict] = []
    skipped: list[Failure] = []
    made: set[tuple[str, int]] = set()  # definitions (origin, first line) that gave a kernel
    for kernel in found:
        origin = origin_of(kernel.func.__code__.co_filename)
        line = kernel.func.__code__.co_firstlineno
        made.add((origin, line))
        overloads = sorted(kernel.overloads.items()) if kernel.is_generic else []
        for signature, overload in overloads or [("", None)]:
            where = f"{origin}::{kernel.func.__qualname__}" + (f"[{signature}]" if signature else "")
            if not step(f"kernel {where}"):
                skipped.append(left_out[f"kernel {where}"])
                continue
            synthesis = Synthesis(harvested)
            try:
                source = synthesis.kernel_source(kernel, overload)
            except SynthesisError as error:
                skipped.append(Failure(error.kind, f"{where}: {error}"))
                continue
            except Exception as error:  # noqa: BLE001 - counted, never a crash of the harvest
                skipped.append(Failure("synthesis_error", f"{where}: {type(error).__name__}: {error}"[:300]))
                continue
            other = [origin_of(f) for f in synthesis.files]
            kernels.append(
                {
                    "origin": origin,
                    "qualname": kernel.func.__qualname__,
                    "line": line,
                    "overload": signature,
                    "name": kernel.func.__name__,
                    "python_source": source,
                    "files": sorted(set(other) - {origin}),
                    "doc": (kernel.func.__doc__ or "").strip(),
                }
            )
    for origin, path, _ in files:
        for first, def_line, name in _definitions(path):
            if (origin, first) in made or (origin, def_line) in made:
                continue
            why = not_imported.get(origin)
            if why is not None:
                skipped.append(Failure(why.kind, f"{origin}::{name} (line {first}): {why.message}"[:400]))
            else:
                skipped.append(Failure("not_created", f"{origin}::{name} (line {first}): no kernel was made from it"))
    # One order whatever the import made first (``gc`` order is not): kernels by file, line,
    # overload, then the text itself; skips by kind and message.
    kernels.sort(key=lambda k: (k["origin"], k["line"], k["qualname"], k["overload"], k["python_source"]))
    skipped.sort(key=lambda f: (f.kind, f.message))
    Path(job["result"]).write_text(json.dumps({"kernels": kernels, "skipped": [[f.kind, f.message] for f in skipped]}))
    progress.write("done\n")
    progress.close()
    os._exit(0)  # skip interpreter teardown: a package's atexit hooks and threads cannot hang it


if __name__ == "__main__":
    child_main(sys.argv[1])
