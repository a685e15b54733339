#!/usr/bin/env bash
# Runs one fuzz target for a while: fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#   TARGET: NAME of a fuzz/fuzz_NAME.c (gguf, experiment, results, ...).
# Builds the targets if needed (fuzz/build.sh: CMake's fuzz preset), runs libFuzzer under
# `nice -n 10` with -max_total_time=SECONDS, -rss_limit_mb=2048, -timeout=10, the dictionary
# fuzz/NAME.dict and the options in fuzz/NAME.options, on the corpus build/fuzz/corpus-NAME (kept
# between runs, so coverage accumulates) plus the committed seeds fuzz/seeds/NAME/ and, unless
# QK_FUZZ_SEEDS=committed, seeds generated now (seedgen, experiments/, tests/data/, results/, the
# shared test model, qkbench's output when built). Crash inputs go to build/fuzz/crashes-NAME/ and
# the log to build/fuzz/NAME.log; then it prints the executions, the final coverage (cov/ft) and the
# crash files. Exit status: 0 when nothing was found, 1 when libFuzzer stopped on a crash, a leak, a
# timeout, an out-of-memory or a sanitizer report, 2 on a usage error.
# Environment: QK_FUZZ_OUT (default build/fuzz) holds the corpus, crashes and logs;
# QK_FUZZ_SEEDS=committed uses the committed seeds only (CI: fuzz/smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$ROOT/build/fuzz
OUT=${QK_FUZZ_OUT:-$BUILD}

