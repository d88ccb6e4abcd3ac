"""The ``datasets`` builder: configs and options mapped onto planning, building and statistics.

It lives in the package so that the command line and the newest ``datasets`` (which no longer
runs dataset scripts) can use the class directly; ``warp_ir_pairs.py`` at the repository root
is the script face of the same class.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import shutil
import tempfile
from pathlib import Path

import datasets

from generation.pipeline import options as build_options
from generation.pipeline.build import build_shard
from generation.pipeline.plan import SPLITS, KeptKernels, Plan, plan_splits, shard
from generation.pipeline.plan.generated import pooled_scan
from generation.pipeline.plan.real import no_rows_message
from generation.pipeline.rows import DATASET_VERSION, FEATURES, batches, rows_table
from generation.pipeline.stats import BuildStats

logger = logging.getLogger(__name__)

# Rows per Arrow table the builder hands ``datasets``: small enough that the progress bar moves
# every second or so, large enough that a table's fixed cost is nothing beside its rows.
TABLE_ROWS = 32

_DESCRIPTION = (
    "Pairs of NVIDIA Warp kernels (@wp.kernel Python) and the code Warp's own code generator emits for them: "
    "C++ for the CPU, CUDA for the GPU, or the PTX NVRTC compiles it to; forward and backward (adjoint)."
)
_HOMEPAGE = "https://github.com/NVIDIA/warp"

# Keywords that datasets itself passes or accepts for every builder (config_id since 4.x).
_DATASETS_KWARGS = {field.name for field in dataclasses.fields(datasets.BuilderConfig)} | {"config_id"}

# A device (the config's name) and one field per option of ``BuildOptions``, None when not given.
WarpIRPairsConfig = dataclasses.make_dataclass(
    "WarpIRPairsConfig",
    [(f.name, f.type, dataclasses.field(default=None)) for f in dataclasses.fields(build_options.BuildOptions)],
    bases=(datasets.BuilderConfig,),
    namespace={
        "__doc__": "A config (its name) and the raw options of ``BuildOptions`` (None: not given).",
        "__module__": __name__,
    },  # Python < 3.12 would name the dataclasses module, and pickling fails
)


class WarpIRPairs(datasets.ArrowBasedBuilder):
    """Warp kernels and their generated CPU/CUDA code. Rows reach ``datasets`` as Arrow tables of
    the dataset's schema, as the packaged json and parquet builders hand theirs: one conversion a
    row, where handing examples one at a time converted each column twice (``ArrowWriter``)."""

    VERSION = datasets.Version(DATASET_VERSION)
    BUILDER_CONFIG_CLASS = WarpIRPairsConfig
    BUILDER_CONFIGS = [
        WarpIRPairsConfig(
            name=name,
            version=datasets.Version(DATASET_VERSION),
            description=f"{config.source} kernels with their {config.device} code",
        )
        for name, config in build_options.CONFIGS.items()
    ]
    DEFAULT_CONFIG_NAME = build_options.DEFAULT_CONFIG

    def _create_builder_config(self, config_name=None, custom_features=None, **config_kwargs):
        # Options given to load_dataset are set on a copy of the config, past __post_init__:
        # check them here, once, before any generation starts, so errors name the bad value.
        if config_name is not None:
            build_options.check_config(config_name)
        build_options.check_option_names([key for key in config_kwargs if key not in _DATASETS_KWARGS])
        config, config_id = super()._create_builder_config(config_name, custom_features, **config_kwargs)
        values = {name: getattr(config, name) for name in build_options.OPTION_NAMES}
        self._options = build_options.parse_options(config.name, values)
        return config, config_id

    @property
    def options(self) -> build_options.BuildOptions:
        """The build's options, checked."""
        return self._options

    @property
    def source(self) -> str:
        """Where this config's kernels come from: ``generated`` or ``real``."""
        return build_options.CONFIGS[self.config.name].source

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=_DESCRIPTION,
            features=FEATURES,
            homepage=_HOMEPAGE,
            license=self.options.license_for(self.source),
        )

    def _split_generators(self, dl_manager):
        """One generator per split the plan asks for, each with its shards: a mapping of the plan
        ``_download_and_prepare`` made (num_validation=0 or num_test=0 leaves a split out)."""
        config = build_options.CONFIGS[self.config.name]
        generators = []
        for split in SPLITS:
            if self._plan.stats[split].requested == 0:
                continue
            shards = shard(self._plan.groups(split))
            kwargs = {
                "groups": shards,
                "stats_files": [str(self._stats_dir / f"{split}-{k:05d}.json") for k in range(len(shards))],
                "device": config.device,
                "options": self.options,
                "kept_folder": str(self._kept_folder),
            }
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs=kwargs))
        return generators

    @property
    def _kept_folder(self) -> Path:
        """What the scan made, kept for the build to read back where rows are built."""
        return self._stats_dir / "kernels"

    def _plan_build(self, workers: int) -> Plan:
        """Which kernels each split gets; the kernels a scan makes are kept for the build to read back."""
        config = build_options.CONFIGS[self.config.name]
        kept = KeptKernels(self._kept_folder)
        if workers > 1 and config.source == "generated":  # planning scans in parallel too
            with multiprocessing.Pool(workers) as pool:
                scan = pooled_scan(self.options, config.device, pool, 4 * workers, kept)
                return plan_splits(self.options, config.device, config.source, scan=scan)
        return plan_splits(self.options, config.device, config.source, kept=kept)

    def _download_and_prepare(self, dl_manager, verification_mode, **prepare_split_kwargs):
        self._split_summaries: list[str] = []
        self._split_stats: dict[str, BuildStats] = {}
        self._stats_dir = Path(tempfile.mkdtemp(prefix="warp_ir_pairs_stats_"))
        try:
            self._plan = self._plan_build(prepare_split_kwargs.get("num_proc") or 1)
            super()._download_and_prepare(dl_manager, verification_mode, **prepare_split_kwargs)
        finally:
            shutil.rmtree(self._stats_dir, ignore_errors=True)
        # A split whose every kernel was skipped has no data file, and datasets cannot read it back:
        # leave it out (its skips stay counted in the description).
        empty = [name for name, info in self.info.splits.items() if info.num_examples == 0]
        if self.source == "real" and empty and len(empty) == len(self.info.splits):
            raise ValueError(no_rows_message(self.options, self._split_stats.values()))
        for name in empty:
            logger.warning("%s: every kernel was skipped, so the split is left out", name)
        self.info.splits = datasets.SplitDict(
            {name: info for name, info in self.info.splits.items() if name not in empty},
            dataset_name=self.info.splits.dataset_name,
        )

    @property
    def build_stats(self) -> dict[str, BuildStats]:
        """Per split: rows requested and written, and skips by reason (after download_and_prepare)."""
        return dict(getattr(self, "_split_stats", {}))

    def _prepare_split(self, split_generator, **kwargs):
        super()._prepare_split(split_generator, **kwargs)
        # Workers saved their shard's counts; add the planning counts and publish them.
        split = str(split_generator.name)
        stats = self._plan.stats[split]
        stats.merge(BuildStats.collect(self._stats_dir, f"{split}-*.json"))
        if stats.skipped:
            first_errors = {str(reason): text for reason, text in stats.first_error.items()}
            logger.warning("%s; first error of each reason: %s", stats.summary(split), first_errors)
        else:
            logger.info(stats.summary(split))
        self._split_summaries.append(stats.summary(split))
        self._split_stats[split] = stats
        self.info.description = _DESCRIPTION + "\n\nBuild statistics:\n" + "\n".join(self._split_summaries)

    def _generate_tables(self, groups, stats_files, device, options, kept_folder):
        for shard_groups, stats_file in zip(groups, stats_files, strict=True):
            rows = (row for _, row in build_shard(shard_groups, device, options, stats_file, kept_folder))
            for batch in batches(rows, TABLE_ROWS):
                yield batch[0]["metadata"]["index"], rows_table(batch)
