"""The dataset card (the published README): figures computed from the built data, and plots
(PNG, drawn with matplotlib; lengths on log scales, since they span three orders of magnitude)."""

from __future__ import annotations

import ast
import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit, urlunsplit

import datasets
import numpy as np
from huggingface_hub import DatasetCard, DatasetCardData

from generation.backend import warp_api
from generation.generated.generator import CATEGORIES, GENERATOR_VERSION, draw_round
from generation.generated.policy import fitted_table
from generation.measure.realism import Realism, realism, shapes
from generation.measure.reference import warp_reference
from generation.measure.shapes import SHAPE_LABELS, SHAPES, Tally, source_shapes, target_words
from generation.measure.vocabulary import calls_in, coverage, reference_calls
from generation.pipeline import checks
from generation.pipeline.options import CONFIGS
from generation.pipeline.plan import SPLITS
from generation.pipeline.rows import DATASET_VERSION, MEASURED, schema_table
from generation.real.importer import RunCommand
from generation.source.spec import GENERATED_LICENSE

IMAGES_DIR = "images"
CARD_METADATA = {
    "pretty_name": "warp-ir-pairs",
    "task_categories": ["text-generation"],
    "language": ["en"],
    "tags": ["code", "cuda", "gpu", "compiler", "nvidia-warp"],
}


@dataclass
class ConfigFigures:
    """What the card reports for one config, computed from its rows."""

    rows_per_split: dict[str, int]
    rows_per_category: Counter
    chars: dict[str, array]  # per column of ``MEASURED``: each row's length (``metadata.lengths``)
    lines: dict[str, array]
    warp_versions: set[str]
    licenses: Counter
    packages: Counter  # rows per (package, version, licence) of harvested kernels that name a package
    package_skips: dict[str, Counter]  # skips by reason per package (``skrl==2.1.1``), over every split
    checks: Counter  # rows per validation check passed
    features: Counter  # rows per feature of metadata.features
    difficulties: Counter  # rows per difficulty level ("" for harvested kernels)
    builtins: Counter  # calls of each Warp builtin in the rows' kernels and helpers
    shape: Realism  # how the rows' kernels are shaped (measure/realism.py)
    application: Tally  # which shapes of application code the rows' kernels have (measure/shapes.py)
    parsed_rows: int  # the rows the builtins and the shape were counted on
    skipped: dict[str, dict[str, int]]
    requested: dict[str, int]


FIGURE_COLUMNS = ["category", "python_source", "metadata"]


# Rows whose source is parsed for the vocabulary and shape tables: every row of a small build,
# an even sample of a big one (parsing costs about as much as a tenth of making the row).
PARSED_ROWS = 2000


def config_figures(
    rows: Iterable[tuple[str, dict]], build_stats: dict | None = None, total: int | None = None
) -> ConfigFigures:
    """The figures of one config from its ``(split, row)`` pairs, in one pass: a config of
    millions of rows is read a batch at a time, never held (only a few numbers per row are).
    With ``total`` rows coming, every ``total / PARSED_ROWS``-th row is parsed."""
    parse_every = max(1, math.ceil(total / PARSED_ROWS)) if total else 1
    builtins = warp_api.builtin_names()
    build_stats = build_stats or {}
    figures = ConfigFigures(
        rows_per_split=Counter(),
        rows_per_category=Counter(),
        chars={column: array("q") for column in MEASURED},
        lines={column: array("q") for column in MEASURED},
        warp_versions=set(),
        licenses=Counter(),
        packages=Counter(),
        package_skips=package_skips(build_stats),
        checks=Counter(),
        features=Counter(),
        difficulties=Counter(),
        builtins=Counter(),
        shape=realism([]),
        application=Tally(),
        parsed_rows=0,
        skipped={split: dict(stats.get("skipped", {})) for split, stats in build_stats.items()},
        requested={split: stats.get("requested", 0) for split, stats in build_stats.items()},
    )
    kernel_shapes = []
    for number, (split, row) in enumerate(rows):
        metadata = row["metadata"]
        figures.rows_per_split[split] += 1
        figures.rows_per_category[row["category"]] += 1
        for column, length in metadata["lengths"].items():
            figures.chars[column].append(length["chars"])
            figures.lines[column].append(length["lines"])
        figures.warp_versions.add(metadata["warp_version"])
        figures.licenses[metadata["license"]] += 1
        if metadata["package"]:
            figures.packages[metadata["package"], metadata["package_version"], metadata["license"]] += 1
        figures.checks.update(metadata["validation"])
        figures.features.update(metadata["features"])
        figures.difficulties[metadata["difficulty"] or "harvested"] += 1
        if number % parse_every == 0:
            tree = ast.parse(row["python_source"])  # once, for the calls and the shape
            figures.builtins.update(calls_in([tree], builtins))
            kernel_shapes += shapes([tree])
            figures.application.add(source_shapes([tree]))
            figures.parsed_rows += 1
    figures.rows_per_split = dict(figures.rows_per_split)
    figures.shape = realism(kernel_shapes)
    return figures


