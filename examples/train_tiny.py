"""Train a tiny causal language model on warp-ir-pairs, from scratch, on the CPU.

    pip install -e '.[train]'            # torch (CPU), transformers, tokenizers
    python examples/train_tiny.py        # about 3 minutes on 2 cores; --quick: under a minute

It builds a small `cuda` dataset with the dataset script (no Hub download), formats it for the
`python_to_forward` task (prompt/completion, compact, placeholders), trains a byte-level BPE
tokenizer and a 2-layer Llama on the training split with the loss on completion tokens only, and
writes `loss.png` (training and validation loss) into --out. It prints how many examples fit the
context length. Then it closes the loop: the model writes its completion for every test row
(greedy, `predictions.jsonl`), and the evaluation harness scores them next to the `reference`,
`nearest` and `mutate` baselines (`eval/summary.md`; `--config cpu` measures `correct` too, which
CUDA code needs a GPU for). TRL's `SFTTrainer` reads the same `prompt`/`completion` columns; it needs
`datasets` 4 or newer, so it does not install beside this project's `datasets` 3.6.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

import torch
from datasets import load_dataset
from tokenizers import ByteLevelBPETokenizer
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from generation.evaluation.baselines import BASELINES
from generation.evaluation.harness import evaluate
from generation.evaluation.predictions import write_predictions
from generation.training.sft import to_sft

SCRIPT = str(Path(__file__).resolve().parents[1] / "warp_ir_pairs.py")
PAD, EOS = "<pad>", "<eos>"
IGNORED = -100  # label of prompt and padding tokens: no loss there
VIEWS = ("compact", "placeholders")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("train_tiny"), help="where loss.png goes")
    parser.add_argument("--rows", type=int, default=600, help="training rows to build")
    parser.add_argument("--steps", type=int, default=120, help="optimizer steps")
    parser.add_argument("--max-length", type=int, default=2048, help="context length in tokens")
    parser.add_argument("--max-forward-chars", type=int, default=6000, help="the build's cap on `forward`")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 120 rows, 30 steps")
    parser.add_argument("--config", choices=("cuda", "cpu"), default="cuda", help="the config built and learned")
    parser.add_argument("--new-tokens", type=int, default=768, help="longest completion written per test row")
    parser.add_argument("--no-eval", action="store_true", help="stop after training")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.steps = 120, 30
    return args


def build_examples(args: argparse.Namespace):
    """The dataset, built here and formatted for SFT."""
    built = load_dataset(
        SCRIPT,
        args.config,
        trust_remote_code=True,
        num_examples=args.rows,
        seed=args.seed + 1,
        max_forward_chars=args.max_forward_chars,
        cache_dir=str(args.out / "hf_cache"),
    )
    return built, to_sft(built, "python_to_forward", **dict.fromkeys(VIEWS, True))


def train_tokenizer(texts: list[str], vocab_size: int = 2048) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the training texts only."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[PAD, EOS])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token=PAD, eos_token=EOS)


def tokenize(split, tokenizer: PreTrainedTokenizerFast, max_length: int) -> tuple[list[tuple[list, list]], int]:
    """``(input_ids, labels)`` per example, cut to ``max_length``, and how many fit uncut."""
    examples, fit = [], 0
    for example in split:
        prompt = tokenizer(example["prompt"])["input_ids"]
        completion = tokenizer(example["completion"])["input_ids"] + [tokenizer.eos_token_id]
        ids = prompt + completion
        fit += len(ids) <= max_length
        labels = [IGNORED] * len(prompt) + completion
        examples.append((ids[:max_length], labels[:max_length]))
    return examples, fit


def tiny_llama(tokenizer: PreTrainedTokenizerFast, max_length: int) -> LlamaForCausalLM:
    """The 2-layer, 0.6M-parameter Llama trained here (and the policy of ``grpo_tiny.py``)."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_length,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def batch_of(examples: list[tuple[list, list]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in examples)
    ids = [ids + [pad_id] * (width - len(ids)) for ids, _ in examples]
    labels = [labels + [IGNORED] * (width - len(labels)) for _, labels in examples]
    mask = [[1] * len(i) + [0] * (width - len(i)) for i, _ in examples]
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


