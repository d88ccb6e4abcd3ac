"""Builds deliver the rows asked for (issue 22): each case built through ``load_dataset`` (``num_proc``
2) and through the command line (``--tasks 3 --workers 2``), timed as the user waits (planning,
building and Arrow writing), with rows per split against requested, skips and replacements, and
whether the two paths wrote the same rows. The cap cases give the cost of a cap against the
uncapped build of the same size, measured in the same run.

    python bench/exact_counts.py [--cases cpu-9000 cuda-cap-4000 ...] [--out /tmp/exact_counts]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import datasets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from digest import rows_digest  # noqa: E402  (shared with the tests)

from generation import cli  # noqa: E402
from generation.hub.publish import load_builds  # noqa: E402

SCRIPT = str(Path(__file__).resolve().parents[1] / "warp_ir_pairs.py")
CASES = {
    "cpu-9000": ("cpu", {"num_examples": 9000, "seed": 10}),
    "cpu-compile-600": ("cpu", {"num_examples": 600, "validate": "compile"}),
    "cpu-run-600": ("cpu", {"num_examples": 600, "validate": "run"}),
    "cuda-compile-600": ("cuda", {"num_examples": 600, "validate": "compile"}),
    "cuda-1000": ("cuda", {"num_examples": 1000}),
    "cuda-cap-6000": ("cuda", {"num_examples": 1000, "max_forward_chars": 6000}),
    "cuda-cap-4000": ("cuda", {"num_examples": 1000, "max_forward_chars": 4000}),
    "cuda-cap-3000": ("cuda", {"num_examples": 1000, "max_forward_chars": 3000}),
}


def flags(options: dict) -> list[str]:
    argv = []
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", ",".join(value) if isinstance(value, list) else str(value)]
    return argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", default=None, help="where to build (a temporary folder by default)")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    root = Path(args.out or tempfile.mkdtemp(prefix="exact_counts_"))
    print("| case | load_dataset s | CLI s | rows per split | requested | skipped | replaced | same rows |")
    print("|---|---:|---:|---|---|---:|---:|---|")
    for name in args.cases:
        config, options = CASES[name]
        started = time.perf_counter()
        try:
            builder = datasets.load_dataset_builder(
                SCRIPT, config, trust_remote_code=True, cache_dir=str(root / name / "hf"), **options
            )
            builder.download_and_prepare(num_proc=2)
        except ValueError as error:
            print(f"| {name} | fails before building: {error} | | | | | | |", flush=True)
            continue
        built = builder.as_dataset()
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        argv = ["build", config, "--out", str(root / name / "cli"), "--tasks", "3", "--workers", "2", *flags(options)]
        code = cli.main(argv)
        by_cli = time.perf_counter() - started
        same = code == 0 and rows_digest(load_builds(root / name / "cli")[config]) == rows_digest(built)
        stats = builder.build_stats
        requested = "/".join(str(stats[split].requested) for split in built)
        skipped = sum(s.total_skipped for s in stats.values())
        replaced = sum(s.replaced for s in stats.values())
        rows = "/".join(str(len(built[split])) for split in built)
        print(
            f"| {name} | {loaded:.0f} | {by_cli:.0f} | {rows} | {requested} | {skipped} | {replaced} | "
            f"{'yes' if same else 'NO'} |",
            flush=True,
        )
    if not args.out:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
