#!/usr/bin/env bash
# Builds qkbench (release) and runs the whole test suite through ctest (Criterion).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
ctest --preset release -j 1