def package_skips(build_stats: dict) -> dict[str, Counter]:
    """Each package's skips by reason, summed over the splits' saved statistics."""
    found: dict[str, Counter] = {}
    for stats in build_stats.values():
        for package, skipped in stats.get("package_skips", {}).items():
            found.setdefault(package, Counter()).update(skipped)
    return found


def dataset_figures(dataset_dict: datasets.DatasetDict, build_stats: dict | None = None) -> ConfigFigures:
    """The figures of a loaded config."""
    total = sum(len(split) for split in dataset_dict.values())
    return config_figures(dataset_rows(dataset_dict), build_stats, total)


def dataset_rows(dataset_dict: datasets.DatasetDict) -> Iterator[tuple[str, dict]]:
    """``(split, row)`` pairs of a loaded dataset, with the columns the card reads."""
    for split in dataset_dict:
        for row in dataset_dict[split].select_columns(FIGURE_COLUMNS):
            yield split, row


PERCENTILES = (50, 90, 99)
# The columns the length plot compares: the prompt side, the usual target and the whole translation unit.
PLOTTED = ("python_source", "forward", "code")
COLORS = {"python_source": "#1f77b4", "forward": "#76b900", "code": "#d62728"}


def percentile_cells(values) -> list[str]:
    """The ``PERCENTILES`` of ``values`` and their maximum (nearest rank) as table cells, dashes for none."""
    if not len(values):
        return ["-"] * (len(PERCENTILES) + 1)
    ordered = sorted(values)
    ranks = [min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1) for p in PERCENTILES]
    return [f"{ordered[rank]:,}" for rank in ranks] + [f"{ordered[-1]:,}"]


def length_table(figures: dict[str, ConfigFigures]) -> str:
    """Per config and column: characters and lines at each percentile."""
    header = ["config", "column", *(f"chars p{p}" for p in PERCENTILES), "chars max"]
    header += [*(f"lines p{p}" for p in PERCENTILES), "lines max"]
    rows = [
        [f"`{config}`", f"`{column}`", *percentile_cells(fig.chars[column]), *percentile_cells(fig.lines[column])]
        for config, fig in figures.items()
        for column in MEASURED
    ]
    return _table(header, rows)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: the same figures, the same file
    _pyplot().close(figure)


def plot_lengths(figures: dict[str, ConfigFigures], path: Path) -> None:
    """One panel per config: histograms (share of rows) of the characters of ``PLOTTED`` columns,
    log-spaced bins on a log axis, so short kernels and the long tail both show."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(figures), figsize=(4.6 * len(figures), 3.4), squeeze=False, sharey=True)
    lengths = [v for fig in figures.values() for column in PLOTTED for v in fig.chars[column] if v > 0]
    bins = np.geomspace(max(1, min(lengths, default=1)), max(lengths, default=10) + 1, 40)
    for ax, (config, fig) in zip(axes[0], figures.items(), strict=True):
        for column in PLOTTED:
            values = [v for v in fig.chars[column] if v > 0]
            weights = [100 / len(values)] * len(values)  # a share of rows, so configs of any size compare
            ax.hist(
                values, bins=bins, weights=weights, histtype="step", linewidth=1.6, color=COLORS[column], label=column
            )
        ax.set_xscale("log")
        ax.set_title(f"{config} ({len(fig.chars['code']):,} rows)")
        ax.set_xlabel("characters (log scale)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("% of rows")
    axes[0][0].legend(frameon=False)
    _save(figure, path)


def plot_categories(figures: dict[str, ConfigFigures], path: Path) -> None:
    """Each config's share of rows per category, a bar per config."""
    plt = _pyplot()
    categories = sorted(set().union(*(f.rows_per_category for f in figures.values())))
    figure, ax = plt.subplots(figsize=(7, 0.3 * len(categories) + 1.2))
    height = 0.8 / len(figures)
    for k, (config, fig) in enumerate(figures.items()):
        total = sum(fig.rows_per_category.values()) or 1
        shares = [100 * fig.rows_per_category[name] / total for name in categories]
        ax.barh([c + k * height for c in range(len(categories))], shares, height=height, label=config)
    ax.set_yticks([c + 0.4 - height / 2 for c in range(len(categories))], categories)
    ax.invert_yaxis()
    ax.set_xlabel("% of the config's rows")
    ax.legend(frameon=False)
    _save(figure, path)


