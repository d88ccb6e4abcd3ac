"""Rows per second of the default build path, against two baselines measured in the same run.

(a) seed-style: write one .py file per kernel, import it, compile it (Clang for cpu, NVRTC PTX
    for cuda) and read the generated source back, as the original baseline pipeline did;
(b) bare codegen: the same kernels already imported, timed only around Warp's own
    module hash and ModuleBuilder(...).codegen(device) (``warp_api.bare_codegen``), the floor any
    pipeline built on Warp pays.

Targets (issue 2): default >= 0.7x of (b) and >= 20x of (a). "Default" times ``build_rows``;
"end to end" times the builder as ``load_dataset`` runs it (planning and Arrow writing included).
A second table gives the validated paths (issue 3): validate="compile" on cpu, the ptx config,
and validate="run" on cpu.

    python bench/bench_codegen.py [--rows 600] [--seed-rows 6] [--validated-rows 60] [--device cuda]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path

import warp as wp
from tqdm import tqdm

from generation.backend import warp_api
from generation.backend.source_module import kernels_in
from generation.pipeline import checks
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.stats import BuildStats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direct import planned_split  # noqa: E402  (shared with the tests)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_path(kernels, device, options, desc: str = "default") -> float:
    stats = BuildStats()
    start = time.perf_counter()
    rows = sum(1 for _ in tqdm(build_rows(kernels, device, options, stats), total=len(kernels), desc=desc))
    elapsed = time.perf_counter() - start
    assert rows == len(kernels), stats.summary("bench")
    return rows / elapsed


def end_to_end(device: str, rows: int, seed: int, difficulty: str) -> float:
    """Rows/s as a user waits for them: the builder from construction to the last row written
    (planning, code, Arrow), on the same kernels as the other paths (train only)."""
    from generation.hub.builder import WarpIRPairs

    sizes = {"num_examples": rows, "num_validation": 0, "num_test": 0}
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        builder = WarpIRPairs(config_name=device, cache_dir=cache, seed=seed, difficulty=difficulty, **sizes)
        builder.download_and_prepare()
        elapsed = time.perf_counter() - start
        assert builder.info.splits["train"].num_examples == rows
    return rows / elapsed


def validated_paths(kernels, seed: int, difficulty: str) -> list[tuple[str, str, float]]:
    """Rows/s of the compiling paths, after one warm-up compile (Warp's precompiled header). The
    last is the baseline of ``cpu`` ``run``: a compile check of its own before the run check, as
    builds did before the run check's build counted as the compile check (``checks.DOES_TOO``)."""
    paths = [("cpu", "compile", {}), ("ptx", "none", {}), ("cuda", "compile", {}), ("cpu", "run", {})]
    paths.append(("cpu", "run", {"label": "run, compile check apart (before)", "does_too": {}}))
    results = []
    for config, validate, variant in paths:
        options = BuildOptions(num_examples=len(kernels), seed=seed, validate=validate, difficulty=difficulty)
        label = variant.get("label", validate)
        kept = dict(checks.DOES_TOO)
        checks.DOES_TOO.clear()
        checks.DOES_TOO.update(variant.get("does_too", kept))
        try:
            default_path(kernels[:1], config, options, desc="warm-up")
            results.append((config, label, default_path(kernels, config, options, desc=f"{config} {label}")))
        finally:
            checks.DOES_TOO.clear()
            checks.DOES_TOO.update(kept)
    return results


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def bare_codegen(kernels, device, workdir: Path) -> float:
    """Import every kernel first (untimed), then time Warp's code generator alone."""
    workdir.mkdir(parents=True, exist_ok=True)
    loaded = []
    for k, planned in enumerate(kernels):
        path = workdir / f"bare_{k}.py"
        path.write_text(planned.spec.python_source)
        loaded.append(kernels_in(import_file(path, f"bare_{workdir.name}_{k}"))[0])
    start = time.perf_counter()
    for kernel in tqdm(loaded, desc="bare codegen"):
        warp_api.bare_codegen(kernel, device)
    return len(loaded) / (time.perf_counter() - start)


def seed_style(kernels, device, workdir: Path) -> float:
    """One file, one import and one compile per kernel, reading the generated source back."""
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for k, planned in enumerate(tqdm(kernels, desc="seed-style")):
        path = workdir / f"seed_{k}.py"
        path.write_text(planned.spec.python_source)
        module = import_file(path, f"seed_{workdir.name}_{k}")
        out_dir = workdir / f"seed_{k}_build"
        if device == "cpu":
            wp.compile_aot_module(module, device="cpu", module_dir=out_dir)
        else:
            wp.compile_aot_module(module, arch=80, use_ptx=True, module_dir=out_dir)
        sources = list(out_dir.glob("*.cpp" if device == "cpu" else "*.cu"))
        assert sources and sources[0].read_text()
    return len(kernels) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=600, help="kernels for the default path and (b)")
    parser.add_argument("--seed-rows", type=int, default=6, help="kernels for (a), which compiles each one")
    parser.add_argument("--rounds", type=int, default=2, help="alternating timed rounds of default and (b)")
    parser.add_argument("--validated-rows", type=int, default=60, help="kernels for the compiling paths")
    parser.add_argument("--device", choices=["cpu", "cuda", "both"], default="both")
    parser.add_argument("--difficulty", default="mixed", help="the generator's size profile (issue 4)")
    args = parser.parse_args()

    warp_api.init_warp()
    options = BuildOptions(num_examples=args.rows, seed=11, difficulty=args.difficulty)
    kernels = planned_split(options)
    devices = ["cpu", "cuda"] if args.device == "both" else [args.device]
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        for device in devices:
            # Warm both paths up, then alternate them and keep each one's best round: on a small
            # shared machine a single pass swings by 15% with whatever else is running.
            default_path(kernels[:20], device, options, desc="warm-up")
            bare_codegen(kernels[:20], device, Path(tmp) / f"warm_{device}")
            default = bare = e2e = 0.0
            for round_ in range(args.rounds):
                bare = max(bare, bare_codegen(kernels, device, Path(tmp) / f"{device}_{round_}"))
                default = max(default, default_path(kernels, device, options))
                e2e = max(e2e, end_to_end(device, len(kernels), 11, args.difficulty))
            seed = seed_style(kernels[: args.seed_rows], device, Path(tmp) / f"seed_{device}")
            table.append((device, default, bare, seed, e2e))
    print(
        f"\nwarp {wp.config.version}, {args.rows} kernels of difficulty {args.difficulty} "
        f"(seed-style: {args.seed_rows}), one process, "
        f"best of {args.rounds} alternating rounds after a warm-up"
    )
    print(
        "| device | default rows/s | (b) bare codegen rows/s | (a) seed-style rows/s | default/(b) | default/(a) "
        "| load_dataset rows/s (end to end) | end to end/(b) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for device, default, bare, seed, e2e in table:
        print(
            f"| {device} | {default:.1f} | {bare:.1f} | {seed:.2f} | {default / bare:.2f}x | {default / seed:.0f}x "
            f"| {e2e:.1f} | {e2e / bare:.2f}x |"
        )
    if args.validated_rows:
        print("\n| config | validate | rows/s (one process, one core) |\n|---|---|---:|")
        for config, validate, rate in validated_paths(kernels[: args.validated_rows], 11, args.difficulty):
            print(f"| {config} | {validate} | {rate:.1f} |")
    print(f"peak RSS: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
