"""The layout's promises: the Warp boundary is enforced by lint, the kernel stage runs without
Warp, and every option is declared once and checked once per build."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from conftest import REPO, run_python
from import_graph import arrows_up, layout_table, lines_by_package, module_cycles

from generation import cli
from generation.generated.generator import CATEGORIES
from generation.hub.builder import WarpIRPairsConfig
from generation.pipeline import options, rows

RUFF = Path(sys.executable).parent / "ruff"  # the test extra installs it beside this interpreter
PRIVATE_USES = [
    "from warp._src import context\n",
    "import warp._src.codegen as codegen\n",
    "import warp as wp\n\nmodules = wp._src.context.user_modules\n",
]


def ruff_check(source: str, file_name: str) -> subprocess.CompletedProcess:
    """``ruff check`` with the project's settings, on ``source`` as if it were ``file_name``."""
    assert RUFF.exists(), f"no {RUFF}: install the test extra (bash setup.sh does)"
    command = [str(RUFF), "check", "--no-cache", "--select", "TID251", "--stdin-filename", file_name, "-"]
    return subprocess.run(command, input=source, capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize("source", PRIVATE_USES)
@pytest.mark.parametrize("place", ["generation/pipeline/rows.py", "generation/real/new.py", "bench/new.py", "x.py"])
def test_warps_private_api_outside_the_backend_fails_ruff(source, place):
    done = ruff_check(source, place)
    assert done.returncode == 1 and "TID251" in done.stdout and "`warp._src` is banned" in done.stdout, done.stdout


@pytest.mark.parametrize("source", PRIVATE_USES)
def test_the_backend_may_use_warps_private_api(source):
    done = ruff_check(source, "generation/backend/new.py")
    assert done.returncode == 0, done.stdout


def test_no_import_runs_back_up_and_none_goes_round():
    """Each package imports only from lower layers (``tests/import_graph.py``), and no modules import
    each other in a circle."""
    assert arrows_up() == []
    assert module_cycles() == []


def test_no_package_holds_over_a_third_of_the_lines():
    lines = lines_by_package()
    assert max(lines.values()) < sum(lines.values()) / 3, lines


def test_the_architecture_page_shows_the_import_graph():
    """Regenerate its table with ``python tests/import_graph.py``."""
    assert layout_table() in (Path(REPO) / "docs" / "architecture.md").read_text()


def test_kernels_and_options_load_without_warp():
    """Generating, harvesting and checking options never pay Warp's start-up."""
    code = (
        "import sys\n"
        "import generation\n"
        "from generation.generated import expressions, generator, operations\n"
        "from generation.real import harvest\n"
        "from generation.source import features, spec\n"
        "from generation.pipeline import options\n"
        "generator.generate('mixed', 1, 0)\n"
        "options.parse_options('real_cpu', {'num_examples': 3, 'license': 'MIT'})\n"
        "wave = harvest.warp_package() / 'examples' / 'core' / 'example_wave.py'\n"  # one real file is enough
        "assert harvest.harvest(harvest.HarvestOptions((str(wave),))).specs\n"
        "print(sorted(name for name in sys.modules if name == 'warp' or name.startswith('warp.')))\n"
    )
    assert run_python(code) == "[]"


def test_extract_ir_is_still_importable_from_the_package():
    assert run_python("from generation import extract_ir\nprint(extract_ir.__module__)") == "generation.backend.extract"


def test_the_options_page_shows_the_declared_options():
    """``docs/options.md`` shows every option as ``BuildOptions`` declares it (regenerate its table
    with ``python -m generation.pipeline.options``)."""
    assert options.options_table() in (Path(REPO) / "docs" / "options.md").read_text()


def test_the_rows_page_shows_the_declared_columns():
    """``docs/rows.md`` and the card describe the columns from one table, which names every column of
    the schema (regenerate the page's table with ``python -m generation.pipeline.rows``)."""
    assert list(rows.COLUMNS) == list(rows.FEATURES)
    assert rows.schema_table(", ".join(CATEGORIES)) in (Path(REPO) / "docs" / "rows.md").read_text()


def test_every_option_is_a_config_field_and_a_cli_flag():
    config_fields = set(WarpIRPairsConfig.__dataclass_fields__)
    parser = cli._parser()
    build = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["build"]
    flags = {action.dest for action in build._actions}
    for name in options.OPTION_NAMES:
        assert name in config_fields and name in flags, name
        assert getattr(WarpIRPairsConfig(name="cuda"), name) is None  # not given: the option's own default


def test_cli_flags_reach_the_build_as_the_options_they_name(tmp_path):
    args = cli._parser().parse_args(
        ["build", "cpu", "--out", str(tmp_path), "--no-include-backward", "--categories", "math,atomic", "--seed", "3"]
    )
    values = {name: getattr(args, name) for name in options.OPTION_NAMES}
    parsed = options.parse_options(args.config, values)
    assert (parsed.include_backward, parsed.categories, parsed.seed) == (False, ("math", "atomic"), 3)


def test_options_are_checked_and_counts_logged_once_per_build(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with mock.patch.object(options, "parse_options", wraps=options.parse_options) as parse:
        assert cli.main(["build", "cpu", "--num-examples", "2", "--num-validation", "0", "--out", str(tmp_path)]) == 0
    assert parse.call_count == 1
    logged = [record.getMessage() for record in caplog.records]
    for split in ("train", "test"):
        assert sum(f" {split}: " in line and "rows written" in line for line in logged) == 1, logged


def test_the_arch_check_starts_warp_only_for_an_arch_it_must_look_up():
    code = (
        "import sys\n"
        "from generation.pipeline import options\n"
        "options.parse_options('ptx', {'arch': 80})\n"
        "before = 'warp' in sys.modules\n"
        "options.parse_options('ptx', {'arch': 90})\n"
        "print(before, 'warp' in sys.modules)\n"
    )
    assert run_python(code) == "False True"


def test_every_subcommand_has_its_function():
    """``cli.main`` dispatches through ``COMMANDS``: each subcommand the parser declares has a function."""
    parser = cli._parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(subcommands) == set(cli.COMMANDS)


def test_every_argument_has_help_and_every_command_an_example():
    """``--help`` explains each argument; each command ends with an example, and ``build`` groups its
    options by the configs they apply to."""
    parser = cli._parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, command in subcommands.items():
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        assert command.epilog and f"warp-ir-pairs {name}" in command.epilog, name
    titles = [group.title for group in subcommands["build"]._action_groups]
    assert set(cli.OPTION_GROUPS.values()) | {"where it runs"} <= set(titles)
