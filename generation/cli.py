"""``warp-ir-pairs``: build Warp kernels and their generated code into a dataset, publish it, format it for
fine-tuning, and score a model's predictions by compiling and running them.

warp-ir-pairs build cuda --num-examples 5000 --seed 1 --out data --tasks 8 --workers 2
warp-ir-pairs build cpu --num-examples 1000000 --out s3://bucket/warp --tasks 512 --executor slurm
warp-ir-pairs push my-org/warp-ir-pairs --data data [--private] [--dry-run OUT]
warp-ir-pairs sft data --config cuda --task python_to_forward --out sft [--style messages] [--view compact,placeholders]
warp-ir-pairs eval data --config cpu --task python_to_forward --predictions PRED.jsonl --baseline nearest --out report
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from generation.backend import warp_api
from generation.distributed.run import EXECUTORS, BuildError, Slurm, route_datatrove_logs, run_build
from generation.distributed.signals import unwinding
from generation.distributed.steps import Job
from generation.evaluation.baselines import BASELINES
from generation.evaluation.harness import DEFAULT_INPUT_SETS, EvaluationError, evaluate, fresh_salt
from generation.evaluation.views import VIEWS, check_views
from generation.hub import layout
from generation.hub.publish import PublishError, dry_run, load_builds, push
from generation.pipeline import options as build_options
from generation.pipeline.plan.generated import check_caps_reachable, check_categories_run
from generation.pipeline.plan.real import no_rows_message
from generation.pipeline.stats import BuildStats
from generation.training import sft

logger = logging.getLogger("warp_ir_pairs")


def build(
    config: str,
    out: str | Path,
    tasks: int | None = None,
    workers: int = 1,
    executor: str = "local",
    slurm: Slurm | None = None,
    **option_values,
) -> str:
    """Build one config into ``out`` (the Hub layout: ``out/CONFIG/SPLIT-*.parquet``, the README).

    Options are checked first, before any work and before ``out`` is touched. Run again after an
    interruption, the same command resumes: finished tasks are not redone."""
    options = build_options.parse_options(config, option_values)
    for name, value in (("tasks", tasks), ("workers", workers)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {list(EXECUTORS)}")
    job = Job(config, str(out), options, tasks or workers)
    warp_api.check_kernel_cache()  # Warp needs it: say so now, not as every kernel's skip
    if job.source == "generated":  # a request no category can meet: say so now, not as a failed select task
        check_caps_reachable(options, job.device)
        check_categories_run(options)
    run_build(job, executor, workers, slurm)
    if executor != "slurm":
        stats = layout.read_json(layout.folder(job.out), layout.state(config, layout.STATS_FILE))
        if executor == "ray":  # the finish stage logged each split's count, but on its Ray worker
            for split, counts in stats["splits"].items():
                logger.info("%s %s", config, BuildStats.from_dict(counts).summary(split))
        if not any(counts["rows"] for counts in stats["splits"].values()):
            splits = [BuildStats.from_dict(counts) for counts in stats["splits"].values()]
            raise ValueError(no_rows_message(options, splits, build_options.CONFIGS[config].source))
    return job.out


def write_sft(data: str | Path, config: str, out: str | Path, task: str, style: str, **views: bool) -> dict[str, int]:
    """Format one config built into ``data`` for SFT and write ``out/SPLIT.parquet`` (which
    ``load_dataset(out)`` reads back with its splits); return the rows per split."""
    sft.check_format(task, style)
    with progress_bars(False):  # reading Parquet back takes moments
        builds = load_builds(data)
    if config not in builds:
        raise ValueError(f"config {config!r} is not built in {data}; built configs are {list(builds)}")
    with progress_bars(sum(len(split) for split in builds[config].values()) >= PROGRESS_ROWS):
        formatted = sft.to_sft(builds[config], task, style, **views)
        Path(out).mkdir(parents=True, exist_ok=True)
        for split, dataset in formatted.items():
            dataset.to_parquet(str(Path(out) / f"{split}.parquet"))
    return {split: len(dataset) for split, dataset in formatted.items()}


# Rows from which an SFT export shows datasets' progress bars: below, formatting and writing take a
# few seconds, and a bar per split and step (nine for three splits) would only be noise.
PROGRESS_ROWS = 20_000


@contextlib.contextmanager
def progress_bars(shown: bool) -> Iterator[None]:
    """``datasets``' progress bars inside the block: off, or as they were (a user who turned them off
    keeps them off); as they were after it."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    if not shown:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


# How each kind of option is written on the command line (its values are checked by the builder).
_FLAGS = {
    "count": lambda o: {"type": int},
    "arch": lambda o: {"type": int},
    "script": lambda o: {"metavar": "FILE"},
    "choice": lambda o: {"choices": o.choices},
    "names": lambda o: {"metavar": "NAME,NAME"},
    "flag": lambda o: {"action": argparse.BooleanOptionalAction},
    "paths": lambda o: {"nargs": "+", "metavar": "PATH"},
    "text": lambda o: {},
    "requirements": lambda o: {"nargs": "+", "metavar": "REQUIREMENT"},
    "modules": lambda o: {"nargs": "+", "metavar": "MODULE"},
    "file": lambda o: {"metavar": "FILE"},
    "commands": lambda o: {"action": "append", "metavar": "COMMAND"},  # given again for each part
}


