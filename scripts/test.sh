#!/usr/bin/env bash
# Builds qkbench and runs the whole test suite through ctest (Criterion) twice: the release build,
# then the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer, halt on the first error).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# SLURM and munge for the fleet test (test_fleet skips without them)
scripts/deps-slurm.sh
# the llama.cpp peer's tests run when it is installed (its headers are needed at configure time)
scripts/install-peer.sh || echo "tests: llama.cpp peer not installed: its tests will skip" >&2
jobs=$(nproc)
for preset in release asan; do
  echo "== $preset ==" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j 1
done
