"""Static harvest counts generic kernels without an overload at harvest, from the file alone
(``declarations.is_generic``). This compares that with Warp's own verdict: the same paths harvested
with the check switched off, every kernel's code made, and the kernels code generation calls
generic. The two sets should be equal (no misses, no false flags).

    python bench/generic_detection.py [PATH ...] [--packages-file corpus.txt]

With no arguments: Warp's own examples and tests, and its ``_src``.
"""

from __future__ import annotations

import argparse
from unittest import mock

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.real import declarations
from generation.real.harvest import HarvestOptions, harvest, warp_package
from generation.real.packages import read_requirements_file


def flagged_and_failing(options: HarvestOptions) -> tuple[set[str], set[str]]:
    """Kernels flagged at harvest, and kernels code generation finds generic (one build each)."""
    result = harvest(options)
    flagged = {f.message.split(": ")[0] for f in result.skipped if f.kind == "GenericKernelError"}
    failing = set()
    for index, spec in enumerate(result.specs):
        stats = BuildStats()
        list(build_rows([PlannedKernel(index, spec)], "cpu", BuildOptions(), stats))
        if any(reason.kind == "GenericKernelError" for reason in stats.skipped):
            failing.add(spec.origin)
    return flagged, failing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--packages-file")
    args = parser.parse_args()
    targets = {path: HarvestOptions((path,)) for path in args.paths}
    if args.packages_file:
        targets[args.packages_file] = HarvestOptions(
            packages=tuple(read_requirements_file(args.packages_file).requirements)
        )
    if not targets:
        targets = {
            "warp examples and tests": HarvestOptions(),
            "warp/_src": HarvestOptions((str(warp_package() / "_src"),)),
        }
    print("| harvested | flagged at harvest | generic at codegen, check off | equal | still generic at codegen |")
    print("|---|---:|---:|---|---:|")
    for name, options in targets.items():
        flagged, remaining = flagged_and_failing(options)
        # The same harvest with the check off (a test double for the check, not for Warp): Warp judges.
        with mock.patch.object(declarations, "is_generic", lambda *args: False):
            _, failing = flagged_and_failing(options)
        print(f"| {name} | {len(flagged)} | {len(failing)} | {flagged == failing} | {len(remaining)} |", flush=True)


if __name__ == "__main__":
    main()
