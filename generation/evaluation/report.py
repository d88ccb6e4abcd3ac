"""The report of an evaluation: ``summary.json`` and ``summary.md`` (every source side by side,
overall and by category, difficulty and config), ``rows.jsonl`` (every score and first error),
and ``scores.png``.

A rate is the share of predictions where the score was measured: ``compiles`` is not measured
for PTX (the CUDA driver assembles it), ``correct`` not for CUDA and PTX code without a GPU, and
not for a row whose reference could not be run. ``correct_strong`` leaves out weak rows
(``compare.weak``). A row without a prediction counts as a wrong prediction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from math import comb
from pathlib import Path
from typing import Any

from generation.evaluation.measured import adjoints_compared
from generation.evaluation.scores import Score

METRICS = ("exact", "chrf", "compiles", "correct", "correct_strong", "round_trip")
PASS_AT = (1, 5, 10)
GROUPS = ("category", "difficulty", "config")


def _mean(values: list) -> float | None:
    measured = [float(value) for value in values if value is not None]
    return round(sum(measured) / len(measured), 4) if measured else None


def metrics(records: Sequence[Score]) -> dict[str, Any]:
    strong = [record.correct if not record.weak else None for record in records]
    scores = {
        "predictions": len(records),
        "missing": sum(record.sample is None for record in records),
        "harness_failures": sum(bool(record.harness) for record in records),
        "exact": _mean([record.exact for record in records]),
        "chrf": _mean([record.chrf for record in records]),
        "compiles": _mean([record.compiles for record in records]),
        "correct": _mean([record.correct for record in records]),
        "correct_strong": _mean(strong),
        "round_trip": _mean([record.round_trip for record in records]),
        "correct_measured": sum(record.correct is not None for record in records),
    }
    return scores


def pass_at_k(records: Sequence[Score]) -> dict[str, float]:
    """Unbiased pass@k (Chen et al. 2021) over rows, for each k every row has samples enough for."""
    by_row: dict[str, list] = defaultdict(list)
    for record in records:
        if record.correct is not None:
            by_row[record.id].append(bool(record.correct))
    if not by_row:
        return {}
    fewest = min(len(samples) for samples in by_row.values())
    found = {}
    for k in (k for k in PASS_AT if k <= fewest):
        rates = [1.0 - comb(len(s) - sum(s), k) / comb(len(s), k) for s in by_row.values()]
        found[f"pass@{k}"] = round(sum(rates) / len(rates), 4)
    return found


def _mutation_summary(records: Sequence[Score]) -> dict[str, Any]:
    """Of the mutants that change behaviour (outputs beyond the tolerance, or a failed run, on the
    scored input sets or on 15 further ones), the share that fails ``correct``; the survivors."""
    changing = [r for r in records if r.compiles and r.changed and r.correct is not None]
    caught = [r for r in changing if not r.correct]
    survivors = [{"id": r.id, "category": r.category, "mutation": r.note} for r in changing if r.correct]
    return {
        "mutants": len(records),
        "compiled": sum(bool(r.compiles) for r in records),
        "behaviour_changing": len(changing),
        "equivalent": sum(1 for r in records if r.compiles and r.changed is False),
        "caught": len(caught),
        "caught_rate": round(len(caught) / len(changing), 4) if changing else None,
        "survivors": survivors,
    }


ADJOINTS = {
    True: "compared, for rows built with a backward pass",
    False: "not compared: the candidates replace the forward only, and the backward is the row's own code, "
    "which recomputes the forward on inputs of its own launch",
}


def summarize(
    records: Sequence[Score], request: dict, weak: dict[str, str], notes: dict[str, str], sandbox: dict
) -> dict[str, Any]:
    by_source: dict[str, list] = defaultdict(list)
    for record in records:
        by_source[record.source].append(record)
    sources = {}
    for name, own in by_source.items():
        entry: dict[str, Any] = {"overall": metrics(own) | pass_at_k(own)}
        for group in GROUPS:
            values: dict[str, list] = defaultdict(list)
            for record in own:
                values[getattr(record, group)].append(record)
            entry[f"by_{group}"] = {key: metrics(values[key]) for key in sorted(values)}
        if name == "mutate":
            entry["mutation"] = _mutation_summary(own)
        sources[name] = entry
    categories: dict[str, list] = defaultdict(list)
    first = next(iter(by_source.values()), [])
    for record in first:
        if record.sample in (None, 0):
            categories[record.category].append(bool(record.weak))
    measured = [reason for reason in weak.values()]
    return {
        "request": request,
        "weak_rows": {
            "rows": len(measured),
            "weak": sum(bool(reason) for reason in measured),
            "share": _mean([bool(reason) for reason in measured]),
            "by_category": {key: _mean(values) for key, values in sorted(categories.items())},
        },
        # whether candidates' adjoints are compared at all (not where they replace the forward only)
        "adjoints": ADJOINTS[adjoints_compared(request["task"], True)],
        # rows whose reference backward pass fails on the inputs (Warp cannot differentiate some
        # loops): their candidates are compared on forward outputs only
        "forward_only_rows": sum(bool(note) for note in notes.values()),
        # the layers of the sandbox candidates ran in, and those missing on this machine (and why)
        "sandbox": sandbox,
        "sources": sources,
    }


def _cell(value) -> str:
    if value is None:
        return "n/m"
    return f"{value:.1f}" if isinstance(value, float) and value > 1 else f"{100 * value:.1f}%"


def markdown(summary: dict) -> str:
    request, sources = summary["request"], summary["sources"]
    names = list(sources)
    lines = [
        f"# Evaluation: `{request['task']}` on `{request['config']}` / {request['split']}",
        "",
        f"{request['rows']} rows, {request['input_sets']} input sets, views: {', '.join(request['views']) or 'none'}. "
        "n/m: not measured here (see docs/evaluation.md in warp-ir-pairs).",
        "",
        "| score | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    shown = [*METRICS, *sorted({k for s in sources.values() for k in s["overall"] if k.startswith("pass@")})]
    for metric in shown:
        values = [sources[name]["overall"].get(metric) for name in names]
        if all(value is None for value in values) and metric == "round_trip":
            continue  # scored for forward_to_python only
        cells = [f"{v:.1f}" if metric == "chrf" and v is not None else _cell(v) for v in values]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines.append(
        "| predictions (missing) | "
        + " | ".join(f"{sources[n]['overall']['predictions']} ({sources[n]['overall']['missing']})" for n in names)
        + " |"
    )
    weak = summary["weak_rows"]
    lines += [
        "",
        f"Weak rows (left out of `correct_strong`): {weak['weak']} of {weak['rows']} ({_cell(weak['share'])}).",
        "",
        _sandbox_line(summary["sandbox"]),
    ]
    failures = {name: sources[name]["overall"]["harness_failures"] for name in names}
    if any(failures.values()):
        lines.append(
            "**Harness failures** (not scored, not the candidates' doing; see `harness` in rows.jsonl): "
            + ", ".join(f"{name} {count}" for name, count in failures.items())
            + "."
        )
    lines.append(f"Adjoints: {summary['adjoints']}.")
    if "run_limit" in summary["request"]:
        lines.append(f"Run time limit of a candidate: {summary['request']['run_limit']}.")
    if summary["forward_only_rows"]:
        lines.append(
            f"Rows compared on forward outputs only (the reference's backward pass fails on the inputs): "
            f"{summary['forward_only_rows']}."
        )
    for group in ("category", "difficulty"):
        keys = sorted({key for name in names for key in sources[name][f"by_{group}"]})
        lines += [
            "",
            f"## `correct` by {group}",
            "",
            f"| {group} | " + " | ".join(names) + " |",
            "| --- |" + " --- |" * len(names),
        ]
        for key in keys:
            cells = [_cell(sources[n][f"by_{group}"].get(key, {}).get("correct")) for n in names]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    if "mutate" in sources:
        mutation = sources["mutate"]["mutation"]
        lines += [
            "",
            "## Mutants",
            "",
            f"{mutation['mutants']} mutants, {mutation['compiled']} compiled, {mutation['behaviour_changing']} change "
            f"behaviour on some input set, {mutation['caught']} of those fail `correct` "
            f"({_cell(mutation['caught_rate'])}); {mutation['equivalent']} are equivalent on every input set.",
        ]
        if mutation["survivors"]:
            lines += ["", "Survivors:", ""]
            lines += [f"- `{s['id']}` ({s['category']}): `{s['mutation']}`" for s in mutation["survivors"]]
    return "\n".join(lines) + "\n"


def _sandbox_line(sandbox: dict) -> str:
    """Which layers of the sandbox the candidates ran in, and which were missing here."""
    line = "Sandbox: " + (", ".join(f"`{layer['layer']}`" for layer in sandbox["in_force"]) or "none") + "."
    if sandbox["missing"]:
        line += " **Missing**: " + "; ".join(f"`{name}` ({why})" for name, why in sandbox["missing"].items()) + "."
    return line


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = summary["sources"]
    names = list(sources)
    width = 0.8 / max(1, len(names))
    figure, axes = plt.subplots(figsize=(8, 3.5))
    for k, name in enumerate(names):
        overall = sources[name]["overall"]
        values = [(overall[m] or 0.0) / (100.0 if m == "chrf" else 1.0) for m in METRICS]
        axes.bar([i + k * width for i in range(len(METRICS))], values, width, label=name)
    axes.set_xticks(
        [i + width * (len(names) - 1) / 2 for i in range(len(METRICS))], [*METRICS[:1], "chrF/100", *METRICS[2:]]
    )
    axes.set_ylim(0, 1)
    axes.set_ylabel("share of predictions")
    request = summary["request"]
    axes.set_title(f"{request['task']} on {request['config']} ({request['rows']} {request['split']} rows)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write(out: Path, records: Sequence[Score], summary: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary))
    with open(out / "rows.jsonl", "w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record.to_json()) + "\n")
    plot(summary, out / "scores.png")
