#!/usr/bin/env bash
# Builds qkbench and runs the whole test suite through ctest (Criterion) twice: the release build,
# then the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer, halt on the first error).
# Then the fuzz targets (fuzz/smoke.sh): the fuzz preset builds every fuzz/fuzz_*.c with clang-14
# (libFuzzer + ASan + UBSan) and runs each for QK_FUZZ_SECONDS (default 15) on its committed seeds,
# printing its executions and cov/ft; any crash, leak, timeout or sanitizer report fails the tests.
# Without clang-14 and libclang-rt-14-dev (scripts/deps.sh installs them) it says so and skips the
# fuzzing; QK_FUZZ_SECONDS=0 skips it too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# SLURM and munge for the fleet test (test_fleet skips without them)
scripts/deps-slurm.sh
# the llama.cpp peer's tests run when it is installed (its headers are needed at configure time)
scripts/install-peer.sh || echo "tests: llama.cpp peer not installed: its tests will skip" >&2
jobs=$(nproc)
for preset in release asan; do
  echo "== $preset == (${SECONDS}s in)" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j 1
done
if [ "${QK_FUZZ_SECONDS:-15}" = 0 ]; then
  echo "tests: fuzzing skipped (QK_FUZZ_SECONDS=0)" >&2
elif fuzz/build.sh --check; then
  echo "== fuzz == (${SECONDS}s in)" >&2
  fuzz/smoke.sh
else
  echo "tests: fuzzing SKIPPED: clang-14 with libclang-rt-14-dev is not available (see above)" >&2
fi