# The build's option groups in ``build --help``, by the configs an option applies to.
OPTION_GROUPS = {
    None: "rows (every config)",
    "generated": "generated configs (cuda, cpu, ptx)",
    "real": "real configs (real_cuda, real_cpu): harvested kernels",
}

# An example per command, shown under its --help.
EXAMPLES = {
    "build": "example:\n  warp-ir-pairs build cpu --num-examples 200 --seed 1 --out data --workers 2",
    "push": "example:\n  warp-ir-pairs push my-org/warp-ir-pairs --data data --dry-run hub_preview",
    "sft": "example:\n  warp-ir-pairs sft data --config cpu --task python_to_forward --view compact,placeholders \\\n"
    "      --out sft",
    "eval": "example:\n  warp-ir-pairs eval data --config cpu --task python_to_forward --view compact,placeholders \\\n"
    "      --predictions predictions.jsonl --baseline nearest --out report",
}


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per build option, from ``BuildOptions`` (``num_examples`` is ``--num-examples``), in
    the group of the configs it applies to."""
    groups = {applies: parser.add_argument_group(title) for applies, title in OPTION_GROUPS.items()}
    for o in build_options.OPTIONS:
        help_text = f"{build_options.describe(o)} (default: {o.shown_default})".replace("`", "").replace("%", "%%")
        group = groups[o.applies_to]
        group.add_argument("--" + o.name.replace("_", "-"), default=None, help=help_text, **_FLAGS[o.kind](o))


def _command(commands, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand with its help and its example."""
    return commands.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warp-ir-pairs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = _command(commands, "build", "build one config into OUT (the Hub layout)")
    configs = ", ".join(build_options.CONFIGS)  # checked where they are used: a typo is one line with the closest
    b.add_argument("config", help=f"one of {configs}")
    b.add_argument("--out", required=True, help="a folder or any fsspec path (hf://datasets/..., s3://...)")
    _add_option_flags(b)
    d = b.add_argument_group("where it runs")
    d.add_argument("--tasks", type=int, help="shards per split, each built by one task (default: --workers)")
    d.add_argument("--workers", type=int, default=1, help="tasks run at once (default: 1)")
    d.add_argument("--executor", choices=EXECUTORS, default="local", help="where tasks run (default: local)")
    d.add_argument("--slurm-partition", default=Slurm.partition, help="Slurm partition (default: %(default)s)")
    d.add_argument("--slurm-time", default=Slurm.time, help="Slurm time limit per task (default: %(default)s)")
    d.add_argument("--slurm-venv", help="the virtual environment's activate script, sourced by each Slurm job")
    p = _command(commands, "push", "publish every config built in DATA to the Hugging Face Hub")
    p.add_argument("repo_id", help="the dataset repository, ORG/NAME")
    p.add_argument("--data", required=True, help="the folder `build --out` wrote")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--dry-run", type=Path, metavar="OUT", help="write the Hub layout to OUT instead of uploading")
    f = _command(commands, "sft", "format a built config for supervised fine-tuning (TRL's columns)")
    f.add_argument("data", help="the folder `build --out` wrote")
    f.add_argument("--config", required=True, help=f"one of {configs}")
    f.add_argument("--out", required=True, type=Path, help="where SPLIT.parquet files are written")
    f.add_argument("--task", default="python_to_forward", help=f"one of {', '.join(sft.TASKS)}; default: %(default)s")
    f.add_argument(
        "--style",
        choices=sft.STYLES,
        default="prompt_completion",
        help="prompt and completion, or messages (default: %(default)s)",
    )
    f.add_argument(
        "--view",
        default="",
        metavar="VIEW,VIEW",
        help="what the model sees: compact (no echo comments or padding), placeholders (HASH and MODULE for "
        "content hashes and module names); pass eval the same --view",
    )
    for view in VIEWS:  # the earlier spelling, still taken
        f.add_argument(f"--{view}", action="store_true", help=argparse.SUPPRESS)
    e = _command(commands, "eval", "score predictions by compiling and running them against the reference")
    e.add_argument("data", help="the folder `build --out` wrote, or anything load_dataset reads")
    e.add_argument("--config", required=True, help=f"one of {configs}")
    e.add_argument("--split", default="test", help="the split the predictions answer (default: %(default)s)")
    e.add_argument("--task", default="python_to_forward", help=f"one of {', '.join(sft.TASKS)}; default: %(default)s")
    e.add_argument(
        "--predictions",
        action="append",
        default=[],
        metavar="PRED.jsonl",
        help='a JSONL file of {"id", "prediction"[, "sample"]} lines; repeat for several side by side',
    )
    e.add_argument(
        "--baseline",
        action="append",
        default=[],
        choices=BASELINES,
        help="a built-in baseline to score too; repeat for several",
    )
    e.add_argument("--out", required=True, type=Path, help="where summary.md, summary.json, rows.jsonl, scores.png go")
    e.add_argument("--view", default="", metavar="VIEW,VIEW", help="the SFT views the predictions were made in")
    e.add_argument(
        "--input-sets",
        type=int,
        default=DEFAULT_INPUT_SETS,
        help="seeded inputs each kernel runs on (default: %(default)s)",
    )
    e.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    e.add_argument("--limit", type=int, help="score only the split's first N rows")
    e.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse to run where a layer of the sandbox is missing (namespaces, landlock, seccomp)",
    )
    e.add_argument(
        "--input-salt",
        nargs="?",
        const="",
        metavar="SALT",
        help="seed the inputs with SALT too, or with a fresh random salt when none is given, so that no one "
        "knows them in advance (the report records it; default: the published seeds)",
    )
    return parser


