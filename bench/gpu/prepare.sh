#!/usr/bin/env bash
# Here, before a session that is lent a GPU machine calls it: the wheels that machine lacks (its
# Python is 3.12 and nothing can be fetched there), at this checkout's .venv versions, packed and
# split into parts of at most 56 MiB, so that each part fits one call's 64 MiB working tree.
#   bash bench/gpu/prepare.sh      # writes .device/part-00, part-01, ... (git ignores .device)
# Then carry one part a call, back to back while the machine stays warm: bench/gpu/run.sh gathers
# them and, once all are there, runs the checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Warp (149 MB), nvJitLink of Warp's NVRTC release, and what datasets 3.6 and datatrove need
# beyond the machine's own packages (numpy, pyarrow, pandas, fsspec, huggingface_hub, tqdm, ...).
PACKAGES="warp-lang nvidia-nvjitlink datasets datatrove dill multiprocess loguru"
out=.device
rm -rf "$out"
mkdir -p "$out/wheels" .git/info
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
for name in $PACKAGES; do
    version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$name'))")
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux1_x86_64 --platform any -d "$out/wheels" "$name==$version" 2>&1 | grep -v "^WARNING" || true
    ls "$out/wheels" | grep -qi "^${name//-/_}-$version" || { echo "no wheel for $name $version" >&2; exit 1; }
done
tar -C "$out" -cf - wheels | split -b 56m -d - "$out/part-"
rm -rf "$out/wheels"
ls "$out" | wc -l | xargs echo "parts:"
ls -l "$out"
