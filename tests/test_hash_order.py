"""Warp 1.19 emits the copies of a dynamic loop's reassigned iterator constants in the order of a
``set`` of names (``Adjoint._promote_mutated_iter_constants``), so for such a kernel the code
depends on ``PYTHONHASHSEED``: another process generates other code for the same source. No row
can be honest about it, so the build skips it, counted as ``codegen:hash_ordered`` (Warp's code is
still there for anyone who calls ``extract_ir``, which says so in ``metadata.hash_ordered``)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import REPO

from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.stats import BuildStats
from generation.source.spec import KernelSpec

# An unrolled loop around a dynamic one that reassigns two iterator constants of the loops it unrolled
# (the shape of nvalchemiops' ``_feat_pg_back_positions_reduce_kernel``).
SOURCE = textwrap.dedent("""
    import warp as wp


    @wp.kernel
    def k(a: wp.array(dtype=float), n: int):
        for beta in range(2):
            total = float(0.0)
            for s in range(n):
                for alpha in range(2):
                    for lm in range(2):
                        total += a[alpha + lm]
            a[beta] = total
    """)
# Warp's own build path, in a process whose hash seed the test sets.
GENERATE = """
import hashlib, sys
import warp as wp
from warp._src import context
sys.path.insert(0, sys.argv[1])
import hash_ordered
k = hash_ordered.k
options = k.module.resolve_options(wp.config, block_dim=1) | {"output_arch": None}
builder = context.ModuleBuilder(k.module, options, hasher=context.ModuleHasher([k], options), target="cpu")
print(hashlib.sha256(builder.codegen("cpu").encode()).hexdigest())
"""


def test_warp_orders_this_kernels_code_by_the_hash_seed(tmp_path):
    (tmp_path / "hash_ordered.py").write_text(SOURCE)
    codes = {
        seed: subprocess.run(
            [sys.executable, "-c", GENERATE, str(tmp_path)],
            env=dict(os.environ, PYTHONHASHSEED=seed),
            capture_output=True,
            text=True,
            cwd=str(REPO),
            check=True,
        ).stdout.split()[-1]
        for seed in ("0", "2")
    }
    assert codes["0"] != codes["2"]


def test_such_a_kernel_is_a_counted_codegen_skip():
    stats = BuildStats()
    spec = KernelSpec("k", "real", "", SOURCE, origin="hash_ordered.py::k")
    assert list(build_rows([PlannedKernel(0, spec)], "cpu", BuildOptions(), stats)) == []
    assert {str(reason): n for reason, n in stats.skipped.items()} == {"codegen:hash_ordered": 1}
    assert "k: Warp orders the loop copies of ['k'] by Python's string hashing" in next(
        iter(stats.first_error.values())
    )
