"""Build options: their defaults, and checks that name the bad value and what is allowed."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from generation import warp_backend
from generation.generator import CATEGORIES, DIFFICULTIES


@dataclass(frozen=True)
class Config:
    """What a config builds: the code's target, and where the kernels come from."""

    device: str  # cpu (C++), cuda (CUDA source) or ptx (NVRTC's PTX of the CUDA source)
    source: str  # generated (the seeded generator) or real (harvested @wp.kernel functions)


CONFIGS = {
    "cpu": Config("cpu", "generated"),
    "cuda": Config("cuda", "generated"),
    "ptx": Config("ptx", "generated"),
    "real_cpu": Config("cpu", "real"),
    "real_cuda": Config("cuda", "real"),
}
# Options that only steer the generator, and options that only steer harvesting.
GENERATOR_OPTIONS = ("categories", "difficulty", "max_depth", "max_statements")
HARVEST_OPTIONS = ("paths", "license")
VALIDATE_LEVELS = ("none", "compile", "run")
DEFAULT_ARCH = warp_backend.DEFAULT_CUDA_ARCH
MAX_EXAMPLES = 2_000_000
DEFAULT_NUM_EXAMPLES = 1000
DEFAULT_SEED = 20261124
MAX_DEPTH = 8  # expression depth beyond this makes lines thousands of characters long
MAX_STATEMENTS = 32
HELD_OUT_FRACTION = 0.05


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides which rows a build writes (device aside, which the config sets)."""

    num_examples: int | None = None  # None: 1000 generated rows, or every harvested kernel
    num_validation: int | None = None
    num_test: int | None = None
    seed: int = DEFAULT_SEED
    categories: tuple[str, ...] = tuple(CATEGORIES)
    include_backward: bool = True
    validate: str = "none"  # "compile": the module compiles; "run": it also runs on the CPU
    arch: int = DEFAULT_ARCH  # CUDA architecture for PTX (ptx config, and NVRTC compile checks)
    difficulty: str = "mixed"  # easy | medium | hard, or mixed: drawn per kernel
    max_depth: int | None = None  # caps the difficulty's expression depth
    max_statements: int | None = None  # caps the difficulty's statements per block
    paths: tuple[str, ...] = ()  # real configs: files and folders to harvest (default: warp's own)
    license: str | None = None  # real configs: licence of the harvested files (default: warp's)

    def split_sizes(self, available: int | None = None) -> dict[str, int]:
        """Rows per split: validation and test default to 5% of train, at least 1 each. With
        ``available`` kernels (real configs) and no ``num_examples``, train takes what is left."""
        if self.num_examples is None and available is not None:
            held_out = max(1, math.ceil(available * HELD_OUT_FRACTION))
            validation = held_out if self.num_validation is None else self.num_validation
            test = held_out if self.num_test is None else self.num_test
            return {"train": max(1, available - validation - test), "validation": validation, "test": test}
        num_examples = DEFAULT_NUM_EXAMPLES if self.num_examples is None else self.num_examples
        held_out = max(1, math.ceil(num_examples * HELD_OUT_FRACTION))
        return {
            "train": num_examples,
            "validation": held_out if self.num_validation is None else self.num_validation,
            "test": held_out if self.num_test is None else self.num_test,
        }


OPTION_NAMES = tuple(f.name for f in fields(BuildOptions))


def check_option_names(names: list[str] | tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; allowed options are {list(OPTION_NAMES)}")


def _count(name: str, value: object, minimum: int, maximum: int = MAX_EXAMPLES) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum:,}, got {value!r}")
    return value


def _optional_count(name: str, value: object, minimum: int, maximum: int) -> int | None:
    return None if value is None else _count(name, value, minimum, maximum)


def parse_paths(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    paths = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(p, str) and p for p in paths):
        raise ValueError(f"paths must be a list of file or folder names, got {value!r}")
    return tuple(paths)


def check_applicable(config: str, values: dict[str, object]) -> None:
    """Generator options on a real config (or harvest options on a generated one) are mistakes."""
    source = CONFIGS[check_config(config)].source
    wrong = GENERATOR_OPTIONS if source == "real" else HARVEST_OPTIONS
    given = sorted(name for name in wrong if values.get(name) not in (None, ()))
    if given:
        raise ValueError(f"option(s) {given} do not apply to config {config!r}, whose kernels are {source}")


def parse_categories(value: object) -> tuple[str, ...]:
    """Accept a list of names or one comma-separated string; keep the canonical order."""
    if value is None:
        return tuple(CATEGORIES)
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [name for name in names if name not in CATEGORIES]
    if unknown or not names:
        raise ValueError(f"unknown categories {unknown or names!r}; allowed categories are {list(CATEGORIES)}")
    return tuple(name for name in CATEGORIES if name in names)


def build_options(**values: object) -> BuildOptions:
    """Validate raw option values (as given to ``load_dataset``) into ``BuildOptions``."""
    check_option_names(list(values))
    defaults = BuildOptions()
    merged = {f.name: getattr(defaults, f.name) for f in fields(BuildOptions)}
    merged.update({k: v for k, v in values.items() if v is not None})
    seed = merged["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if merged["validate"] not in VALIDATE_LEVELS:
        raise ValueError(f"unknown validate {merged['validate']!r}; allowed values are {list(VALIDATE_LEVELS)}")
    archs = warp_backend.supported_ptx_archs()
    if merged["arch"] not in archs or isinstance(merged["arch"], bool):
        raise ValueError(f"unsupported arch {merged['arch']!r}; Warp {warp_backend.warp_version()} supports {archs}")
    if merged["license"] is not None and not isinstance(merged["license"], str):
        raise ValueError(f"license must be a licence name such as 'MIT', got {merged['license']!r}")
    if merged["difficulty"] not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {merged['difficulty']!r}; allowed values are {list(DIFFICULTIES)}")
    if not isinstance(merged["include_backward"], bool):
        raise ValueError(f"include_backward must be True or False, got {merged['include_backward']!r}")
    return BuildOptions(
        num_examples=_optional_count("num_examples", merged["num_examples"], 1, MAX_EXAMPLES),
        num_validation=_optional_count("num_validation", merged["num_validation"], 0, MAX_EXAMPLES),
        num_test=_optional_count("num_test", merged["num_test"], 0, MAX_EXAMPLES),
        seed=seed,
        categories=parse_categories(merged["categories"]),
        include_backward=merged["include_backward"],
        validate=merged["validate"],
        arch=merged["arch"],
        difficulty=merged["difficulty"],
        max_depth=_optional_count("max_depth", merged["max_depth"], 1, MAX_DEPTH),
        max_statements=_optional_count("max_statements", merged["max_statements"], 0, MAX_STATEMENTS),
        paths=parse_paths(merged["paths"]),
        license=merged["license"],
    )


def check_config(config: str) -> str:
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; allowed configs are {list(CONFIGS)}")
    return config
