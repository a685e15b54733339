#!/usr/bin/env bash
# Builds the libFuzzer targets into build/fuzz/: fuzz_gguf, fuzz_experiment, fuzz_results, and the seed
# generator seedgen. clang (Debian's clang-14 with libclang-rt-14-dev) compiles the project's sources
# with -fsanitize=fuzzer-no-link,address,undefined -g -O1; an object is rebuilt when its source or a
# header it includes is newer. Usage: fuzz/build.sh [--clean]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/fuzz
OBJ=$OUT/obj

CC=${CC:-}
if [[ -z $CC ]]; then
    for c in clang-14 clang; do
        if command -v "$c" >/dev/null; then CC=$c && break; fi
    done
fi
if [[ -z $CC ]]; then
    echo "fuzz/build.sh: clang not found: apt-get install -y clang libclang-rt-14-dev" >&2
    exit 1
fi
[[ ${1:-} == --clean ]] && rm -rf "$OUT"
mkdir -p "$OBJ"

SAN=("-fsanitize=address,undefined" -fno-sanitize-recover=all)
# shellcheck disable=SC2207 # pkg-config's output is a list of words
CFLAGS=(-std=gnu17 -I"$ROOT" -g -O1 -fno-omit-frame-pointer -Wall -Wextra "${SAN[@]}"
        -DQK_VERSION=\"fuzz\" -DQK_GIT_COMMIT=\"fuzz\" -DQK_BUILD_TYPE=\"Fuzz\"
        -DQK_COMPILER=\"clang\" -DQK_C_FLAGS=\"fuzz\" "-DQK_SOURCE_DIR=\"$ROOT\""
        $(pkg-config --cflags jansson inih hwloc papi 2>/dev/null || true))
# shellcheck disable=SC2207
LIBS=($(pkg-config --libs jansson inih hwloc papi) -lm -lpthread)

# Per-folder flags, as CMakeLists.txt sets them.
isa_flags() {
    case $1 in
    kernels/fp16.c) echo "-include fuzz/cpu_shim.h" ;;
    kernels/scalar/*) echo "-fno-vectorize -fno-slp-vectorize" ;;
    kernels/avx2/*) echo "-mavx2 -mfma -mf16c" ;;
    kernels/avx512vnni/*) echo "-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c" ;;
    esac
}

EXTRA= # extra flags for the next compile

# compile SRC MODE: appends the object to OBJS. MODE: fuzz (coverage-instrumented) or plain.
# An object is rebuilt when it is missing, was compiled with other flags, or is older than a file its
# dependency list (-MMD) names.
compile() {
    local src=$1 mode=$2 obj
    obj=$OBJ/$mode/${src%.c}.o
    mkdir -p "$(dirname "$obj")"
    local cov=()
    [[ $mode == fuzz ]] && cov=(-fsanitize=fuzzer-no-link)
    # shellcheck disable=SC2206,SC2207 # the flags are lists of words
    local cmd=("$CC" "${CFLAGS[@]}" "${cov[@]}" $(isa_flags "$src") $EXTRA -MMD -MF "${obj%.o}.d"
               -c "$src" -o "$obj")
    local stale=1
    if [[ -f $obj && -f ${obj%.o}.d && $(cat "${obj%.o}.cmd" 2>/dev/null) == "${cmd[*]}" ]]; then
        local deps
        deps=$(sed -e 's/\\$//' -e 's/^[^:]*://' "${obj%.o}.d" | tr -s ' \n' '\n' | grep -v '^$' || true)
        # shellcheck disable=SC2086
        [[ -z $(find $deps -newer "$obj" -print -quit 2>/dev/null) ]] && stale=0
        # a dependency that disappeared also means rebuilding
        for d in $deps; do [[ -e $d ]] || stale=1; done
    fi
    if ((stale)); then
        "${cmd[@]}"
        echo "${cmd[*]}" >"${obj%.o}.cmd"
    fi
    OBJS+=("$obj")
}

objects() { # MODE SOURCES...: OBJS = their objects
    local mode=$1 s
    shift
    OBJS=()
    for s in "$@"; do compile "$s" "$mode"; done
}

CORE=(common/error.c kernels/*.c kernels/scalar/*.c kernels/avx2/*.c kernels/avx512vnni/*.c model/*.c
      fuzz/cpu_shim.c)

link() { # NAME: links OBJS
    "$CC" -fsanitize=fuzzer "${SAN[@]}" -g "${OBJS[@]}" "${LIBS[@]}" -o "$OUT/$1"
    echo "built $OUT/$1"
}

objects fuzz "${CORE[@]}" fuzz/fuzz_gguf.c
link fuzz_gguf
objects fuzz common/error.c harness/experiment.c fuzz/fuzz_experiment.c
link fuzz_experiment
# the report command's reader, when the tree has it
RESULTS_SRC=(common/error.c harness/results.c harness/measure.c harness/compare.c)
REPORT_DEF=
if [[ -f harness/report.h && -f harness/report.c ]]; then
    RESULTS_SRC+=(harness/report.c harness/amdahl.c harness/cli.c)
    REPORT_DEF=-DQK_FUZZ_REPORT
fi
objects fuzz "${RESULTS_SRC[@]}"
# fuzz_results.o depends on whether the report is in: always rebuild it
rm -f "$OBJ/fuzz/fuzz/fuzz_results.o"
EXTRA=$REPORT_DEF
compile fuzz/fuzz_results.c fuzz
EXTRA=
link fuzz_results
objects plain "${CORE[@]}" fuzz/seedgen.c
"$CC" "${SAN[@]}" -g "${OBJS[@]}" "${LIBS[@]}" -o "$OUT/seedgen"
echo "built $OUT/seedgen"
