"""The evaluation harness's targets, measured as a user runs it: builds through the CLI, then
``warp-ir-pairs eval`` timed from the command line (loading, scoring, report).

    python bench/evaluation.py [--out bench_eval] [--stages speed,mutate,code,cuda,ptx,real,sandbox] [--rows 300]

Stages (each prints its table rows; every build and report is kept under --out):
- ``speed``: 500 ``cpu`` test rows, ``python_to_forward``, 5 input sets, the ``reference`` baseline
  (must be 100%), then ``nearest`` on the same rows; the weak rows per category come from here;
- ``mutate``: the ``mutate`` baseline on the same 500 rows (behaviour-changing mutants caught);
- ``code``: the ``reference`` baseline on 300 of those rows for ``python_to_code``;
- ``cuda``: 300 ``cuda`` test rows (``--rows``), ``forward_to_python`` and ``python_to_forward``
  (``reference`` and ``mutate``: NVRTC compiles them; they run on a GPU only);
- ``ptx``: 300 ``ptx`` test rows (``--rows``), ``python_to_forward`` (``reference`` and ``mutate``: nvJitLink
  assembles them; they run on a GPU only) and ``python_to_code`` (``reference``);
- ``real``: ``real_cpu`` built with ``validate=run``, every test row, ``python_to_forward``;
- ``sandbox``: what the sandbox costs: the ``speed`` run (500 ``cpu`` rows, ``reference``) with this
  checkout and with ``--before`` (a commit from before the sandbox, checked out in a temporary git
  worktree), one after the other in this run, twice, and the ratio of their times.
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

CLI = [sys.executable, "-m", "generation.cli"]
STAGES = ("speed", "mutate", "code", "cuda", "ptx", "real")  # the default; "sandbox" is asked for by name
BEFORE_SANDBOX = "17eaecb"  # the last commit whose candidates ran without the sandbox's layers


def build(out: Path, config: str, *flags: str) -> Path:
    data = out / f"data_{config}"
    if not (data / config).exists():
        workers = str(os.cpu_count() or 1)
        subprocess.run([*CLI, "build", config, "--out", str(data), "--workers", workers, *flags], check=True)
    return data


def evaluate(
    out: Path,
    name: str,
    data: Path,
    config: str,
    task: str,
    baselines: list[str],
    limit: int | None,
    checkout: Path | None = None,
) -> dict:
    """``warp-ir-pairs eval`` timed from the command line, with this checkout's code or ``checkout``'s."""
    report = out / f"report_{name}"
    command = [*CLI, "eval", str(data), "--config", config, "--task", task, "--out", str(report)]
    command += [flag for baseline in baselines for flag in ("--baseline", baseline)]
    command += ["--limit", str(limit)] if limit else []
    where = {"cwd": checkout, "env": dict(os.environ, PYTHONPATH=str(checkout))} if checkout else {}
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **where)
    seconds = time.perf_counter() - start
    summary = json.loads((report / "summary.json").read_text())
    summary["seconds"] = seconds
    return summary


def row(name: str, summary: dict) -> None:
    for source, entry in summary["sources"].items():
        overall = entry["overall"]
        cells = [overall.get(metric) for metric in ("exact", "compiles", "correct", "correct_strong", "round_trip")]
        shown = ["n/m" if cell is None else f"{100 * cell:.1f}%" for cell in cells]
        print(
            f"| {name} | {source} | {summary['request']['rows']} | {' | '.join(shown)} | {overall['chrf']:.1f} | "
            f"{summary['seconds']:.0f} |"
        )


def mutation_line(name: str, summary: dict) -> str:
    mutation = summary["sources"]["mutate"]["mutation"]
    caught = "n/m" if mutation["caught_rate"] is None else f"{100 * mutation['caught_rate']:.1f}%"
    return (
        f"{name} mutants: {mutation['mutants']}, compiled {mutation['compiled']}, behaviour-changing "
        f"{mutation['behaviour_changing']}, caught {mutation['caught']} ({caught}), "
        f"equivalent {mutation['equivalent']}; survivors: {mutation['survivors']}"
    )


def sandbox_cost(out: Path, data: Path, before: str) -> list[str]:
    """The 500-row ``reference`` run with and without the sandbox, alternating, in one run."""
    checkout = Path(tempfile.mkdtemp(prefix="wirp_before_")) / "checkout"
    subprocess.run(["git", "worktree", "add", "--detach", str(checkout), before], check=True, capture_output=True)
    try:
        seconds: dict[str, list[float]] = {"before": [], "after": []}
        for attempt in range(2):
            for name, where in (("before", checkout), ("after", None)):
                summary = evaluate(
                    out, f"sandbox_{name}{attempt}", data, "cpu", "python_to_forward", ["reference"], None, where
                )
                row(f"cpu python_to_forward, {name} the sandbox", summary)
                seconds[name].append(summary["seconds"])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], check=True)
    best = {name: min(times) for name, times in seconds.items()}
    return [
        f"sandbox cost: {best['after']:.1f} s with it, {best['before']:.1f} s without it ({before}), best of "
        f"{len(seconds['after'])} each: {best['after'] / best['before']:.3f}x ({seconds})"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench_eval"))
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--rows", type=int, default=300, help="test rows of the cuda and ptx stages")
    parser.add_argument("--before", default=BEFORE_SANDBOX, help="the commit the sandbox stage compares with")
    args = parser.parse_args()
    stages = args.stages.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    print("| run | source | rows | exact | compiles | correct | correct (strong) | round_trip | chrF | seconds |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    if {"speed", "mutate", "code", "sandbox"} & set(stages):
        cpu = build(args.out, "cpu", "--num-examples", "1000", "--num-test", "500", "--seed", "1")
    sizes = ["--num-examples", str(2 * args.rows), "--num-test", str(args.rows)]
    extra: list[str] = []
    if "speed" in stages:
        summary = evaluate(args.out, "speed", cpu, "cpu", "python_to_forward", ["reference"], None)
        row("cpu python_to_forward (end to end)", summary)
        row("cpu python_to_forward", evaluate(args.out, "nearest", cpu, "cpu", "python_to_forward", ["nearest"], None))
        weak = summary["weak_rows"]
        extra.append(
            f"weak rows: {weak['weak']} of {weak['rows']} ({100 * weak['share']:.1f}%), by category: "
            + ", ".join(f"{k} {100 * v:.0f}%" for k, v in weak["by_category"].items() if v)
        )
    if "mutate" in stages:
        summary = evaluate(args.out, "mutate", cpu, "cpu", "python_to_forward", ["mutate"], None)
        row("cpu python_to_forward", summary)
        extra.append(mutation_line("cpu", summary))
    if "code" in stages:
        row("cpu python_to_code", evaluate(args.out, "code", cpu, "cpu", "python_to_code", ["reference"], 300))
    if "cuda" in stages:
        cuda = build(args.out, "cuda", *sizes, "--seed", "2")
        row(
            "cuda forward_to_python",
            evaluate(args.out, "cuda_f2p", cuda, "cuda", "forward_to_python", ["reference"], None),
        )
        summary = evaluate(args.out, "cuda_p2f", cuda, "cuda", "python_to_forward", ["reference", "mutate"], None)
        row("cuda python_to_forward", summary)
        extra.append(mutation_line("cuda", summary))
    if "ptx" in stages:
        ptx = build(args.out, "ptx", *sizes, "--seed", "2")
        summary = evaluate(args.out, "ptx_p2f", ptx, "ptx", "python_to_forward", ["reference", "mutate"], None)
        row("ptx python_to_forward", summary)
        extra.append(mutation_line("ptx", summary))
        row("ptx python_to_code", evaluate(args.out, "ptx_p2c", ptx, "ptx", "python_to_code", ["reference"], None))
    if "real" in stages:
        real = build(args.out, "real_cpu", "--validate", "run", "--seed", "3")
        row(
            "real_cpu python_to_forward",
            evaluate(args.out, "real", real, "real_cpu", "python_to_forward", ["reference"], None),
        )
    if "sandbox" in stages:
        extra += sandbox_cost(args.out, cpu, args.before)
    print()
    for line in extra:
        print(line)


if __name__ == "__main__":
    main()
