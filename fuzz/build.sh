#!/usr/bin/env bash
# Builds the libFuzzer targets with CMake's `fuzz` preset (CMakePresets.json, the fuzz block at the end
# of CMakeLists.txt): build/fuzz/fuzz_NAME for every fuzz/fuzz_NAME.c, and build/fuzz/seedgen. The
# targets link the project's libraries, compiled by clang-14 with
# -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g -O1; CMake rebuilds what
# is out of date and picks up moved or added sources by itself.
# Usage: fuzz/build.sh [--clean]   rebuild everything with --clean
#        fuzz/build.sh --check     exit 0 when clang-14 and its runtime (libFuzzer, ASan, UBSan) can
#                                  link a fuzz target here, else 1 with the reason on stderr
set -euo pipefail
cd "$(dirname "$0")/.."
CC=clang-14 # the preset's compiler

check() {
    if ! command -v "$CC" >/dev/null; then
        echo "fuzz: $CC not found (apt-get install -y clang libclang-rt-14-dev)" >&2
        return 1
    fi
    local tmp
    tmp=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return n && d[0] == 1; }' \
        >"$tmp/probe.c"
    if ! "$CC" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" \
        >"$tmp/log" 2>&1; then
        echo "fuzz: $CC cannot link a libFuzzer target (apt-get install -y libclang-rt-14-dev):" >&2
        head -3 "$tmp/log" >&2
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$tmp"
}

case ${1:-} in
--check)
    check
    exit
    ;;
--clean | "") ;;
*)
    echo "usage: fuzz/build.sh [--clean|--check]" >&2
    exit 2
    ;;
esac
check || exit 1
mkdir -p build/fuzz
# one build at a time in the tree (several fuzz/run.sh may start together)
exec 9>build/fuzz/.build.lock
flock 9
[[ -f build/fuzz/CMakeCache.txt ]] || cmake --preset fuzz >/dev/null
clean=()
[[ ${1:-} == --clean ]] && clean=(--clean-first)
cmake --build --preset fuzz -j "$(nproc)" "${clean[@]}"
