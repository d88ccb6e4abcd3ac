"""Publishing built configs: ``push_to_hub`` per config, or the same layout written locally.

The Hub holds, per config, parquet shards ``CONFIG/SPLIT-XXXXX-of-YYYYY.parquet`` and one README
whose YAML ``configs:`` block maps each config to its files. ``write_hub_layout`` writes exactly
that with ``datasets``' own card classes and shard rule, for ``--dry-run`` and for tests.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import datasets
from datasets import config as datasets_config
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from datasets.utils.py_utils import convert_file_size_to_int
from datatrove.io import DataFolder
from huggingface_hub import DatasetCard, DatasetCardData, HfApi

from generation.hub import card, layout
from generation.pipeline.options import DEFAULT_CONFIG
from generation.pipeline.plan import SPLITS
from generation.pipeline.rows import DATASET_VERSION, FEATURES

logger = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """A publishing failure with a message meant for the user, not a traceback."""


def load_builds(data_dir: str | Path) -> dict[str, datasets.DatasetDict]:
    """Every config built into ``data_dir`` by ``warp-ir-pairs build`` (its Hub layout), loaded."""
    out = layout.folder(str(data_dir))
    configs = current_configs(out) if out.exists("") else []
    if not configs:
        raise PublishError(f"no built configs in {data_dir}: run `warp-ir-pairs build CONFIG --out {data_dir}` first")
    builds = {}
    for config in configs:
        files = {split: out.resolve_paths(paths) for split, paths in _nonempty_files(out, config).items()}
        builds[config] = datasets.load_dataset("parquet", data_files=files, features=FEATURES)
    return builds


def current_configs(out: DataFolder) -> list[str]:
    """The configs built in ``out``, each checked to hold rows of this dataset version: rows of
    another have other columns, and neither the card nor ``push`` can read them as these."""
    configs = layout.built_configs(out)
    for config in configs:
        damaged = layout.damaged_shards(out, config)
        if damaged:
            why = next(iter(damaged.values()))
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            raise PublishError(f"{why}{more}: run the same build command again, and it builds it again")
        version = layout.read_json(out, layout.state(config, "job.json")).get("dataset_version")
        if version != DATASET_VERSION:
            raise PublishError(
                f"{config} in {out.path} holds rows of dataset version {version or 'before 4.0'}, not "
                f"{DATASET_VERSION}: build it again into another folder (`warp-ir-pairs build {config} --out NEW`)"
            )
    return configs


def read_build_stats(out: DataFolder, config: str) -> dict:
    path = layout.state(config, layout.STATS_FILE)
    return layout.read_json(out, path) if out.exists(path) else {}


def _nonempty_files(out: DataFolder, config: str) -> dict[str, list[str]]:
    """A config's shard files per split, leaving out splits that wrote no rows (as the builder does)."""
    rows = {split: s["rows"] for split, s in read_build_stats(out, config).get("splits", {}).items()}
    files = layout.config_files(out, config)
    return {split: files[split] for split in SPLITS if rows.get(split) and split in files}


def default_config(configs: list[str]) -> str:
    return DEFAULT_CONFIG if DEFAULT_CONFIG in configs else configs[0]


def _num_shards(dataset: datasets.Dataset) -> int:
    """The shard count ``push_to_hub`` picks: one per ``MAX_SHARD_SIZE`` of estimated data."""
    return max(int(dataset._estimate_nbytes() / convert_file_size_to_int(datasets_config.MAX_SHARD_SIZE)) + 1, 1)


def write_hub_layout(builds: dict[str, datasets.DatasetDict], out_dir: Path) -> DatasetCardData:
    """Write the parquet shards ``push_to_hub`` would upload and return its card metadata."""
    card_data = DatasetCardData()
    default = default_config(list(builds))
    for config, dataset_dict in builds.items():
        info = next(iter(dataset_dict.values())).info.copy()
        info.config_name = config
        info.splits = SplitDict()
        uploaded = total = 0
        for split, dataset in dataset_dict.items():
            count = _num_shards(dataset)
            for index in range(count):
                path = out_dir / layout.shard_name(config, split, index, count)
                path.parent.mkdir(parents=True, exist_ok=True)
                dataset.shard(num_shards=count, index=index, contiguous=True).to_parquet(str(path))
                uploaded += path.stat().st_size
            nbytes = dataset._estimate_nbytes()
            total += nbytes
            info.splits[split] = SplitInfo(str(split), num_bytes=nbytes, num_examples=len(dataset))
        info.download_checksums = None
        info.download_size = uploaded
        info.dataset_size = total
        info.size_in_bytes = uploaded + total
        add_config_yaml(card_data, config, info, list(dataset_dict), config == default)
    return card_data


def add_config_yaml(card_data: DatasetCardData, config: str, info, splits: list[str], default: bool) -> None:
    """One config's ``dataset_info`` and ``configs`` entries, as ``push_to_hub`` writes them."""
    entry = {"data_files": [{"split": split, "path": f"{config}/{split}-*"} for split in splits]}
    if default:
        entry["default"] = True
    DatasetInfosDict({config: info}).to_dataset_card_data(card_data)
    MetadataConfigs({config: entry}).to_dataset_card_data(card_data)