PLOTS = {"categories": plot_categories, "lengths": plot_lengths}


def write_plots(figures: dict[str, ConfigFigures], out_dir: Path) -> dict[str, str]:
    """Write the card's plots as PNG; return {plot name: path relative to the card}."""
    (out_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, plot in PLOTS.items():
        paths[name] = f"{IMAGES_DIR}/{name}.png"
        plot(figures, out_dir / paths[name])
    return paths


TEMPLATE = Path(__file__).with_name("dataset_card.md")


def _rate(rows: int, requested: int) -> str:
    return f"{100 * rows / requested:.1f}%" if requested else "-"


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def card_body(
    figures: dict[str, ConfigFigures],
    plots: dict[str, str],
    build_options: dict[str, dict],
    repo_id: str,
    default_config: str,
) -> str:
    """Fill ``dataset_card.md`` with the figures of every config."""
    configs = list(figures)
    categories = sorted(set().union(*(f.rows_per_category for f in figures.values())))
    licences = row_licenses(figures)
    values = {
        "repo_id": repo_id,
        "default_config": default_config,
        "split_table": split_table(figures),
        "category_table": per_config_table("category", figures, lambda f: f.rows_per_category),
        "category_plot": f"![share of rows per category, per config]({plots['categories']})",
        "cap_mix": cap_mix(figures, build_options),
        "length_table": length_table(figures),
        "length_plot": f"![characters of python_source, forward and code per config]({plots['lengths']})",
        "validation_table": validation_table(figures, build_options),
        "skip_list": "\n".join(skip_lines(figures)) or "- no statistics were saved with this build",
        "difficulty_table": per_config_table("difficulty", figures, lambda f: f.difficulties),
        "feature_table": per_config_table("feature", figures, lambda f: f.features, "`{}`"),
        "schema_table": schema_table(", ".join(categories)),
        "warp_versions": ", ".join(sorted(set().union(*(f.warp_versions for f in figures.values())))),
        "generator_version": GENERATOR_VERSION,
        "dataset_version": DATASET_VERSION,
        "build_options": "\n".join(
            f"- `{c}` build options: `{json.dumps(shown_options(o), sort_keys=True)}`" for c, o in build_options.items()
        ),
        "license_text": license_text(configs),
        "vocabulary_table": vocabulary_table(figures),
        "shape_table": shape_table(figures),
        "application_table": application_table(figures),
        "package_table": package_table(figures),
        "license_counts": ", ".join(f"{lic}: {n}" for lic, n in sorted(licences.items())),
    }
    return Template(TEMPLATE.read_text()).substitute(values)


def package_table(figures: dict[str, ConfigFigures]) -> str:
    """For real configs built from packages: each package's version, licences, rows and skips by
    reason (empty when no row names a package)."""
    lines = []
    for config, fig in figures.items():
        rows: dict[tuple[str, str], Counter] = {}
        for (name, version, license_), n in fig.packages.items():
            rows.setdefault((name, version), Counter())[license_] += n
        for key in fig.package_skips:
            name, version = key.split("==", 1)
            rows.setdefault((name, version), Counter())
        for (name, version), licences in sorted(rows.items()):
            skipped = fig.package_skips.get(f"{name}=={version}", Counter())
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) or "-"
            licence = ", ".join(sorted(licences)) or "-"
            lines.append([f"`{config}`", f"`{name}`", version, licence, sum(licences.values()), reasons])
    if not lines:
        return ""
    table = _table(["config", "package", "version", "licence", "rows", "skipped"], lines)
    note = ""
    reasons = {str(r).split(":")[-1] for fig in figures.values() for skips in fig.package_skips.values() for r in skips}
    if "no_tests" in reasons:
        note = (
            "\n\n`no_tests`: a run-mode build found no tests to run in the release's sdist, so its kernels were "
            "imported, not run."
        )
    return "Rows per harvested package (`metadata.package`, `metadata.package_version`):\n\n" + table + note


