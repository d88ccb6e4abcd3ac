"""Builds as the user waits for them, against bare Warp codegen of the same kernels in the same run.

Speed (issue 11): from the command (or the ``load_dataset`` call) to the last row written, with
planning, regeneration, Parquet/Arrow and the card included:
- ``warp-ir-pairs build`` with one worker, and with two (the ratio should be >= 1.8x);
- ``load_dataset("./warp_ir_pairs.py", ...)`` with one process;
- bare codegen (Warp's module hash and ``ModuleBuilder.codegen``) of the very kernels the build
  wrote, already imported, in one process: the floor (builds should reach >= 0.7x of it).

Memory: two-worker builds of ``--sizes`` rows; the peak RSS of every process (each task's
datatrove statistics, and the CLI's own), and the growth from the smallest size to the largest.

    python bench/scale.py [--config cuda] [--rows 2000] [--sizes 20000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from bench_codegen import bare_codegen  # noqa: E402

from generation.backend import warp_api  # noqa: E402
from generation.backend.children import peak_rss_mb  # noqa: E402
from generation.pipeline.plan import PlannedKernel  # noqa: E402

CLI = [sys.executable, "-m", "generation.cli", "build"]


def cli_build(config: str, rows: int, out: Path, workers: int, seed: int) -> tuple[float, int, int]:
    """Seconds from the command to its exit, rows written, and the CLI process's peak RSS (MB)."""
    command = [*CLI, config, "--num-examples", str(rows), "--seed", str(seed), "--out", str(out)]
    command += ["--tasks", str(workers), "--workers", str(workers)]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0  # its own VmHWM, read while it runs (the ru_maxrss wait4 gives counts this process's peak too)
    while not (ended := os.wait4(process.pid, os.WNOHANG))[0]:
        peak = max(peak, peak_rss_mb(process.pid))
        time.sleep(0.1)
    _, status, usage = ended
    elapsed = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, process.stderr.read().decode()[-3000:]
    stats = json.loads((out / ".build" / config / "build_stats.json").read_text())
    written = sum(split["rows"] for split in stats["splits"].values())
    return elapsed, written, peak or usage.ru_maxrss // 1024


def task_peaks(out: Path, config: str) -> dict[str, int]:
    """The largest peak RSS (MB) any task process of each stage reported."""
    peaks = {}
    for stage_dir in sorted((out / ".build" / config / "logs").iterdir()):
        values = []
        for path in (stage_dir / "stats").glob("*.json"):
            for step in json.loads(path.read_text()):
                peak = step["stats"].get("peak_rss_mb")
                if peak:
                    values.append(peak["total"])
        peaks[stage_dir.name] = max(values, default=0)
    return peaks


def load_dataset_build(config: str, rows: int, seed: int, cache: Path) -> tuple[float, int]:
    start = time.perf_counter()
    built = datasets.load_dataset(
        str(REPO / "warp_ir_pairs.py"), config, trust_remote_code=True, cache_dir=str(cache), num_examples=rows,
        seed=seed,
    )  # fmt: skip
    return time.perf_counter() - start, sum(len(split) for split in built.values())


def bare_rate(out: Path, config: str, workdir: Path) -> float:
    """Bare codegen of every kernel the build wrote (all splits), in this process."""
    device = "cpu" if config == "cpu" else "cuda"
    built = datasets.load_dataset(str(out), config, cache_dir=str(workdir / "cache"))
    kernels = [
        PlannedKernel(row["metadata"]["index"], _Spec(row["python_source"]))
        for split in built.values()
        for row in split
    ]
    return bare_codegen(kernels, device, workdir / "bare")


class _Spec:
    def __init__(self, python_source: str):
        self.python_source = python_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--rows", type=int, default=2000, help="train rows of the speed builds")
    parser.add_argument("--sizes", default="20000,100000", help="train rows of the memory builds ('' to skip)")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    warp_api.init_warp()
    config, rows = args.config, args.rows
    with tempfile.TemporaryDirectory(prefix="wirp_scale_") as tmp:
        root = Path(tmp)
        one = cli_build(config, rows, root / "one", 1, args.seed)
        two = cli_build(config, rows, root / "two", 2, args.seed)
        embedded = load_dataset_build(config, rows, args.seed, root / "hf")
        bare = bare_rate(root / "one", config, root)
        rate = {
            "warp-ir-pairs build, 1 worker": one[1] / one[0],
            "warp-ir-pairs build, 2 workers": two[1] / two[0],
            "load_dataset, 1 process": embedded[1] / embedded[0],
        }
        print(
            f"\nwarp {warp_api.warp_version()}, config {config}, "
            f"{one[1]} rows (train {rows} + held out), seed {args.seed}"
        )
        print("| path | rows/s | vs bare codegen | vs 1 worker |")
        print("|---|---:|---:|---:|")
        print(f"| bare codegen of the same kernels, 1 process | {bare:.1f} | 1.00x | |")
        for name, value in rate.items():
            print(
                f"| {name} | {value:.1f} | {value / bare:.2f}x | {value / rate['warp-ir-pairs build, 1 worker']:.2f}x |"
            )

        sizes = [int(size) for size in args.sizes.split(",") if size]
        if sizes:
            print("\n| train rows | rows written | seconds | rows/s | CLI peak MB | " + " | ".join(
                f"{stage} task peak MB" for stage in ("scan", "select", "build", "finish")
            ) + " |")  # fmt: skip
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            largest = {}
            for size in sizes:
                out = root / f"size_{size}"
                elapsed, written, cli_peak = cli_build(config, size, out, 2, args.seed)
                peaks = task_peaks(out, config)
                largest[size] = max(cli_peak, *peaks.values())
                cells = " | ".join(str(peaks.get(stage, 0)) for stage in ("scan", "select", "build", "finish"))
                print(f"| {size} | {written} | {elapsed:.0f} | {written / elapsed:.1f} | {cli_peak} | {cells} |")
            low, high = sizes[0], sizes[-1]
            print(f"\npeak RSS of any process: {largest[low]} MB at {low} rows, {largest[high]} MB at {high} rows "
                  f"(growth {largest[high] - largest[low]} MB)")  # fmt: skip
            hours = 1_000_000 / (written / elapsed) / 3600
            print(f"1M rows at the {high}-row rate on this machine (2 workers): {hours:.1f} hours")


if __name__ == "__main__":
    main()
