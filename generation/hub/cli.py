"""``warp-ir-pairs``: build configs into a folder, and publish that folder to the Hub.

warp-ir-pairs build cuda --num-examples 5000 --seed 1 --num-proc 2 --out data
warp-ir-pairs push my-org/warp-ir-pairs --data data [--private] [--dry-run OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
from pathlib import Path

from generation.hub.builder import WarpIRPairs
from generation.hub.publish import STATS_FILE, PublishError, dry_run, push
from generation.pipeline import options as build_options

logger = logging.getLogger("warp_ir_pairs")


def build(config: str, out: Path, num_proc: int | None = None, **option_values) -> Path:
    """Build one config into ``out/config`` (Arrow, ``load_from_disk``) with its statistics.

    The builder checks the options, before any work and before ``out`` is touched."""
    builder_options = {name: value for name, value in option_values.items() if value is not None}
    with tempfile.TemporaryDirectory(prefix="warp_ir_pairs_cache_") as cache:
        builder = WarpIRPairs(config_name=config, cache_dir=cache, **builder_options)
        builder.download_and_prepare(num_proc=num_proc)
        dataset_dict = builder.as_dataset()
        target = out / config
        dataset_dict.save_to_disk(str(target))
        stats = {
            "options": dataclasses.asdict(builder.options),
            "splits": {split: s.as_dict() for split, s in builder.build_stats.items()},
        }
    (target / STATS_FILE).write_text(json.dumps(stats, indent=2, sort_keys=True))
    for split, split_stats in builder.build_stats.items():
        logger.info(split_stats.summary(split))
    return target


# How each kind of option is written on the command line (its values are checked by the builder).
_FLAGS = {
    "count": lambda o: {"type": int},
    "arch": lambda o: {"type": int},
    "choice": lambda o: {"choices": o.choices},
    "names": lambda o: {"metavar": "NAME,NAME"},
    "flag": lambda o: {"action": argparse.BooleanOptionalAction},
    "paths": lambda o: {"nargs": "+", "metavar": "PATH"},
    "text": lambda o: {},
}


def _add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per build option, from ``BuildOptions``: ``num_examples`` is ``--num-examples``."""
    for o in build_options.OPTIONS:
        help_text = f"{build_options.describe(o)} (default: {o.shown_default})".replace("`", "").replace("%", "%%")
        parser.add_argument("--" + o.name.replace("_", "-"), default=None, help=help_text, **_FLAGS[o.kind](o))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warp-ir-pairs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="build one config into OUT/CONFIG")
    b.add_argument("config", choices=build_options.CONFIGS)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--num-proc", type=int, help="worker processes (datasets' num_proc)")
    _add_option_flags(b)
    p = commands.add_parser("push", help="publish every config built in DATA")
    p.add_argument("repo_id")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--private", action="store_true")
    p.add_argument("--dry-run", type=Path, metavar="OUT", help="write the Hub layout to OUT instead of uploading")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "build":
            values = {name: getattr(args, name) for name in build_options.OPTION_NAMES}
            target = build(args.config, args.out, num_proc=args.num_proc, **values)
            print(f"built {args.config} into {target}")
        elif args.dry_run:
            readme = dry_run(args.data, args.dry_run, args.repo_id)
            print(f"wrote the Hub layout for {args.repo_id} into {readme.parent} (nothing uploaded)")
        else:
            print(f"published {push(args.data, args.repo_id, private=args.private)}")
    except (ValueError, PublishError) as error:
        print(f"warp-ir-pairs: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
