"""Which ``max_forward_chars`` fits prompt+``forward`` pairs in a context length, measured with the
tokenizer the training example trains (byte-level BPE, ``examples/train_tiny.py``).

Builds ``--rows`` rows without a cap (a capped build keeps exactly the rows under its cap, replacing
the others with further draws, so the kept rows are this population filtered), formats them for
``python_to_forward`` as the example does (compact, placeholders) and verbatim, trains one tokenizer
per format on the first half and counts, on the second half, the pairs that fit each context for
each cap. Needs the ``train`` extra.

    python bench/length_fit.py [--config cuda] [--rows 1200] [--seed 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from tqdm import tqdm

from generation.pipeline.build import build_rows
from generation.pipeline.options import CONFIGS, BuildOptions
from generation.pipeline.stats import BuildStats
from generation.training.sft import format_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direct import planned_split  # noqa: E402  (shared with the tests)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_tiny.py"
CAPS = (2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, None)
CONTEXTS = (1024, 2048, 4096)


def example_module():
    spec = importlib.util.spec_from_file_location("train_tiny", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="cuda", choices=[c for c in CONFIGS if CONFIGS[c].source == "generated"])
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    options = BuildOptions(num_examples=args.rows, num_validation=0, num_test=0, seed=args.seed)
    kernels = planned_split(options)
    device = CONFIGS[args.config].device
    rows = list(tqdm(build_rows(kernels, device, options, BuildStats()), total=len(kernels), desc="build"))
    half = len(rows) // 2
    train_tokenizer = example_module().train_tokenizer
    print(f"{args.config}: {len(rows)} rows, tokenizer trained on {half}, measured on {len(rows) - half}\n")
    header = "| format | max_forward_chars | rows kept | " + " | ".join(f"fit {c}" for c in CONTEXTS) + " |"
    print(header + "\n|---|---:|---:|" + "---:|" * len(CONTEXTS))
    for name, views in (("compact, placeholders", {"compact": True, "placeholders": True}), ("verbatim", {})):
        examples = [format_row(row, "python_to_forward", **views) for row in rows]
        tokenizer = train_tokenizer([e["prompt"] + e["completion"] for e in examples[:half]])
        measured = [
            (len(row["forward"]), len(tokenizer(e["prompt"] + e["completion"])["input_ids"]) + 1)
            for row, e in zip(rows[half:], examples[half:], strict=True)
        ]
        for cap in CAPS:
            kept = [tokens for chars, tokens in measured if cap is None or chars <= cap]
            fits = " | ".join(f"{sum(t <= c for t in kept) / len(kept):.1%}" for c in CONTEXTS)
            print(f"| {name} | {cap or 'none'} | {len(kept) / len(measured):.1%} | {fits} |")


if __name__ == "__main__":
    main()
