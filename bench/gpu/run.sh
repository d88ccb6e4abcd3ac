#!/usr/bin/env bash
# There, on the lent GPU machine, from the repository root: keep the part this call carried; once
# all PARTS are there, install them and run every check that needs a GPU, most wanted first, each
# under a time limit so that the whole fits one call (about 8 minutes on an H100):
#   1. pytest -k gpu: GPU launches of cuda rows, and cuda and ptx candidates scored correct;
#   2. bench/evaluation.py --stages cuda,ptx: reference and mutate scored on the GPU (ROWS test rows);
#   3. bench/gpu_launch_rates.py: launch pass rates of each category's cuda rows (tile kernels
#      compile for about 27 s each on an H100: 4 rows a category).
#   bash bench/gpu/run.sh PARTS [ROWS]     # PARTS: how many parts prepare.sh made; ROWS: 60 unless given
# Logs go to $OUT (they come back) and to the output.
set -uo pipefail
parts=/tmp/wirp_parts
mkdir -p "$parts"
cp .device/part-* "$parts/" 2>/dev/null
have=$(ls "$parts" | wc -l)
if [ "$have" -lt "$1" ]; then
    echo "$have of $1 parts here: carry the next one"
    exit 0
fi
if [ ! -d /tmp/site ]; then
    cat "$parts"/part-* | tar -C /tmp -xf - || exit 1
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site /tmp/wheels/*.whl || exit 1
fi
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
out=${OUT:-/tmp/gpu_out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/device.txt"
python3 -c "import warp, datasets, datatrove; from generation.backend import ptxas; print('warp', warp.__version__, 'datasets', datasets.__version__, 'nvJitLink', ptxas.version())" 2>&1 | tee -a "$out/device.txt"
timeout 240 python3 -m pytest -k gpu -p no:cacheprovider -rs -q -n 4 2>&1 | tee "$out/pytest.log"
timeout 240 python3 bench/evaluation.py --out /tmp/gpu_eval --stages cuda,ptx --rows "${2:-60}" 2>&1 |
    grep -v "^INFO\|^Generating" | tee "$out/evaluation.log"
timeout 120 python3 bench/gpu_launch_rates.py --rows 4 --jobs 14 2>&1 | tee "$out/launch_rates.log"
