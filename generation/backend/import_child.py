"""Import mode's child: import the harvested files, run the setup script, and write out every
kernel Warp then knows whose function lives in a harvested file (``synthesis.py``).

The parent (``generation/real/importer.py``) starts it with a job file, reads its progress line
before each step, and kills it at a step's time limit; the child watches the parent in turn.

    python -m generation.backend.import_child JOB.json
"""

from __future__ import annotations

import ast
import gc
import json
import os
import runpy
import shutil
import sys
import threading
import time
from pathlib import Path

from generation.source.features import is_kernel
from generation.source.modules import module_name, package_prefix
from generation.source.spec import Failure


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
    from generation.backend.synthesis import Synthesis, SynthesisError

    files = [(origin, Path(path), Path(root)) for origin, path, root in job["files"]]
    origins = {str(path.resolve()): origin for origin, path, _ in files}

    def origin_of(file: str) -> str | None:
        """The origin of a harvested file, None for any other (Warp's, a dependency's)."""
        return origins.get(str(Path(file).resolve())) if file else None

    not_imported: dict[str, Failure] = {}  # origin -> why its file gave no module
    for origin, path, root in files:
        name, _ = module_name(path, root)
        prefix = package_prefix(root)
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