def render_card(
    figures: dict[str, card.ConfigFigures],
    options: dict[str, dict],
    card_data: DatasetCardData,
    out: Path,
    repo_id: str,
) -> Path:
    """README.md and its plots in the local folder ``out``."""
    plots = card.write_plots(figures, out)
    body = card.card_body(figures, plots, options, repo_id, default_config(list(figures)))
    return card.write_card(card_data, body, out, card.row_licenses(figures))


def built_figures(builds: dict[str, datasets.DatasetDict], data_dir: str | Path):
    """The card's figures and build options of every loaded config."""
    out = layout.folder(str(data_dir))
    stats = {config: read_build_stats(out, config) for config in builds}
    figures = {config: card.dataset_figures(builds[config], stats[config].get("splits")) for config in builds}
    return figures, {config: stats[config].get("options", {}) for config in builds}


def dry_run(data_dir: Path, out: Path, repo_id: str) -> Path:
    """Write exactly what ``push`` would upload into ``out``; return the README's path."""
    builds = load_builds(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    card_data = write_hub_layout(builds, out)
    return render_card(*built_figures(builds, data_dir), card_data, out, repo_id)


def layout_card_data(out: DataFolder, configs: list[str]) -> DatasetCardData:
    """The YAML a build folder's README needs to load as a dataset: each config's files and sizes."""
    card_data = DatasetCardData()
    default = default_config(configs)
    for config in configs:
        files = _nonempty_files(out, config)
        stats = read_build_stats(out, config)["splits"]
        info = datasets.DatasetInfo(features=FEATURES, config_name=config, splits=SplitDict())
        for split, paths in files.items():
            nbytes = sum(out.size(path) for path in paths)
            info.splits[split] = SplitInfo(split, num_bytes=nbytes, num_examples=stats[split]["rows"])
        info.download_size = sum(split.num_bytes for split in info.splits.values())
        add_config_yaml(card_data, config, info, list(files), config == default)
    return card_data


def write_layout_card(out: DataFolder, repo_id: str = "your-org/warp-ir-pairs") -> None:
    """The README (YAML and card) and plots of a build folder, for every config built in it, read
    a batch at a time. With it, ``load_dataset(PATH, CONFIG)`` loads one config, never a mix."""
    configs = current_configs(out)
    figures, options = {}, {}
    for config in configs:
        files = _nonempty_files(out, config)
        rows = (
            (split, row) for split, paths in files.items() for row in layout.read_rows(out, paths, card.FIGURE_COLUMNS)
        )
        stats = read_build_stats(out, config)
        total = sum(split["rows"] for split in stats["splits"].values())
        figures[config] = card.config_figures(rows, stats.get("splits"), total)
        options[config] = stats.get("options", {})
    with tempfile.TemporaryDirectory(prefix="warp_ir_pairs_card_") as tmp:
        render_card(figures, options, layout_card_data(out, configs), Path(tmp), repo_id)
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file():
                with out.open(path.relative_to(tmp).as_posix(), "wb") as file:
                    file.write(path.read_bytes())


HUB_ERROR_PACKAGES = ("huggingface_hub", "httpx", "httpx2", "httpcore", "requests", "urllib3")


def is_hub_failure(error: BaseException) -> bool:
    """A network or Hub error (unreachable host, refused token, ...) rather than a bug of ours."""
    origins = {cls.__module__.split(".")[0] for cls in type(error).__mro__}
    return isinstance(error, OSError) or bool(origins & set(HUB_ERROR_PACKAGES))


def push(data_dir: Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload every config with ``push_to_hub``, then the card and its plots; return the repo URL."""
    from huggingface_hub import get_token

    builds = load_builds(data_dir)
    token = token or get_token()
    if not token:
        raise PublishError("no Hugging Face token: run `hf auth login` or set HF_TOKEN, then push again")
    default = default_config(list(builds))
    try:
        for config, dataset_dict in builds.items():
            logger.info("pushing config %s", config)
            dataset_dict.push_to_hub(
                repo_id, config_name=config, private=private, token=token, set_default=config == default
            )
        hub_card = DatasetCard.load(repo_id, repo_type="dataset", token=token)
        with tempfile.TemporaryDirectory() as tmp:
            render_card(*built_figures(builds, data_dir), hub_card.data, Path(tmp), repo_id)
            HfApi(token=token).upload_folder(
                repo_id=repo_id, repo_type="dataset", folder_path=tmp, commit_message="Dataset card and plots"
            )
    except Exception as error:
        if not is_hub_failure(error):
            raise
        raise PublishError(
            f"could not publish to the Hugging Face Hub ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            f"the local build in {data_dir} is untouched"
        ) from error
    return f"https://huggingface.co/datasets/{repo_id}"
