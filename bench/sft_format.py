"""SFT formatting speed on one core: ``to_sft`` (what a user calls: ``Dataset.map`` over a dataset
on disk, Arrow cache files written) and ``format_row`` alone, per task and view, on ``--rows``
rows (a built sample repeated). The target: 100k rows in under 30 s.

    python bench/sft_format.py [--config cuda] [--rows 100000] [--sample 400]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import datasets

from generation.pipeline.build import build_rows
from generation.pipeline.options import CONFIGS, BuildOptions
from generation.pipeline.rows import FEATURES
from generation.pipeline.stats import BuildStats
from generation.training.sft import TASKS, format_row, to_sft

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direct import planned_split  # noqa: E402  (shared with the tests)

VIEWS = {"verbatim": {}, "compact": {"compact": True}, "compact+placeholders": {"compact": True, "placeholders": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cuda", choices=[c for c in CONFIGS if CONFIGS[c].source == "generated"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=400, help="distinct rows built, then repeated")
    args = parser.parse_args()

    options = BuildOptions(num_examples=args.sample, num_validation=0, num_test=0, seed=9)
    sample = list(build_rows(planned_split(options), CONFIGS[args.config].device, options, BuildStats()))
    copies = -(-args.rows // len(sample))
    sampled = datasets.Dataset.from_list(sample, features=FEATURES)
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as folder:
        datasets.concatenate_datasets([sampled] * copies).select(range(args.rows)).save_to_disk(f"{folder}/rows")
        dataset = datasets.load_from_disk(f"{folder}/rows")
        measure(dataset, sample, args.config)


def measure(dataset: datasets.Dataset, sample: list[dict], config: str) -> None:
    chars = sum(len(r["python_source"]) + len(r["forward"]) + len(r["code"]) for r in sample) / len(sample)
    print(f"{config}: {len(dataset):,} rows ({len(sample)} distinct), {chars * len(dataset) / 1e6:,.0f} M characters\n")
    print("| task | view | to_sft s | to_sft rows/s | format_row s | completion chars vs verbatim |")
    print("|---|---|---:|---:|---:|---:|")
    for task in TASKS:
        verbatim_chars = None
        for view, flags in VIEWS.items():
            start = time.perf_counter()
            formatted = to_sft(dataset, task, **flags)
            mapped = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(len(dataset) // len(sample)):
                for row in sample:
                    format_row(row, task, **flags)
            alone = (time.perf_counter() - start) * len(dataset) / (len(dataset) // len(sample) * len(sample))
            completion = sum(len(c) for c in formatted.select(range(len(sample)))["completion"])
            del formatted
            dataset.cleanup_cache_files()  # a 100k-row run writes gigabytes of cache files
            verbatim_chars = verbatim_chars or completion
            print(
                f"| {task} | {view} | {mapped:.1f} | {len(dataset) / mapped:,.0f} | {alone:.1f} | "
                f"{completion / verbatim_chars:.0%} |"
            )


if __name__ == "__main__":
    main()
