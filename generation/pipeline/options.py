"""Configs and build options, each declared once.

``BuildOptions`` is the one list of options: each field says its type, default, allowed values
and help. The builder config (``hub/builder.py``), the CLI flags (``cli.py``), the checks
below and the README's option table all come from it, so adding an option is one field here
plus the code that uses it. ``parse_options`` checks a build's raw values once, before any work.

    python -m generation.pipeline.options    # prints the README's option table
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from generation.backend import DEFAULT_CUDA_ARCH
from generation.generated.generator import CATEGORIES, DIFFICULTIES, GenerationOptions
from generation.names import unknown
from generation.real.harvest import HARVEST_MODES, HarvestOptions
from generation.real.importer import DEFAULT_TIMEOUT as DEFAULT_IMPORT_TIMEOUT
from generation.real.importer import parse_run_command
from generation.real.packages import PipSource, read_requirements_file, requirement
from generation.source.spec import GENERATED_LICENSE


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
DEFAULT_CONFIG = "cuda"
VALIDATE_LEVELS = ("none", "compile", "run")
MAX_EXAMPLES = 2_000_000
DEFAULT_NUM_EXAMPLES = 1000
DEFAULT_SEED = 20261124
MAX_DEPTH = 8  # expression depth beyond this makes lines thousands of characters long
MAX_STATEMENTS = 32
HELD_OUT_FRACTION = 0.05


@dataclass(frozen=True)
class Option:
    """How one option is checked, shown and explained; ``kind`` is a key of ``PARSERS``."""

    kind: str
    help: str
    shown_default: str  # the default as the README states it
    low: int | None = None  # counts: the allowed range (``high`` None: no upper bound)
    high: int | None = None
    choices: tuple[str, ...] = ()  # choice and names: the allowed values
    applies_to: str | None = None  # "generated" or "real": only configs whose kernels come from there
    name: str = ""  # filled in from the field


def option(default: Any, kind: str, help: str, shown_default: str | None = None, **rules: Any) -> Any:
    """A ``BuildOptions`` field with its ``Option``."""
    shown = shown_default if shown_default is not None else f"`{default}`"
    return field(default=default, metadata={"option": Option(kind, help, shown, **rules)})


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides which rows a build writes (device aside, which the config sets)."""

    num_examples: int | None = option(
        None, "count", "rows in `train`", "1000; real configs: every harvested kernel", low=1, high=MAX_EXAMPLES
    )
    num_validation: int | None = option(
        None,
        "count",
        "rows in `validation`; 0 leaves the split out",
        "5% of `num_examples`, at least 1",
        low=0,
        high=MAX_EXAMPLES,
    )
    num_test: int | None = option(
        None,
        "count",
        "rows in `test`; 0 leaves the split out",
        "5% of `num_examples`, at least 1",
        low=0,
        high=MAX_EXAMPLES,
    )
    seed: int = option(DEFAULT_SEED, "count", "the same seed, options and Warp version give byte-identical rows", low=0)
    categories: tuple[str, ...] = option(
        tuple(CATEGORIES),
        "names",
        "a list or comma-separated names",
        "all",
        choices=tuple(CATEGORIES),
        applies_to="generated",
    )
    include_backward: bool = option(
        True, "flag", "False builds without adjoints (the source then sets `enable_backward: False`)"
    )
    validate: str = option(
        "none",
        "choice",
        "what to check beyond code generation. `compile`: each module compiles (Warp's Clang at `-O0` for `cpu`, "
        "NVRTC at Warp's `-O3` for `cuda`/`ptx`); `run`: it also runs on the CPU, bounds-checked, on seeded inputs, "
        "with finite outputs (for `cpu`, the launch's own debug build is the compile check)",
        choices=VALIDATE_LEVELS,
    )
    arch: int = option(
        DEFAULT_CUDA_ARCH, "arch", "CUDA architecture for PTX and NVRTC checks, one of Warp's NVRTC targets (75 to 121)"
    )
    difficulty: str = option(
        "mixed",
        "choice",
        "expression depth, statements, block nesting and helper odds; `mixed` draws one per kernel 30/40/30",
        choices=DIFFICULTIES,
        applies_to="generated",
    )
    max_depth: int | None = option(
        None, "count", "cap on expression depth", "the difficulty's", low=1, high=MAX_DEPTH, applies_to="generated"
    )
    max_statements: int | None = option(
        None,
        "count",
        "cap on statements per block",
        "the difficulty's",
        low=0,
        high=MAX_STATEMENTS,
        applies_to="generated",
    )
    max_forward_chars: int | None = option(
        None,
        "count",
        "generated draws are steered to sizes predicted to fit, and a kernel whose `forward` is still longer is "
        "skipped as `too_long` and replaced by a further draw, so every split gets its rows; a cap no kernel of an "
        "asked-for category can meet fails before the build; 6000 suits a 2,048-token context (see Training)",
        "no cap",
        low=1,
    )
    max_code_chars: int | None = option(
        None, "count", "the same cap on `code`, the whole translation unit", "no cap", low=1
    )
    paths: tuple[str, ...] = option(
        (),
        "paths",
        "`.py` files or folders to harvest (rows name them relative to what you gave)",
        "Warp's examples and tests",
        applies_to="real",
    )
    packages: tuple[str, ...] = option(
        (),
        "requirements",
        "pip requirements (`skrl==2.1.1`) to download once into the cache (`pip download --no-deps`, a wheel before an "
        "sdist), unpack safely and harvest; rows carry the package, its version and licence; a cached package "
        "builds with no network",
        "none",
        applies_to="real",
    )
    packages_file: str | None = option(
        None,
        "file",
        "a requirements file: its requirements are added to `packages`, its `--find-links`/`--index-url` lines to "
        "the options below",
        "none",
        applies_to="real",
    )
    modules: tuple[str, ...] = option(
        (),
        "modules",
        "installed packages by import name (`skrl`), harvested from where they are installed",
        "none",
        applies_to="real",
    )
    find_links: tuple[str, ...] = option(
        (), "paths", "folders or pages of archives for pip to look in (pip's `--find-links`)", "none", applies_to="real"
    )
    index_url: str | None = option(
        None, "text", "the package index pip downloads from (pip's `--index-url`)", "pip's", applies_to="real"
    )
    harvest: str = option(
        "static",
        "choice",
        "`static` reads the files and never runs them; `import` imports them (like `trust_remote_code`: only for "
        "code you trust, with its dependencies installed) in a child process and takes every kernel Warp then "
        "knows, factory products and registered overloads included; `run` imports them the same way, then runs "
        "`run_command` there and also takes every kernel it builds or launches, with the types it was launched with",
        choices=HARVEST_MODES,
        applies_to="real",
    )
    run_command: tuple[str, ...] | None = option(
        None,
        "commands",
        "with `harvest=run`, the package's own tests or examples to run in the child: `pytest ARGS`, `python FILE "
        "ARGS` or `python -m MODULE ARGS` (paths relative to where the build starts); several commands run as parts, "
        "each in a child of its own, side by side, their kernels merged (one repeated across parts counts once); "
        "rows record the command, and the test or script that built each kernel. Left out with `packages`, each "
        "release's tests are taken from its sdist (`tests/` or `test/`) and run with pytest (a release without "
        "them is imported only, a `no_tests` skip)",
        "none",
        applies_to="real",
    )
    run_timeout: int = option(
        600,
        "count",
        "with `harvest=run`, the seconds each `run_command` may run; at the limit it is interrupted and the kernels "
        "built so far are taken",
        low=1,
        applies_to="real",
    )
    import_timeout: int = option(
        DEFAULT_IMPORT_TIMEOUT,
        "count",
        "with `harvest=import`, the seconds one file's import (or one kernel's writing out) may take before it "
        "is counted as `import_timeout` and left out",
        low=1,
        applies_to="real",
    )
    import_setup: str | None = option(
        None,
        "script",
        "with `harvest=import` or `run`, a `.py` file the child runs (as `__main__`) after the imports, to make the "
        "kernels a package builds only when used: construct its operators, call its factories; those in the "
        "harvested files are taken too",
        "none",
        applies_to="real",
    )
    license: str | None = option(
        None,
        "text",
        "one licence for every harvested file, over what each file says",
        "each file's own: its SPDX header, else the nearest LICENSE/COPYING under its root, else Warp's (Apache-2.0) "
        "for Warp's files and `unknown` for others",
        applies_to="real",
    )

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

    @property
    def generation(self) -> GenerationOptions:
        """The options the generator shapes each drawn kernel with."""
        return GenerationOptions(self.include_backward, self.difficulty, self.max_depth, self.max_statements)

    @property
    def harvesting(self) -> HarvestOptions:
        """The options a real build's harvest reads."""
        mode, timeout, setup = self.harvest, self.import_timeout, self.import_setup
        pip = PipSource(self.find_links, self.index_url)
        named = {"packages": self.packages, "modules": self.modules, "pip": pip}
        named |= {"run_command": self.run_command, "run_timeout": self.run_timeout}
        return HarvestOptions(self.paths, self.license, self.include_backward, mode, timeout, setup, **named)

    @property
    def capped(self) -> bool:
        """Whether a length cap is set (draws are steered to fit it; rows over it are replaced)."""
        return self.max_forward_chars is not None or self.max_code_chars is not None

    def too_long(self, forward: str, code: str) -> str:
        """Why a kernel's code is over a cap ("" when it is not)."""
        for column, text, cap in (("forward", forward, self.max_forward_chars), ("code", code, self.max_code_chars)):
            if cap is not None and len(text) > cap:
                return f"{column} has {len(text):,} characters, over max_{column}_chars {cap:,}"
        return ""

    def license_for(self, source: str) -> str:
        """The licence a build states for its rows (``DatasetInfo.license``): Warp's for generated
        kernels; for harvested ones the one ``license`` sets, else each row's own (``metadata.license``)."""
        if source == "generated":
            return GENERATED_LICENSE
        return self.license or "each row's metadata.license: its source file's licence"


