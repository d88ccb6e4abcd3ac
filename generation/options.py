"""Build options: their defaults, and checks that name the bad value and what is allowed."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from generation import warp_backend
from generation.generator import CATEGORIES

# A config names the target of the code columns: C++ for the CPU, CUDA source, or NVRTC's PTX.
CONFIGS = ("cpu", "cuda", "ptx")
VALIDATE_LEVELS = ("none", "compile", "run")
DEFAULT_ARCH = 80
MAX_EXAMPLES = 2_000_000
DEFAULT_NUM_EXAMPLES = 1000
DEFAULT_SEED = 20261124
HELD_OUT_FRACTION = 0.05


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides which rows a build writes (device aside, which the config sets)."""

    num_examples: int = DEFAULT_NUM_EXAMPLES
    num_validation: int | None = None
    num_test: int | None = None
    seed: int = DEFAULT_SEED
    categories: tuple[str, ...] = tuple(CATEGORIES)
    include_backward: bool = True
    validate: str = "none"  # "compile": the module compiles; "run": it also runs on the CPU
    arch: int = DEFAULT_ARCH  # CUDA architecture for PTX (ptx config, and NVRTC compile checks)

    def split_sizes(self) -> dict[str, int]:
        """Rows per split: validation and test default to 5% of train, at least 1 each."""
        held_out = max(1, math.ceil(self.num_examples * HELD_OUT_FRACTION))
        return {
            "train": self.num_examples,
            "validation": held_out if self.num_validation is None else self.num_validation,
            "test": held_out if self.num_test is None else self.num_test,
        }


OPTION_NAMES = tuple(f.name for f in fields(BuildOptions))


def check_option_names(names: list[str] | tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; allowed options are {list(OPTION_NAMES)}")


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not minimum <= value <= MAX_EXAMPLES:
        raise ValueError(f"{name} must be between {minimum} and {MAX_EXAMPLES:,}, got {value!r}")
    return value


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
    if not isinstance(merged["include_backward"], bool):
        raise ValueError(f"include_backward must be True or False, got {merged['include_backward']!r}")
    return BuildOptions(
        num_examples=_count("num_examples", merged["num_examples"], 1),
        num_validation=None
        if merged["num_validation"] is None
        else _count("num_validation", merged["num_validation"], 0),
        num_test=None if merged["num_test"] is None else _count("num_test", merged["num_test"], 0),
        seed=seed,
        categories=parse_categories(merged["categories"]),
        include_backward=merged["include_backward"],
        validate=merged["validate"],
        arch=merged["arch"],
    )


def check_config(config: str) -> str:
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; allowed configs are {list(CONFIGS)}")
    return config