targets() { # the NAMEs of fuzz/fuzz_NAME.c
    for f in "$ROOT"/fuzz/fuzz_*.c; do
        f=${f##*/fuzz_}
        echo "${f%.c}"
    done
}
usage() {
    echo "usage: fuzz/run.sh $(targets | paste -sd '|') SECONDS [libFuzzer options...]" >&2
    exit 2
}
[[ $# -ge 2 ]] || usage
TARGET=$1
SECONDS_=$2
shift 2
[[ $TARGET =~ ^[a-z0-9_]+$ && -f $ROOT/fuzz/fuzz_$TARGET.c ]] || usage
[[ $SECONDS_ =~ ^[0-9]+$ ]] || usage

BIN=$BUILD/fuzz_$TARGET
# QK_FUZZ_BUILT=1: the caller built the targets already (fuzz/smoke.sh runs several of us at once)
[[ ${QK_FUZZ_BUILT:-0} == 1 ]] || "$ROOT/fuzz/build.sh" >&2

CORPUS=$OUT/corpus-$TARGET
CRASHES=$OUT/crashes-$TARGET
SEEDS=$OUT/seeds-$TARGET # generated now
LOG=$OUT/$TARGET.log
mkdir -p "$CORPUS" "$CRASHES"
rm -rf "$SEEDS"
mkdir -p "$SEEDS"
DIRS=("$CORPUS") # libFuzzer writes new inputs into the first, reads the others
[[ -d $ROOT/fuzz/seeds/$TARGET ]] && DIRS+=("$ROOT/fuzz/seeds/$TARGET")

if [[ ${QK_FUZZ_SEEDS:-all} != committed ]]; then
    QKBENCH=""
    for q in "$ROOT/build/release/qkbench" "$ROOT/build/qkbench"; do
        if [[ -x $q ]]; then QKBENCH=$q && break; fi
    done
    TESTDATA=${QK_TESTDATA_DIR:-$ROOT/../shared/testdata}
    # seedgen writes what it knows for the target (exit 2, a usage error, for the others)
    rc=0
    "$BUILD/seedgen" "$TARGET" "$SEEDS" 2>"$SEEDS.err" || rc=$?
    ((rc == 0 || rc == 2)) || { echo "fuzz/run.sh: seedgen $TARGET failed:" && cat "$SEEDS.err"; } >&2
    rm -f "$SEEDS.err"
    case $TARGET in
    gguf)
        [[ -f $TESTDATA/tiny-gemma.gguf ]] && cp "$TESTDATA/tiny-gemma.gguf" "$SEEDS/"
        if [[ -n $QKBENCH ]]; then
            "$QKBENCH" gen-model --preset tiny -o "$SEEDS/qkbench-tiny.gguf" >/dev/null ||
                echo "fuzz/run.sh: qkbench gen-model failed (seeds from seedgen only)" >&2
        fi
        ;;
    experiment)
        cp "$ROOT"/experiments/*.ini "$SEEDS/"
        ;;
    results)
        cp "$ROOT"/tests/data/*.json "$SEEDS/" 2>/dev/null || true
        find "$ROOT/results" -name '*.json' -size -1M -exec cp {} "$SEEDS/" \; 2>/dev/null || true
        if [[ -n $QKBENCH ]]; then
            run_dir=$OUT/seed-run
            mkdir -p "$run_dir/models"
            if QK_MODEL_DIR=$run_dir/models "$QKBENCH" run "$ROOT/experiments/smoke.ini" \
                -o "$run_dir" --quick --force >"$run_dir/run.log" 2>&1; then
                cp "$run_dir/smoke.json" "$SEEDS/smoke-run.json"
            else
                echo "fuzz/run.sh: qkbench run smoke.ini failed (see $run_dir/run.log)" >&2
            fi
        fi
        ;;
    esac
    DIRS+=("$SEEDS")
fi

OPTS=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1
      -artifact_prefix="$CRASHES/")
[[ -f $ROOT/fuzz/$TARGET.dict ]] && OPTS+=(-dict="$ROOT/fuzz/$TARGET.dict")
if [[ -f $ROOT/fuzz/$TARGET.options ]]; then # one libFuzzer option a line, # comments
    while read -r o; do
        [[ -n $o ]] && OPTS+=("$o")
    done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$ROOT/fuzz/$TARGET.options")
fi

# known_crash LOG: when the first report in LOG is one of fuzz/known-crashes (for this target: its
# function among the first four frames, its regular expression on the report's first line), prints
# that entry's test name and returns 0.
known_crash() {
    local list=$ROOT/fuzz/known-crashes report frames tgt fn test re
    [[ -f $list ]] || return 1
    report=$(grep -m1 -E 'runtime error: |==[0-9]+== ?ERROR: |invariant violated|deadly signal' "$1" || true)
    frames=$(grep -m4 -E '^ +#[0-9]+ 0x[0-9a-f]+ in ' "$1" || true)
    [[ -n $report ]] || return 1
    while read -r tgt fn test re; do
        [[ $tgt == "$TARGET" && -n $re ]] || continue
        if grep -qE -- "$re" <<<"$report" && grep -qE " in $fn " <<<"$frames"; then
            echo "$test"
            return 0
        fi
    done < <(grep -vE '^[[:space:]]*(#|$)' "$list")
    return 1
}

crash_files() { find "$CRASHES" -maxdepth 1 -type f -printf '%f\n' | sort; }
before=$(crash_files)
inputs=$(find "${DIRS[@]}" -type f | wc -l)
echo "fuzz/run.sh: $BIN for ${SECONDS_}s, corpus $CORPUS (${inputs} inputs with the seeds), log $LOG" >&2
# libFuzzer stops at the first crash. A crash listed in fuzz/known-crashes (found before, its fix
# pending, its regression test disabled) is moved to crashes-NAME/known/ and the run goes on for the
# time left, on the corpus as it grew; anything else ends the run and fails it.
: >"$LOG"
PART=$OUT/$TARGET.part.log
start=$(date +%s)
left=$SECONDS_ execs=0 known=() status=0
while :; do
    part_known=0 # 1: this libFuzzer run ended on a known crash
    prev=$(crash_files)
    off=$(stat -c %s "$LOG")
    set +e
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        nice -n 10 "$BIN" "${OPTS[@]}" -max_total_time="$left" "$@" "${DIRS[@]}" >>"$LOG" 2>&1
    status=$?
    set -e
    tail -c +$((off + 1)) "$LOG" >"$PART" # this libFuzzer run's part of the log
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$PART" | tail -1)
    execs=$((execs + ${n:-0}))
    ((status != 0)) || break
    test=$(known_crash "$PART") || break
    mkdir -p "$CRASHES/known"
    comm -13 <(echo "$prev") <(crash_files) | while read -r f; do mv "$CRASHES/$f" "$CRASHES/known/"; done
    known+=("$test")
    status=0 part_known=1
    left=$((SECONDS_ - ($(date +%s) - start)))
    ((left >= 2)) || break
    echo "fuzz/run.sh: known crash ($test), ${left}s left: going on" >&2
done

final=$(grep -E '^#[0-9]+' "$PART" | grep -E 'cov: [0-9]+' | tail -1 || true)
cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$final")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")
rate=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$final")
corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$final")
echo "target:      $TARGET"
echo "seconds:     $SECONDS_"
echo "executions:  $execs (${rate:-?} exec/s at the end)"
echo "coverage:    cov ${cov:-?} ft ${ft:-?} (corpus ${corp:-?})"
echo "final line:  ${final:-none}"
if ((${#known[@]})); then
    echo "known:       ${#known[@]} known crashes (fuzz/known-crashes), inputs in $CRASHES/known/:"
    printf '%s\n' "${known[@]}" | sort | uniq -c | sed 's/^ */  /'
fi
new=$(comm -13 <(echo "$before") <(crash_files))
# a sanitizer report that did not stop the run (none should: -fno-sanitize-recover=all) still fails
reports=0
((status != 0 || part_known)) || reports=$(grep -cE '^==[0-9]+==(ERROR|WARNING): |runtime error: |invariant violated' "$PART" || true)
if ((status != 0 || reports > 0)) || [[ -n $new ]]; then
    echo "crashes:     libFuzzer exit status $status; files in $CRASHES:"
    find "$CRASHES" -maxdepth 1 -type f -printf '  %p (%s bytes)\n'
    grep -E '^(==[0-9]+== ?(ERROR|WARNING)|SUMMARY|.*runtime error|fuzz_.*invariant)' "$PART" | head -5 |
        sed 's/^/  /'
    exit 1
fi
echo "crashes:     none"