OPTIONS: tuple[Option, ...] = tuple(
    Option(**{**vars(f.metadata["option"]), "name": f.name}) for f in fields(BuildOptions)
)
OPTION_NAMES = tuple(o.name for o in OPTIONS)


# -- checks: each kind of option parses a raw value (as load_dataset or the CLI gives it) ------


def _count(o: Option, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{o.name} must be an integer, got {value!r}")
    if o.high is None and value < o.low:
        raise ValueError(f"{o.name} must be an integer of at least {o.low}, got {value!r}")
    if o.high is not None and not o.low <= value <= o.high:
        raise ValueError(f"{o.name} must be between {o.low} and {o.high:,}, got {value!r}")
    return value


def _choice(o: Option, value: object) -> str:
    if value not in o.choices:
        raise ValueError(f"unknown {o.name} {value!r}; allowed values are {list(o.choices)}")
    return value


def _names(o: Option, value: object) -> tuple[str, ...]:
    """A list of names or one comma-separated string; kept in the canonical order."""
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
    unknown = [name for name in names if name not in o.choices]
    if unknown or not names:
        raise ValueError(f"unknown {o.name} {unknown or names!r}; allowed {o.name} are {list(o.choices)}")
    return tuple(name for name in o.choices if name in names)


def _flag(o: Option, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{o.name} must be True or False, got {value!r}")
    return value


def _paths(o: Option, value: object) -> tuple[str, ...]:
    paths = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(p, str) and p for p in paths):
        raise ValueError(f"{o.name} must be a list of file or folder names, got {value!r}")
    return tuple(paths)


def _requirements(o: Option, value: object) -> tuple[str, ...]:
    texts = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else [value]
    for text in texts:
        if not isinstance(text, str):
            raise ValueError(f"{o.name} must be a list of pip requirements such as 'skrl==2.1.1', got {value!r}")
        requirement(text, o.name)
    return tuple(texts)


def _modules(o: Option, value: object) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else [value]
    bad = [name for name in names if not (isinstance(name, str) and name.isidentifier())]
    if bad or not names:
        raise ValueError(f"{o.name} must be top-level import names such as 'skrl', got {bad or names!r}")
    return tuple(names)


def _commands(o: Option, value: object) -> tuple[str, ...]:
    commands = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else [value]
    bad = [command for command in commands if not isinstance(command, str)]
    if bad or not commands:
        raise ValueError(f"{o.name} must be command lines such as 'pytest -q tests', got {bad or commands!r}")
    return tuple(parse_run_command(command).text for command in commands)


def _file(o: Option, value: object) -> str:
    if not isinstance(value, str) or not Path(value).is_file():
        raise ValueError(f"{o.name} must be an existing file, got {value!r}")
    return value


def _text(o: Option, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{o.name} must be a name such as 'MIT', got {value!r}")
    return value


def _script(o: Option, value: object) -> str:
    if not isinstance(value, str) or not value.endswith(".py") or not Path(value).is_file():
        raise ValueError(f"{o.name} must be an existing .py file, got {value!r}")
    return value


def _arch(o: Option, value: object) -> int:
    """One of the targets of Warp's NVRTC: asks Warp (starting it) only for a non-default value."""
    if value == DEFAULT_CUDA_ARCH and not isinstance(value, bool):
        return value
    from generation.backend import warp_api

    archs = warp_api.supported_ptx_archs()
    if value not in archs or isinstance(value, bool):
        raise ValueError(f"unsupported {o.name} {value!r}; Warp {warp_api.warp_version()} supports {archs}")
    return value


PARSERS: dict[str, Callable[[Option, object], Any]] = {
    "count": _count,
    "choice": _choice,
    "names": _names,
    "flag": _flag,
    "paths": _paths,
    "text": _text,
    "requirements": _requirements,
    "modules": _modules,
    "file": _file,
    "commands": _commands,
    "script": _script,
    "arch": _arch,
}


def check_config(config: str) -> str:
    if config not in CONFIGS:
        raise ValueError(unknown("config", config, CONFIGS))
    return config


def check_option_names(names) -> None:
    unknown = sorted(set(names) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; allowed options are {list(OPTION_NAMES)}")


def parse_options(config: str, values: Mapping[str, object]) -> BuildOptions:
    """Check a build's raw option values (None: not given) for ``config``; name the bad value."""
    source = CONFIGS[check_config(config)].source
    check_option_names(values)
    given = {name: value for name, value in values.items() if value is not None}
    wrong = sorted(o.name for o in OPTIONS if o.name in given and o.applies_to not in (None, source))
    if wrong:
        raise ValueError(f"option(s) {wrong} do not apply to config {config!r}, whose kernels are {source}")
    options = BuildOptions(**{o.name: PARSERS[o.kind](o, given[o.name]) for o in OPTIONS if o.name in given})
    if options.packages_file is not None:
        options = with_packages_file(options)
    if options.import_setup is not None and options.harvest == "static":
        raise ValueError(
            f"import_setup runs only when the files are imported: add harvest='import' (got {options.harvest!r})"
        )
    if options.run_command is not None and options.harvest != "run":
        raise ValueError(
            "run_command runs only in run mode: add harvest='run' "
            f"(got harvest={options.harvest!r}, run_command={options.run_command!r})"
        )
    if options.harvest == "run" and options.run_command is None and not options.packages:
        raise ValueError(
            "harvest='run' needs run_command (the tests or examples to run), or packages= (each release's sdist "
            f"tests are run) (got harvest={options.harvest!r}, run_command=None)"
        )
    return options


def with_packages_file(options: BuildOptions) -> BuildOptions:
    """A packages file's requirements and pip options folded into the options: a build (and its
    record in ``job.json``) states the packages themselves, not the name of a file that may change."""
    read = read_requirements_file(options.packages_file)
    return replace(
        options,
        packages=options.packages + tuple(read.requirements),
        find_links=options.find_links + tuple(read.find_links),
        index_url=options.index_url or read.index_url,
        packages_file=None,
    )


# -- the README's option table ---------------------------------------------------------------

# What each kind of option allows, written before (choices) or after (ranges, names) its help.
_ALLOWED_BEFORE = {"choice": lambda o: " / ".join(f"`{c}`" for c in o.choices) + ": "}
_ALLOWED_AFTER = {
    "count": lambda o: f" ({o.low:,} to {o.high:,})" if o.high is not None else f" (at least {o.low})",
    "names": lambda o: ": " + ", ".join(o.choices),
}
_APPLIES = {None: "", "generated": "generated configs: ", "real": "real configs: "}


def describe(o: Option) -> str:
    """What the option means and allows, in one line."""
    before = _ALLOWED_BEFORE.get(o.kind, lambda _: "")(o)
    after = _ALLOWED_AFTER.get(o.kind, lambda _: "")(o)
    return _APPLIES[o.applies_to] + before + o.help + after


def options_table() -> str:
    """The README's option table, from the declaration."""
    lines = ["| option | default | meaning |", "|---|---|---|"]
    lines += [f"| `{o.name}` | {o.shown_default} | {describe(o)} |" for o in OPTIONS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(options_table(), end="")
