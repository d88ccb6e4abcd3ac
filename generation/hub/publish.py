"""Publishing built configs: ``push_to_hub`` per config, or the same layout written locally.

The Hub holds, per config, parquet shards ``CONFIG/SPLIT-XXXXX-of-YYYYY.parquet`` and one README
whose YAML ``configs:`` block maps each config to its files. ``write_hub_layout`` writes exactly
that with ``datasets``' own card classes and shard rule, for ``--dry-run`` and for tests.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import datasets
from datasets import config as datasets_config
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from datasets.utils.py_utils import convert_file_size_to_int
from huggingface_hub import DatasetCard, DatasetCardData, HfApi

from generation.hub import card
from generation.pipeline.options import DEFAULT_CONFIG

logger = logging.getLogger(__name__)

STATS_FILE = "build_stats.json"


class PublishError(RuntimeError):
    """A publishing failure with a message meant for the user, not a traceback."""


def load_builds(data_dir: Path) -> dict[str, datasets.DatasetDict]:
    """Every config built into ``data_dir`` by ``warp-ir-pairs build`` (one folder each)."""
    builds = {
        path.name: datasets.load_from_disk(str(path))
        for path in sorted(data_dir.iterdir())
        if (path / "dataset_dict.json").is_file()
    }
    if not builds:
        raise PublishError(f"no built configs in {data_dir}: run `warp-ir-pairs build CONFIG --out {data_dir}` first")
    return builds


def read_build_stats(data_dir: Path, config: str) -> dict:
    path = data_dir / config / STATS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


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
                path = out_dir / config / f"{split}-{index:05d}-of-{count:05d}.parquet"
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
        files = {"data_files": [{"split": split, "path": f"{config}/{split}-*"} for split in dataset_dict]}
        if config == default:
            files["default"] = True
        DatasetInfosDict({config: info}).to_dataset_card_data(card_data)
        MetadataConfigs({config: files}).to_dataset_card_data(card_data)
    return card_data


def render_card(
    builds: dict[str, datasets.DatasetDict], data_dir: Path, card_data: DatasetCardData, out: Path, repo_id: str
) -> Path:
    """README.md and its plots in ``out``, from the builds and the statistics saved with them."""
    stats = {config: read_build_stats(data_dir, config) for config in builds}
    figures = {config: card.config_figures(builds[config], stats[config].get("splits")) for config in builds}
    plots = card.write_plots(figures, out)
    options = {config: stats[config].get("options", {}) for config in builds}
    body = card.card_body(figures, plots, options, repo_id, default_config(list(builds)))
    return card.write_card(card_data, body, out, card.row_licenses(figures))


def dry_run(data_dir: Path, out: Path, repo_id: str) -> Path:
    """Write exactly what ``push`` would upload into ``out``; return the README's path."""
    builds = load_builds(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    return render_card(builds, data_dir, write_hub_layout(builds, out), out, repo_id)


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
            render_card(builds, data_dir, hub_card.data, Path(tmp), repo_id)
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
