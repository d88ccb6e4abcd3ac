"""The execution reward's targets, on one ``cpu`` build, ``python_to_forward``, 2 cores:

    python bench/reward.py [--out bench_reward] [--rows 120] [--seed 1] [--before 8f9442b]
    python bench/reward.py --add-sub-only --rows 400 --seed 3   # the add/sub rate alone, on more rows,
                                                                # its survivors again on 60 input sets

For each test row: its reference forward, its ``mutate`` baseline mutant (where it has one), its add/sub
mutant (one ``wp::add`` made ``wp::sub`` or back, where it has one whose second operand is not zero whatever
the inputs), a garbage completion and an empty one.
Timed, as a user waits:
- ``warp-ir-pairs eval`` from the command line on the reference predictions, with this checkout and
  with ``--before`` (the commit before the reward and its speed work, in a temporary git worktree);
- ``ExecutionReward``: made (workers warmed), then called on the references (each row's reference is
  built then), the mutants (references kept), garbage and empty, and the references again (cache).
Checked: references score 1.0, mutants below 1.0, garbage and empty 0.0, and every candidate's
``compiles``/``correct`` (and its reward) equal to what ``eval`` of this checkout says of it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.evaluation import harness, mutation  # noqa: E402
from generation.evaluation.baselines import BASELINES  # noqa: E402
from generation.evaluation.predictions import write_predictions  # noqa: E402
from generation.evaluation.reward import ExecutionReward, reward_of  # noqa: E402
from generation.evaluation.scores import Score  # noqa: E402

CLI = [sys.executable, "-m", "generation.cli"]
BEFORE = "8f9442b"  # the last commit before the reward and its speed work
TASK = "python_to_forward"
KINDS = ("reference", "mutant", "add_sub", "garbage", "empty")
ADD_SUB = ("wp::add", "wp::sub")


def build(out: Path, rows: int, seed: int) -> Path:
    data = out / "data_cpu"
    if not (data / "cpu").exists():
        sizes = ["--num-examples", str(2 * rows), "--num-test", str(rows), "--seed", str(seed)]
        subprocess.run([*CLI, "build", "cpu", "--out", str(data), "--workers", str(os.cpu_count()), *sizes], check=True)
    return data


def eval_cli(out: Path, name: str, data: Path, predictions: Path, checkout: Path | None = None) -> tuple[float, Path]:
    report = out / f"report_{name}"
    command = [*CLI, "eval", str(data), "--config", "cpu", "--task", TASK, "--predictions", str(predictions)]
    where = {"cwd": checkout, "env": dict(os.environ, PYTHONPATH=str(checkout))} if checkout else {}
    start = time.perf_counter()
    subprocess.run([*command, "--out", str(report)], check=True, stdout=subprocess.DEVNULL, **where)
    return time.perf_counter() - start, report


def candidates(rows: list[dict]) -> tuple[dict[str, dict[str, str]], set[str]]:
    """``{kind: {row_id: completion}}``, and the rows whose mutant swaps an operator (add for sub...)."""
    mutants = BASELINES["mutate"](rows, TASK, (), [])
    operators = {row_id for row_id, made in mutants.items() if made["note"].startswith("operator")}
    return {
        "reference": {row["id"]: row["forward"] for row in rows},
        "mutant": {row_id: made["text"] for row_id, made in mutants.items()},
        "add_sub": add_sub_mutants(rows),
        "garbage": {row["id"]: f"garbage {row['id']} (" for row in rows},
        "empty": {row["id"]: "" for row in rows},
    }, operators


# What Warp's forward writes: a constant, and a call on earlier variables.
CONSTANT = re.compile(r"^\s*const [\w:<>, ]+ (var_\w+) = (-?[\d.]+(?:e[-+]?\d+)?)f?;\s*$")
CALL = re.compile(r"^\s*(var_\w+) = (?:wp::(\w+)\(([^()]*)\)|(var_\w+));\s*$")
# When a call's result is zero, by which of its operands must be: any of a product's, all of a sum's,
# the one of a conversion, negation or copy.
ZERO_WHEN = {"mul": any, "add": all, "sub": all}
UNARY_KEEPING_ZERO = ("neg", "copy", "abs", "float", "float16", "float32", "float64", "int", "int32", "int64")
ZERO_WHEN |= dict.fromkeys(UNARY_KEEPING_ZERO, all)


def compile_time_zeros(code: str) -> set[str]:
    """The forward's variables that are zero whatever the inputs: zero constants, and what a
    conversion, a negation or a product of one makes (the first copy of an unrolled loop computes
    ``float(0) * x``), where nothing assigns the variable again."""
    start, end = mutation._forward_function(code)
    zeros: set[str] = set()
    assigned: Counter = Counter()
    for line in code[start:end].splitlines():
        if match := CONSTANT.match(line):
            if float(match.group(2)) == 0.0:
                zeros.add(match.group(1))
        elif match := CALL.match(line):
            target, function, args, copied = match.groups()
            assigned[target] += 1
            operands = [a.strip() for a in args.split(",")] if args else [copied]
            rule = all if copied else ZERO_WHEN.get(function)
            if rule is not None and rule(operand in zeros for operand in operands):
                zeros.add(target)
    reassigned = {name for name, n in assigned.items() if n > 1} | set(re.findall(r"wp::assign\((var_\w+)", code))
    return zeros - reassigned


def add_sub_mutants(rows: list[dict]) -> dict[str, str]:
    """Each row's forward with one of its ``wp::add``/``wp::sub`` calls swapped for the other (the
    call drawn with the row id as seed), for the rows that have one. A call whose second operand is
    zero whatever the inputs is not drawn: ``x + 0`` made ``x - 0`` is the same code, which no
    score can tell from the reference."""
    made = {}
    for row in rows:
        code = row["forward"]
        zeros = compile_time_zeros(code)
        sites = [site for site in mutation.SITES["cpp"](code, "") if code[site.start : site.end] in ADD_SUB]
        sites = [site for site in sites if _second_operand(code, site.end) not in zeros]
        if sites:
            site = random.Random(zlib.crc32(row["id"].encode())).choice(sites)
            made[row["id"]] = code[: site.start] + site.replacement + code[site.end :]
    return made


def add_sub_rate(data: Path, rows: list[dict], workers: int, out: Path, survivor_sets: int) -> None:
    """The references' and the add/sub mutants' rewards alone: the rate on a sample larger than the
    timed run's, where a 120-row run's rate moves by a few points with the rows drawn. The survivors
    are scored again on ``survivor_sets`` input sets: how many more inputs would tell apart (the
    rest compute what the reference does on any inputs drawn as the harness draws them), and
    written to ``add_sub_survivors.json`` (each row's source and the changed line) for reading."""
    mutants = add_sub_mutants(rows)
    with ExecutionReward(data, "cpu", TASK, workers=workers) as reward:
        references = reward(prompts=None, completions=[row["forward"] for row in rows], id=[row["id"] for row in rows])
        values = reward(prompts=None, completions=list(mutants.values()), id=list(mutants))
    below = sum(value is not None and value < 1.0 for value in values)
    print(f"references at 1.0: {sum(value == 1.0 for value in references)} of {len(rows)}")
    print(f"add/sub mutants below 1.0: {below} of {len(values)} rows with one ({below / len(values):.1%})")
    survivors = {row_id: mutants[row_id] for row_id, value in zip(mutants, values, strict=True) if value == 1.0}
    if not survivors:
        return
    with ExecutionReward(data, "cpu", TASK, workers=workers, input_sets=survivor_sets) as reward:
        again = reward(prompts=None, completions=list(survivors.values()), id=list(survivors))
    told = sum(value is not None and value < 1.0 for value in again)
    print(f"survivors told apart on {survivor_sets} input sets: {told} of {len(survivors)}")
    by_id = {row["id"]: row for row in rows}
    readable = [_changed_line(by_id[row_id], text) for row_id, text in survivors.items()]
    (out / "add_sub_survivors.json").write_text(json.dumps(readable, indent=1))


def _changed_line(row: dict, mutant: str) -> dict:
    """A survivor as a reader wants it: the row's Python, the statement Warp's comment names above
    the changed call, and the changed call."""
    reference, changed = row["forward"].splitlines(), mutant.splitlines()
    line = next(n for n, (a, b) in enumerate(zip(reference, changed, strict=True)) if a != b)
    statement = next((text.strip() for text in reversed(reference[:line]) if text.strip().startswith("//")), "")
    return {
        "id": row["id"],
        "category": row["category"],
        "statement": statement,
        "changed": changed[line].strip(),
        "python_source": row["python_source"],
    }


def _second_operand(code: str, call_end: int) -> str:
    """The second argument of the call whose name ends at ``call_end`` (``wp::add(var_3, var_7)``)."""
    match = re.match(r"\((var_\w+), (var_\w+)\)", code[call_end:])
    return match.group(2) if match else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench_reward"))
    parser.add_argument("--rows", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1, help="the build's seed: another draws other rows")
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--add-sub-only", action="store_true", help="score only the references and add/sub mutants")
    parser.add_argument(
        "--survivor-sets", type=int, default=60, help="input sets the add/sub survivors are scored on again"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = build(args.out, args.rows, args.seed)
    rows, _ = harness.load_rows(data, "cpu", "test")
    if args.add_sub_only:
        add_sub_rate(data, rows, args.workers, args.out, args.survivor_sets)
        return
    made, operators = candidates(rows)
    files = {}
    for kind in KINDS:
        files[kind] = args.out / f"{kind}.jsonl"
        write_predictions(files[kind], {row_id: {0: text} for row_id, text in made[kind].items()})
    mix = args.out / "mix.jsonl"
    samples = {row["id"]: {k: made[kind].get(row["id"], "") for k, kind in enumerate(KINDS)} for row in rows}
    write_predictions(mix, samples)

    lines = ["| run | candidates | seconds | candidates/s |", "|---|---:|---:|---:|"]
    checkout = Path(tempfile.mkdtemp(prefix="wirp_before_")) / "checkout"
    subprocess.run(["git", "worktree", "add", "--detach", str(checkout), args.before], check=True, capture_output=True)
    try:
        before, _ = eval_cli(args.out, "before", data, files["reference"], checkout)
        before_garbage, _ = eval_cli(args.out, "before_garbage", data, files["garbage"], checkout)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], check=True)
    after, _ = eval_cli(args.out, "after", data, files["reference"])
    after_garbage, _ = eval_cli(args.out, "after_garbage", data, files["garbage"])
    _, mix_report = eval_cli(args.out, "mix", data, mix)
    count = len(rows)
    lines += [
        f"| `eval` at {args.before}, references | {count} | {before:.1f} | {count / before:.2f} |",
        f"| `eval` now, references | {count} | {after:.1f} | {count / after:.2f} |",
        f"| `eval` at {args.before}, garbage | {count} | {before_garbage:.1f} | {count / before_garbage:.2f} |",
        f"| `eval` now, garbage | {count} | {after_garbage:.1f} | {count / after_garbage:.2f} |",
    ]

    rewards: dict[str, dict[str, float | None]] = {}
    start = time.perf_counter()
    with ExecutionReward(data, "cpu", TASK, workers=args.workers) as reward:
        warmed = time.perf_counter() - start
        lines.append(f"| reward made ({args.workers} workers warmed) | - | {warmed:.1f} | - |")
        timed = {}
        for kind in (*KINDS, "reference again"):
            texts = made[kind.split()[0]]
            ids = list(texts)
            begun = time.perf_counter()
            values = reward(prompts=None, completions=[texts[row_id] for row_id in ids], id=ids)
            timed[kind] = time.perf_counter() - begun
            rewards.setdefault(kind.split()[0], dict(zip(ids, values, strict=True)))
            rate = len(ids) / timed[kind]
            lines.append(f"| reward: {kind} | {len(ids)} | {timed[kind]:.2f} | {rate:.1f} |")
        first = timed["reference"] + warmed
        lines.append(f"| reward: references, made and called | {count} | {first:.1f} | {count / first:.2f} |")
        distinct = sum(len(made[kind]) for kind in KINDS)
        spent = sum(timed[kind] for kind in KINDS)
        lines.append(f"| reward: all four kinds, once each | {distinct} | {spent:.1f} | {distinct / spent:.1f} |")
    print("\n".join(lines))
    print()
    today = count / before  # candidates/s of eval before this work
    print(
        f"distinct candidates/s, reward over `eval` at {args.before}: references "
        f"{count / timed['reference'] / today:.2f}x (cold: each row's reference built in the call), with the "
        f"reward's making {before / first:.2f}x; mutants (references kept) "
        f"{len(made['mutant']) / timed['mutant'] / today:.2f}x; "
        f"all four kinds {distinct / spent / today:.2f}x"
    )
    again = timed["reference again"]
    print(f"repeated batch: {again:.3f} s, {again / timed['reference']:.4f} of the first")

    reference = rewards["reference"]
    mutant = rewards["mutant"]
    print(f"references at 1.0: {sum(v == 1.0 for v in reference.values())} of {len(reference)}")
    operator = operators & set(mutant)
    print(
        f"mutants below 1.0: {sum(v is not None and v < 1.0 for v in mutant.values())} of {len(mutant)} rows with one "
        f"({sum(mutant[r] is not None and mutant[r] < 1.0 for r in operator)} of {len(operator)} operator mutants)"
    )
    add_sub = rewards["add_sub"]
    below = [row_id for row_id, value in add_sub.items() if value is not None and value < 1.0]
    print(f"add/sub mutants below 1.0: {len(below)} of {len(add_sub)} rows with one ({len(below) / len(add_sub):.0%})")
    for kind in ("garbage", "empty"):
        print(f"{kind} at 0.0: {sum(v == 0.0 for v in rewards[kind].values())} of {len(rewards[kind])}")
    differ = []
    by_sample = dict(enumerate(KINDS))
    for row in map(json.loads, open(mix_report / "rows.jsonl")):
        kind = by_sample.get(row["sample"])
        if kind is None or row["id"] not in rewards[kind]:
            continue
        if reward_of(Score.from_json(row), 0.0) != rewards[kind][row["id"]]:
            differ.append((kind, row["id"]))
    compared = sum(len(values) for values in rewards.values())
    print(f"reward equal to eval's score: {compared - len(differ)} of {compared} candidates; differ: {differ[:5]}")


if __name__ == "__main__":
    main()