@torch.no_grad()
def mean_loss(model, examples, pad_id: int, batch_size: int) -> float:
    model.eval()
    losses = [
        model(**batch_of(examples[k : k + batch_size], pad_id)).loss.item() for k in range(0, len(examples), batch_size)
    ]
    model.train()
    return sum(losses) / len(losses)


def plot(history: dict[str, list[tuple[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(6, 3.6))
    for name, points in history.items():
        ax.plot(*zip(*points, strict=True), marker="o" if name == "validation" else None, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (completion tokens)")
    ax.set_title("2-layer Llama on warp-ir-pairs, python_to_forward")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()

    built, examples = build_examples(args)
    train_texts = [e["prompt"] + e["completion"] for e in examples["train"]]
    tokenizer = train_tokenizer(train_texts)
    train, train_fit = tokenize(examples["train"], tokenizer, args.max_length)
    validation, validation_fit = tokenize(examples["validation"], tokenizer, args.max_length)
    print(
        f"{train_fit} of {len(train)} training examples ({train_fit / len(train):.0%}) and {validation_fit} of "
        f"{len(validation)} validation examples fit in {args.max_length} tokens "
        f"(vocabulary {len(tokenizer)}, built in {time.perf_counter() - started:.0f} s)"
    )

    model = tiny_llama(tokenizer, args.max_length)
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    warmup = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1, step / args.steps))),
    )
    batch_size, eval_every = 8, max(1, args.steps // 6)
    history: dict[str, list[tuple[int, float]]] = {"train": [], "validation": []}
    history["validation"].append((0, mean_loss(model, validation, tokenizer.pad_token_id, batch_size)))
    order: list[int] = []
    for step in range(1, args.steps + 1):
        if len(order) < batch_size:
            order += random.sample(range(len(train)), len(train))
        batch = batch_of([train[order.pop()] for _ in range(batch_size)], tokenizer.pad_token_id)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        history["train"].append((step, loss.item()))
        if step % eval_every == 0 or step == args.steps:
            history["validation"].append((step, mean_loss(model, validation, tokenizer.pad_token_id, batch_size)))
            print(f"step {step}: train loss {loss.item():.3f}, validation loss {history['validation'][-1][1]:.3f}")

    plot(history, args.out / "loss.png")
    first, last = history["validation"][0][1], history["validation"][-1][1]
    verdict = "loss fell" if last < first else "loss did not fall"
    print(
        f"{verdict}: validation {first:.2f} -> {last:.2f}, train {history['train'][0][1]:.2f} -> "
        f"{history['train'][-1][1]:.2f}; {parameters / 1e6:.2f}M parameters, {args.steps} steps, "
        f"{time.perf_counter() - started:.0f} s in all; wrote {args.out / 'loss.png'}"
    )
    if not args.no_eval:
        predictions = args.out / "predictions.jsonl"
        write_predictions(predictions, predict(model, tokenizer, examples["test"], args))
        summary = evaluate(
            built, args.config, "test", "python_to_forward", [predictions], list(BASELINES), args.out / "eval", VIEWS
        )
        print((args.out / "eval" / "summary.md").read_text().split("\n## ")[0])
        print(f"scored {len(examples['test'])} test rows; the report is in {args.out / 'eval'}")
        assert summary["sources"]["reference"]["overall"]["compiles"] == 1.0


@torch.no_grad()
def predict(model, tokenizer: PreTrainedTokenizerFast, test, args: argparse.Namespace) -> dict[str, dict[int, str]]:
    """The model's completion for each test prompt, greedy, as the predictions file holds it."""
    model.eval()
    predictions = {}
    for example in test:
        prompt = tokenizer(example["prompt"], return_tensors="pt")["input_ids"][:, -args.max_length // 2 :]
        room = min(args.new_tokens, args.max_length - prompt.shape[1])
        output = model.generate(prompt, max_new_tokens=room, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        predictions[example["id"]] = {0: tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True)}
    return predictions


if __name__ == "__main__":
    main()
