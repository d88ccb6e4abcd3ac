"""Warp's own package as a corpus, by running its own tests on the CPU (issue 35): rows, time and
skips by reason, against the static default (Warp's examples and tests read, never run).

    python bench/warp_suite.py [--parts 2] [--timeout 2400] [--files 0] [--sample 30] [--out DIR]

1. The parts: Warp's test files (``warp/tests/**/test_*.py``), largest first, each dealt to the part
   with the least so far (by size), one ``pytest -q FILE ...`` command per part (``--files N``:
   only the first N files of the sorted list, for a quick look).
2. The run build, through the command line as a user types it (printed), timed from the command to
   its exit: ``warp-ir-pairs build real_cpu --paths W/_src W/tests W/examples --harvest run
   --run-timeout T --run-command PART ...``: the package's code, tests and examples are harvested,
   imported in a child per part, the parts run side by side, their kernels merged (a kernel two parts
   took counts once).
3. The same paths in import mode (imported, nothing run), and the static default
   (``warp-ir-pairs build real_cpu``: Warp's examples and tests read), timed the same way.
4. Rows, seconds, and skips by reason of each; then the honesty check (``tests/test_honesty.py``:
   Warp, given only a row's ``python_source`` in a fresh process, makes the row's code) on
   ``--sample`` rows of the run build, drawn with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import datasets
import warp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_honesty import dishonest_rows  # noqa: E402

WARP = Path(warp.__file__).parent
CLI = str(Path(sys.executable).with_name("warp-ir-pairs"))


def parts(count: int, files: int) -> list[list[Path]]:
    """Warp's test files dealt into ``count`` parts of about equal size (largest first, each to the
    lightest part); ``files``: only that many, in name order (0: all)."""
    tests = sorted((WARP / "tests").rglob("test_*.py"))
    tests = tests[:files] if files else tests
    dealt: list[list[Path]] = [[] for _ in range(count)]
    sizes = [0] * count
    for test in sorted(tests, key=lambda path: -path.stat().st_size):
        lightest = sizes.index(min(sizes))
        dealt[lightest].append(test)
        sizes[lightest] += test.stat().st_size
    return [sorted(part) for part in dealt if part]


def timed_build(args: list[str], out: Path) -> tuple[float, dict]:
    """Seconds from the command to its exit, and the build's statistics."""
    print("$", shlex.join(["warp-ir-pairs", *args]), flush=True)
    start = time.perf_counter()
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, json.loads((out / ".build" / "real_cpu" / "build_stats.json").read_text())


def summary(stats: dict) -> tuple[int, Counter]:
    """Rows written and skips by reason, over the splits."""
    rows, skipped = 0, Counter()
    for split in stats["splits"].values():
        rows += split["rows"]
        skipped.update(split["skipped"])
    return rows, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", type=int, default=2, help="run commands, each in a child of its own")
    parser.add_argument("--timeout", type=int, default=2400, help="seconds each part may run")
    parser.add_argument("--files", type=int, default=0, help="only the first N test files (0: all)")
    parser.add_argument("--sample", type=int, default=30, help="run rows checked for honesty")
    parser.add_argument("--out", type=Path, help="where the builds go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="wirp_warp_suite_"))
    commands = [shlex.join(["pytest", "-q", *map(str, part)]) for part in parts(args.parts, args.files)]
    # the whole package: its code, its tests (which the parts run) and its examples (imported: Warp's
    # own test of them runs each in a process of its own, which no child can see), as the static
    # default reads its examples and tests
    paths = [str(WARP / "_src"), str(WARP / "tests"), str(WARP / "examples")]
    run_args = ["build", "real_cpu", "--out", str(out / "run"), "--paths", *paths]
    run_args += ["--harvest", "run", "--run-timeout", str(args.timeout)]
    run_args += [arg for command in commands for arg in ("--run-command", command)]
    builds = {"run": timed_build(run_args, out / "run")}
    import_args = ["build", "real_cpu", "--out", str(out / "import"), "--paths", *paths, "--harvest", "import"]
    builds["import"] = timed_build(import_args, out / "import")
    builds["static default"] = timed_build(["build", "real_cpu", "--out", str(out / "static")], out / "static")

    print(f"\nwarp {warp.__version__}, {len(commands)} parts of Warp's test files, {args.timeout} s each at most")
    print("| build | rows | s | skips by reason |\n|---|---:|---:|---|")
    for name, (seconds, stats) in builds.items():
        rows, skipped = summary(stats)
        reasons = ", ".join(f"{reason} {n}" for reason, n in skipped.most_common())
        print(f"| {name} | {rows:,} | {seconds:.0f} | {reasons} |")
    run_rows = summary(builds["run"][1])[0]
    for name in ("import", "static default"):
        print(f"run mode gave {run_rows / max(summary(builds[name][1])[0], 1):.2f}x the {name} build's rows")

    built = datasets.load_dataset("parquet", data_dir=str(out / "run" / "real_cpu"))
    rows = [row for split in built.values() for row in split]
    sample = random.Random(35).sample(rows, min(args.sample, len(rows)))
    (out / "honesty").mkdir(parents=True, exist_ok=True)
    dishonest = dishonest_rows(sample, out / "honesty")
    print(f"honest in a fresh process: {len(sample) - len(dishonest)} of {len(sample)} sampled run rows")
    built_by = [json.loads(row["metadata"]["recipe"]).get("built_by", "") for row in rows]
    named = sum(".py::" in test for test in built_by if test)
    print(f"rows a test built: {sum(map(bool, built_by))}, of them naming their test file: {named}")


if __name__ == "__main__":
    main()
