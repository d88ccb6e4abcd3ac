"""Peak memory of writing one shard, by its size (issue 23, item 5): a build task's memory grew with
its rows because the Parquet writer holds every row group's metadata until the file closes.

Builds ``--rows`` real rows once, then for each of ``--sizes`` writes that many rows (the real rows
over and over) through the build's own writer (``layout.write_parquet``), each size in a fresh
process, and prints the process's peak RSS and its growth from the first size.

    python bench/shard_memory.py [--sizes 20000,100000] [--rows 300]
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

WRITE = """
import itertools, pickle, sys
from generation.backend.children import peak_rss_mb
from generation.hub import layout
rows, size, out = pickle.load(open(sys.argv[1], "rb")), int(sys.argv[2]), sys.argv[3]
layout.write_parquet(layout.folder(out), "shard.parquet", itertools.islice(itertools.cycle(rows), size))
print(peak_rss_mb())  # not ru_maxrss: Linux carries it over exec from this bench, which holds the rows
"""


def real_rows(count: int) -> list[dict]:
    from generation.pipeline.build import build_groups
    from generation.pipeline.options import BuildOptions
    from generation.pipeline.plan import plan_splits
    from generation.pipeline.stats import BuildStats

    options = BuildOptions(num_examples=count, num_validation=0, num_test=0, seed=21)
    plan = plan_splits(options, "cuda")
    return list(build_groups(plan.groups("train"), "cuda", options, BuildStats()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="wirp_shard_memory_") as tmp:
        rows_file = Path(tmp) / "rows.pkl"
        rows_file.write_bytes(pickle.dumps(real_rows(args.rows)))
        print("| rows in the shard | peak RSS MB | growth MB |\n|---:|---:|---:|")
        first = None
        for size in sizes:
            out = Path(tmp) / f"out_{size}"
            done = subprocess.run(
                [sys.executable, "-c", WRITE, str(rows_file), str(size), str(out)], capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr[-3000:]
            peak = int(done.stdout.split()[-1])
            first = peak if first is None else first
            print(f"| {size:,} | {peak} | {peak - first} |", flush=True)


if __name__ == "__main__":
    main()
