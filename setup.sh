#!/usr/bin/env bash
# Set everything up from a fresh clone, then build a small `cuda` dataset and print a sample row.
#   .venv         datasets 3.6 (runs the dataset script), the project with its Ray and PTX extras, test tools
#   .venv-latest  the newest datasets, to check that published data and the builder class work there
# --no-sample skips the sample build (CI).
set -euo pipefail
cd "$(dirname "$0")"
LATEST_DATASETS="datasets==5.2.0"

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,ray,ptx]"

python3 -m venv .venv-latest
.venv-latest/bin/python -m pip install -q --upgrade pip
.venv-latest/bin/python -m pip install -q "$LATEST_DATASETS" "warp-lang==1.19.0" numpy
.venv-latest/bin/python -m pip install -q --no-deps -e .

if [ "${1:-}" != "--no-sample" ]; then
    .venv/bin/python examples/quickstart.py
fi