def split_table(figures: dict[str, ConfigFigures]) -> str:
    """Rows per split and skips, per config."""
    splits = [s for s in SPLITS if any(s in f.rows_per_split for f in figures.values())]
    rows = [
        [f"`{c}`", *(f.rows_per_split.get(s, 0) for s in splits), sum(sum(r.values()) for r in f.skipped.values())]
        for c, f in figures.items()
    ]
    return _table(["config", *splits, "skipped"], rows)


def per_config_table(label: str, figures: dict[str, ConfigFigures], counts, key_format: str = "{}") -> str:
    """One row per key of ``counts(figures)`` (a Counter per config), one column per config."""
    configs = list(figures)
    keys = sorted(set().union(*(counts(f) for f in figures.values())))
    return _table([label, *configs], [[key_format.format(k), *(counts(figures[c])[k] for c in configs)] for k in keys])


def cap_mix(figures: dict[str, ConfigFigures], build_options: dict[str, dict]) -> str:
    """For each generated config built under a length cap: each category's share of the draws (as
    an uncapped build has it) next to its share of the rows the cap kept."""
    sections = []
    for config, fig in figures.items():
        options = build_options.get(config, {})
        caps = {f"max_{c}_chars": options.get(f"max_{c}_chars") for c in ("forward", "code")}
        caps = {name: cap for name, cap in caps.items() if cap is not None}
        if not caps or CONFIGS[config].source != "generated":
            continue
        drawn = Counter(draw_round(options.get("categories") or CATEGORIES))
        rows = sum(fig.rows_per_category.values()) or 1
        table = _table(
            ["category", "share of draws (uncapped)", "share of rows (capped)"],
            [
                [c, f"{100 * n / drawn.total():.1f}%", f"{100 * fig.rows_per_category[c] / rows:.1f}%"]
                for c, n in sorted(drawn.items())
            ],
        )
        named = ", ".join(f"`{name}={cap}`" for name, cap in caps.items())
        sections.append(
            f"`{config}` was built under {named}: a draw predicted over the cap was made again at a smaller size "
            "(easy, then shallower and with fewer statements; its `metadata.recipe` says which), and a kernel "
            "still over it was replaced by a further draw. How that changed the mix:\n\n" + table
        )
    return "\n\n".join(sections) or "No config was built under a length cap."


def validation_table(figures: dict[str, ConfigFigures], build_options: dict[str, dict]) -> str:
    """Per config: its validate level, rows against requested, and the rows passing each check."""
    rows = [
        [
            f"`{c}`",
            build_options.get(c, {}).get("validate", "?"),
            sum(f.rows_per_split.values()),
            sum(f.requested.values()) or "?",
            _rate(sum(f.rows_per_split.values()), sum(f.requested.values())),
            *(f.checks[check] for check in checks.CHECKS),
        ]
        for c, f in figures.items()
    ]
    return _table(["config", "validate", "rows", "requested", "pass rate", *checks.CHECKS], rows)


def skip_lines(figures: dict[str, ConfigFigures]) -> list[str]:
    """A line per config and split: rows written of requested, and the skips by reason."""
    lines = []
    for config, fig in figures.items():
        for split in [s for s in SPLITS if s in fig.skipped]:
            reasons = fig.skipped[split]
            written = fig.rows_per_split.get(split, 0)
            text = ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())) or "none skipped"
            lines.append(f"- `{config}` / {split}: {written} of {fig.requested.get(split, written)} rows ({text})")
    return lines


