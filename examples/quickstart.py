"""Build a small `cuda` dataset through the builder script and print one row."""

from pathlib import Path

from datasets import load_dataset

script = str(Path(__file__).resolve().parents[1] / "warp_ir_pairs.py")
dataset = load_dataset(script, "cuda", num_examples=20, trust_remote_code=True)
print(dataset)
row = dataset["train"][0]
print(f"\n# {row['kernel_name']} ({row['category']}): {row['description']}\n")
print(row["python_source"])
print(row["forward"][:1200], "\n...")
