"""Sweep the generator through Warp's code generator and count every failure by reason (issue 22, item 5).

Draws kernels exactly as a build does (round-robin over the categories, one seed, the given
difficulty, or ``smallest``: the size a length cap steers to last), makes their code for
``--device`` and prints, per difficulty, the draws, the failures by reason (exception type and
message with names and numbers blanked) and the first draw of each reason, so a failure can be
regenerated with ``generate(category, seed, index, options)``.

    python bench/codegen_sweep.py [--draws 100000] [--difficulty mixed easy medium hard smallest] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import time
from collections import Counter

from tqdm import tqdm

from generation.backend.targets import make_code
from generation.generated.generator import (
    CATEGORIES,
    DIFFICULTIES,
    GenerationOptions,
    draw_round,
    generate,
    smaller_profiles,
)
from generation.pipeline.options import DEFAULT_SEED

CHUNK = 200
# What each --difficulty value draws with: a difficulty, or the smallest size a length cap steers to.
PROFILES = {d: GenerationOptions(difficulty=d) for d in DIFFICULTIES}
PROFILES["smallest"] = smaller_profiles(GenerationOptions())[-1]


def reason(error: BaseException) -> str:
    """The failure's kind: its type and message with identifiers' numbers and quoted values blanked."""
    text = str(error).splitlines()[0] if str(error) else ""
    text = re.sub(r"\d+", "N", text)
    text = re.sub(r"'[^']*'", "'…'", text)
    return f"{type(error).__name__}: {text[:160]}"


def sweep_chunk(job: tuple[str, int, int, str, int]) -> list[tuple[str, str]]:
    """``(reason, draw)`` for each failing draw of ``[start, start + CHUNK)``."""
    difficulty, seed, start, device, count = job
    rounds = draw_round(tuple(CATEGORIES))
    options = PROFILES[difficulty]
    failures = []
    for index in range(start, start + count):
        category = rounds[index % len(rounds)]
        try:
            spec = generate(category, seed, index, options)
            make_code(spec.python_source, spec.name, device)
        except Exception as error:  # every failure is what the sweep counts
            failures.append((reason(error), f"generate({category!r}, {seed}, {index}, {options})"))
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--difficulty", nargs="+", default=["mixed"], choices=list(PROFILES))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()

    print("| difficulty | draws | failures | seconds | reasons (count: first draw) |\n|---|---:|---:|---:|---|")
    with multiprocessing.Pool(args.workers) as pool:
        for difficulty in args.difficulty:
            jobs = [
                (difficulty, args.seed, start, args.device, min(CHUNK, args.draws - start))
                for start in range(0, args.draws, CHUNK)
            ]
            counts: Counter[str] = Counter()
            first: dict[str, str] = {}
            started = time.perf_counter()
            for failures in tqdm(pool.imap(sweep_chunk, jobs), total=len(jobs), desc=difficulty, leave=False):
                for why, draw in failures:
                    counts[why] += 1
                    first.setdefault(why, draw)
            seconds = time.perf_counter() - started
            reasons = "; ".join(f"{count} {why} ({first[why]})" for why, count in counts.most_common()) or "none"
            print(f"| {difficulty} | {args.draws:,} | {sum(counts.values())} | {seconds:.0f} | {reasons} |", flush=True)


if __name__ == "__main__":
    main()