def vocabulary_table(figures: dict[str, ConfigFigures]) -> str:
    """Per config: the distinct builtins its rows call, and the share of Warp's own calls they cover."""
    reference = reference_calls(warp_api.builtin_names())
    return _table(
        ["config", "distinct builtins called", "weighted coverage of Warp's calls", "rows parsed"],
        [
            [f"`{c}`", len(f.builtins), f"{coverage(reference, f.builtins):.3f}", f.parsed_rows]
            for c, f in figures.items()
        ],
    )


def shape_table(figures: dict[str, ConfigFigures]) -> str:
    """How the rows' kernels are shaped, next to the kernels Warp ships."""

    def row(name: str, r: Realism) -> list[object]:
        return [name, r.kernels, f"{r.self_nesting:.1%}", f"{r.p90_depth:g}", f"{r.indirect:.1%}", f"{r.loops:.1%}"]

    header = ["kernels of", "kernels", "f(f(x))", "p90 expression depth", "statements indexing past the tid", "loops"]
    rows = [row(f"`{c}`", f.shape) for c, f in figures.items()]
    rows += [row(f"Warp's {folder}", shape) for folder, shape in warp_reference().shapes.items()]
    return _table(header, rows)


def application_table(figures: dict[str, ConfigFigures]) -> str:
    """The share of each config's kernels with each shape of application code, beside the corpus
    the generator's odds were fitted to (``generation/generated/fitted.json``) and the targets."""
    corpora = fitted_table().get("reference", {})
    header = ["shape", *(f"`{c}`" for c in figures), *corpora, "generated rows' target"]
    rows = []
    for shape in SHAPES:
        cells = [f"{f.application.shares()[shape]:.0%}" for f in figures.values()]
        corpus = [f"{c['shares'][shape]:.0%}" for c in corpora.values()]
        rows.append([SHAPE_LABELS[shape], *cells, *corpus, target_words(shape)])
    rows.append(
        ["kernels", *(f.application.kernels for f in figures.values()), *(c["kernels"] for c in corpora.values()), ""]
    )
    return _table(header, rows)


def row_licenses(figures: dict[str, ConfigFigures]) -> Counter:
    """Rows per licence over every config, as the rows' ``metadata.license`` say."""
    return sum((f.licenses for f in figures.values()), Counter())


def hub_license(licenses: Counter) -> str | list[str]:
    """The card's YAML ``license``: the Hub's lower-case identifiers of the rows' licences."""
    ids = sorted({name.lower() for name in licenses}) or ["unknown"]
    return ids[0] if len(ids) == 1 else ids


def shown_options(options: dict) -> dict:
    """A build's options as a published card states them: files named as rows name them (by their
    last part, ``kernels``), never by where they were on the machine that built them."""
    shown = dict(options)
    if shown.get("paths"):
        shown["paths"] = [Path(path).name for path in shown["paths"]]
    if shown.get("import_setup"):
        shown["import_setup"] = Path(shown["import_setup"]).name
    if shown.get("run_command"):
        shown["run_command"] = [RunCommand(command).shown for command in shown["run_command"]]
    if shown.get("find_links"):
        shown["find_links"] = [Path(link).name for link in shown["find_links"]]
    if shown.get("index_url"):  # never a password or token written into the URL
        url = urlsplit(shown["index_url"])
        shown["index_url"] = urlunsplit(url._replace(netloc=url.hostname or "")) if url.username else url.geturl()
    return shown


def license_text(configs: list[str]) -> str:
    """Where the rows' licences come from, for the kinds of kernel this card holds."""
    sources = {CONFIGS[config].source for config in configs}
    parts = []
    if "generated" in sources:
        parts.append(f"Generated kernels and the code Warp generates for them are under {GENERATED_LICENSE}.")
    if "real" in sources:
        parts.append(
            "Harvested kernels keep the licence of the files they came from, as the build recorded it "
            "(Warp's own licence for Warp's examples and tests)."
        )
    return " ".join(parts)


def write_card(card_data: DatasetCardData, body: str, out_dir: Path, licenses: Counter) -> Path:
    """README.md: the ``push_to_hub`` YAML (configs, dataset_info) plus licence and tags, then the body."""
    card_data.license = hub_license(licenses)
    for key, value in CARD_METADATA.items():
        setattr(card_data, key, value)
    card = DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")
    path = out_dir / "README.md"
    card.save(str(path))
    return path
