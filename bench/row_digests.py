"""Row ids and full-row digests of a fixed set of seeded builds, through ``load_dataset``: record them
before a refactor, compare after, and any row that changed is named by build and split.

    python bench/row_digests.py --out before.json            # on the old commit
    python bench/row_digests.py --out after.json --compare before.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import datasets

from generation.real.harvest import warp_package

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from digest import rows_digest  # noqa: E402  (the digest the tests compare builds with)

SCRIPT = str(Path(__file__).resolve().parents[1] / "warp_ir_pairs.py")
# A file Warp ships, harvested as a user's folder would be (``paths=``, ``license=``).
USER_FILE = "examples/core/example_wave.py"
# name: (config, options); every config and check a refactor could disturb.
BUILDS = {
    "cpu": ("cpu", {"num_examples": 300, "seed": 5, "num_proc": 2}),
    "cuda": ("cuda", {"num_examples": 300, "seed": 5, "num_proc": 2}),
    "cuda_hard": ("cuda", {"num_examples": 60, "seed": 9, "difficulty": "hard", "include_backward": False}),
    "ptx": ("ptx", {"num_examples": 12, "seed": 3}),
    "cpu_run": ("cpu", {"num_examples": 30, "seed": 2, "validate": "run"}),
    "real_cuda": ("real_cuda", {"seed": 5, "num_proc": 2}),
    "real_cpu_paths": ("real_cpu", {"seed": 1, "license": "MIT"}),
}


def digests(tmp: Path) -> dict:
    paths_dir = tmp / "physics"  # a fixed name: rows name harvested files relative to the folder given
    paths_dir.mkdir()
    shutil.copy(warp_package() / USER_FILE, paths_dir / Path(USER_FILE).name)
    result = {}
    for name, (config, options) in BUILDS.items():
        options = dict(options, paths=[str(paths_dir)]) if config == "real_cpu" else options
        with tempfile.TemporaryDirectory() as cache:
            ds = datasets.load_dataset(SCRIPT, config, trust_remote_code=True, cache_dir=cache, **options)
        digest = rows_digest(ds)
        result[name] = {"ids": {split: [row["id"] for row in ds[split]] for split in ds}, "digest": digest}
        rows = sum(len(ids) for ids in result[name]["ids"].values())
        print(f"{name}: {rows} rows, {digest[:16]}", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="a recording to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        now = digests(Path(tmp))
    args.out.write_text(json.dumps(now, indent=1))
    if not args.compare:
        return 0
    before = json.loads(args.compare.read_text())
    print("\n| build | rows | ids identical | full rows identical |\n|---|---:|---|---|")
    same = True
    for name, recorded in before.items():
        current = now.get(name, {})
        ids, rows = recorded["ids"] == current.get("ids"), recorded["digest"] == current.get("digest")
        same &= ids and rows
        print(f"| {name} | {sum(len(v) for v in recorded['ids'].values())} | {ids} | {rows} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
