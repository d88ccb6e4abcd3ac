"""Fit and check the length prediction a cap steers planning with (``generation/pipeline/plan/lengths.py``).

Draws kernels of every category at each size a cap steers to (``smaller_profiles``), makes their
code for each target, fits characters per syntax node by least squares on one half, and prints,
on the other half, how close the prediction is (actual over predicted, percentiles) and what it
does at caps: the share of kernels that fit, the share predicted to, and of those the share that
do (precision), for the table in ``length_weights.json``; ``--write`` replaces that table with
the fresh fit first. PTX is far less regular (NVRTC inlines and unrolls), and made for fewer
kernels: its weights are CUDA's, scaled by one least squares line from CUDA's prediction.

    python bench/length_prediction.py [--draws 2400] [--ptx-every 4] [--write]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from pathlib import Path

import numpy as np
from tqdm import tqdm

from generation.backend.targets import make_code
from generation.generated.generator import CATEGORIES, GenerationOptions, draw_round, generate, smaller_profiles
from generation.pipeline.plan import lengths

TARGETS = ("cpu", "cuda", "ptx")
CAPS = {"forward": (3000, 4000, 6000), "code": (20000, 40000, 60000)}
SEED = 11
WEIGHTS_FILE = Path(lengths.__file__).parent / "length_weights.json"


def measure(job: tuple[int, int]) -> list[dict]:
    """Node counts and code lengths of draws ``[start, stop)`` (PTX for every ``ptx_every``-th)."""
    (start, stop), ptx_every = job
    rounds = draw_round(tuple(CATEGORIES))
    ladder = smaller_profiles(GenerationOptions())
    records = []
    for index in range(start, stop):
        spec = generate(rounds[index % len(rounds)], SEED, index, ladder[index % len(ladder)])
        record = {"counts": lengths.node_counts(spec.python_source)}
        for target in TARGETS:
            if target == "ptx" and index % ptx_every:
                continue
            try:
                made = make_code(spec.python_source, spec.name, target)
            except Exception:  # the sweep counts these; here they only go unmeasured
                continue
            record[target] = {"forward": len(made.forward), "code": len(made.code)}
        records.append(record)
    return records


def fit(records: list[dict], target: str, column: str, kinds: list[str]) -> dict[str, float]:
    """Least squares weights (ridge, so rare kinds stay small), non-negative, with a constant term."""
    x = np.array([[r["counts"].get(k, 0) for k in kinds] + [1] for r in records], float)
    y = np.array([r[target][column] for r in records], float)
    ridge = 1.0 * np.eye(len(kinds) + 1)
    ridge[-1, -1] = 0
    weights = np.linalg.solve(x.T @ x + ridge, x.T @ y)
    kept = {k: round(float(w), 1) for k, w in zip(kinds, weights[:-1], strict=True) if abs(w) >= 0.5}
    return {"": round(float(weights[-1]), 1)} | kept


def scaled(weights: dict[str, float], records: list[dict], column: str) -> dict[str, float]:
    """``weights`` (CUDA's) mapped by the least squares line from their prediction to PTX lengths."""
    x = np.array([predict(weights, r["counts"]) for r in records])
    y = np.array([r["ptx"][column] for r in records], float)
    slope, intercept = np.linalg.lstsq(np.vstack([x, np.ones_like(x)]).T, y, rcond=None)[0]
    return {k: round(float(w * slope + (intercept if k == "" else 0)), 1) for k, w in weights.items()}


def predict(weights: dict[str, float], counts: dict[str, int]) -> float:
    return weights[""] + sum(weights.get(k, 0.0) * n for k, n in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--draws", type=int, default=2400)
    parser.add_argument("--ptx-every", type=int, default=4)
    parser.add_argument("--write", action="store_true", help="fit lengths.WEIGHTS afresh and write its file")
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()

    chunks = [((start, min(start + 100, args.draws)), args.ptx_every) for start in range(0, args.draws, 100)]
    with multiprocessing.Pool(args.workers) as pool:
        records = [r for chunk in tqdm(pool.imap(measure, chunks), total=len(chunks), leave=False) for r in chunk]
    measured = {target: [r for r in records if target in r] for target in TARGETS}
    halves = {target: len(rows) // 2 for target, rows in measured.items()}
    if args.write:
        fitted: dict[str, dict[str, dict[str, float]]] = {}
        for target in ("cpu", "cuda"):
            train = measured[target][: halves[target]]
            kinds = sorted({k for r in train for k in r["counts"]})
            fitted[target] = {column: fit(train, target, column, kinds) for column in lengths.COLUMNS}
        train = measured["ptx"][: halves["ptx"]]
        fitted["ptx"] = {column: scaled(fitted["cuda"][column], train, column) for column in lengths.COLUMNS}
        WEIGHTS_FILE.write_text(json.dumps(fitted, indent=1, sort_keys=True) + "\n")
        lengths.WEIGHTS.update(fitted)
    print("| target | column | kernels | actual / predicted p5, p50, p95 | cap: fit, predicted to fit, precision |")
    print("|---|---|---:|---|---|")
    for target in TARGETS:
        held_out = measured[target][halves[target] :]
        for column in lengths.COLUMNS:
            actual = np.array([r[target][column] for r in held_out], float)
            guess = np.array([predict(lengths.WEIGHTS[target][column], r["counts"]) for r in held_out])
            ratios = ", ".join(f"{v:.2f}" for v in np.percentile(actual / guess, [5, 50, 95]))
            at_caps = []
            for cap in CAPS[column]:
                fits, chosen = actual <= cap, guess <= cap
                precision = (fits & chosen).sum() / max(1, chosen.sum())
                at_caps.append(f"{cap}: {fits.mean():.0%}, {chosen.mean():.0%}, {precision:.0%}")
            print(f"| {target} | {column} | {len(held_out)} | {ratios} | {'; '.join(at_caps)} |")


if __name__ == "__main__":
    main()