# What to do about an error from the build's surroundings (the disk, the folders), by errno.
SURROUNDINGS = {
    errno.ENOSPC: "free some space, then run the same command again: it resumes where it stopped",
    errno.EDQUOT: "free some space, then run the same command again: it resumes where it stopped",
    errno.ENOTDIR: "a path on the way is a file, not a folder: give --out a folder (new or existing)",
    errno.EEXIST: "a file stands where a folder must go: give --out a folder (new or existing)",
    errno.EACCES: "not allowed to write there: give --out (or the cache folder) a place you can write",
    errno.EPERM: "not allowed to write there: give --out (or the cache folder) a place you can write",
    errno.EROFS: "the file system is read-only: give --out (or the cache folder) a writable place",
}


def surroundings_message(error: OSError) -> str:
    """One line for an ``OSError``: what failed, on which path, and what to do."""
    where = f" ({error.filename})" if error.filename else ""
    advice = SURROUNDINGS.get(error.errno, "see the message above")
    return f"{error.strerror or error}{where}: {advice}"


def run_build_command(args: argparse.Namespace) -> None:
    values = {name: getattr(args, name) for name in build_options.OPTION_NAMES}
    slurm = Slurm(partition=args.slurm_partition, time=args.slurm_time, venv_path=args.slurm_venv)
    out = build(args.config, args.out, args.tasks, args.workers, args.executor, slurm, **values)
    if args.executor == "slurm":
        print(f"submitted the build of {args.config} into {out}")
    else:
        print(f'built {args.config} into {out}: datasets.load_dataset("{out}", "{args.config}") loads it')


def run_push_command(args: argparse.Namespace) -> None:
    if args.dry_run:
        readme = dry_run(args.data, args.dry_run, args.repo_id)
        print(f"wrote the Hub layout for {args.repo_id} into {readme.parent} (nothing uploaded)")
    else:
        print(f"published {push(args.data, args.repo_id, private=args.private)}")


def run_sft_command(args: argparse.Namespace) -> None:
    named = check_views([view for view in args.view.split(",") if view])
    views = {view: view in named or getattr(args, view) for view in VIEWS}
    counts = write_sft(args.data, args.config, args.out, args.task, args.style, **views)
    print(f"wrote {args.task} examples ({args.style}) to {args.out}: {counts}")


def run_eval_command(args: argparse.Namespace) -> None:
    summary = evaluate(
        args.data,
        args.config,
        split=args.split,
        task=args.task,
        predictions=args.predictions,
        baselines=args.baseline,
        out=args.out,
        views=[view for view in args.view.split(",") if view],
        input_sets=args.input_sets,
        workers=args.workers,
        limit=args.limit,
        require_sandbox=args.require_sandbox,
        input_salt=fresh_salt() if args.input_salt == "" else args.input_salt,
    )
    print(f"wrote the evaluation of {', '.join(summary['request']['sources'])} to {args.out}")
    print((args.out / "summary.md").read_text().split("\n\n", 2)[2].split("\n\n")[0])


# The subcommands, by name (``_parser`` declares their arguments).
COMMANDS = {"build": run_build_command, "push": run_push_command, "sft": run_sft_command, "eval": run_eval_command}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    route_datatrove_logs()
    # SIGTERM and SIGINT unwind like Ctrl-C: worker pools are terminated and temporary folders removed.
    # SIGINT too, explicitly: a process started in the background inherits it ignored, and Python
    # then never raises KeyboardInterrupt for it.
    with unwinding(signal.SIGTERM, signal.SIGINT):
        try:
            COMMANDS[args.command](args)
        except (ValueError, PublishError, BuildError, EvaluationError) as error:
            print(f"warp-ir-pairs: error: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"warp-ir-pairs: error: {surroundings_message(error)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("warp-ir-pairs: interrupted; run the same command again to resume", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
