#!/usr/bin/env bash
# Runs one fuzz target for a while: fuzz/run.sh TARGET SECONDS [libFuzzer options...]
#   TARGET: gguf, experiment or results.
# Builds the targets if needed (fuzz/build.sh), seeds build/fuzz/corpus-TARGET (kept between runs, so
# coverage accumulates), runs libFuzzer under `nice -n 10` with -max_total_time=SECONDS,
# -rss_limit_mb=2048 and -timeout=10, writes crash inputs to build/fuzz/crashes-TARGET/ and the log
# to build/fuzz/TARGET.log, then prints the executions, the final coverage (cov/ft) and the crash
# files. Exit status: 0 when no crash was found, 1 otherwise, 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/fuzz

usage() {
    echo "usage: fuzz/run.sh gguf|experiment|results SECONDS [libFuzzer options...]" >&2
    exit 2
}
[[ $# -ge 2 ]] || usage
TARGET=$1
SECONDS_=$2
shift 2
case $TARGET in gguf | experiment | results) ;; *) usage ;; esac
[[ $SECONDS_ =~ ^[0-9]+$ ]] || usage

BIN=$OUT/fuzz_$TARGET
"$ROOT/fuzz/build.sh" >&2

CORPUS=$OUT/corpus-$TARGET
CRASHES=$OUT/crashes-$TARGET
SEEDS=$OUT/seeds-$TARGET
LOG=$OUT/$TARGET.log
mkdir -p "$CORPUS" "$CRASHES"
rm -rf "$SEEDS"
mkdir -p "$SEEDS"

QKBENCH=""
for q in "$ROOT/build/release/qkbench" "$ROOT/build/qkbench"; do
    if [[ -x $q ]]; then QKBENCH=$q && break; fi
done
TESTDATA=${QK_TESTDATA_DIR:-$ROOT/../shared/testdata}

case $TARGET in
gguf)
    "$OUT/seedgen" gguf "$SEEDS"
    [[ -f $TESTDATA/tiny-gemma.gguf ]] && cp "$TESTDATA/tiny-gemma.gguf" "$SEEDS/"
    if [[ -n $QKBENCH ]]; then
        "$QKBENCH" gen-model --preset tiny -o "$SEEDS/qkbench-tiny.gguf" >/dev/null ||
            echo "fuzz/run.sh: qkbench gen-model failed (seeds from seedgen only)" >&2
    fi
    ;;
experiment)
    "$OUT/seedgen" experiment "$SEEDS"
    cp "$ROOT"/experiments/*.ini "$SEEDS/"
    ;;
results)
    cp "$ROOT"/tests/data/*.json "$SEEDS/" 2>/dev/null || true
    find "$ROOT/results" -name '*.json' -size -1M -exec cp {} "$SEEDS/" \; 2>/dev/null || true
    if [[ -n $QKBENCH ]]; then
        run_dir=$OUT/seed-run
        mkdir -p "$run_dir/models"
        if QK_MODEL_DIR=$run_dir/models "$QKBENCH" run "$ROOT/experiments/smoke.ini" -o "$run_dir" \
            --quick --force >"$run_dir/run.log" 2>&1; then
            cp "$run_dir/smoke.json" "$SEEDS/smoke-run.json"
        else
            echo "fuzz/run.sh: qkbench run smoke.ini failed (see $run_dir/run.log)" >&2
        fi
    fi
    # small hand-made documents: the minimal accepted one, another schema version, a combined
    # results + roofline document (report reads both from one file when asked)
    cat >"$SEEDS/minimal.json" <<'EOF'
{"context": {"generator": "qkbench 0", "json_schema_version": 1}, "benchmarks": [], "complete": true}
EOF
    cat >"$SEEDS/schema2.json" <<'EOF'
{"context": {"generator": "qkbench 0", "json_schema_version": 2}, "benchmarks": [], "complete": false}
EOF
    cat >"$SEEDS/two-records.json" <<'EOF'
{"context": {"generator": "qkbench 0", "json_schema_version": 1, "cpu_model": "x", "host_name": "h"},
 "benchmarks": [
  {"name": "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact", "run_type": "iteration",
   "real_time": 1.5, "time_unit": "ms"},
  {"name": "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact", "run_type": "iteration",
   "real_time": 1500, "time_unit": "us"},
  {"name": "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact_median",
   "run_name": "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact", "run_type": "aggregate",
   "aggregate_name": "median", "real_time": 1.5, "time_unit": "ms"},
  {"name": "forward/parse-per-block/scalar/t:1/seq:5/act:token/bind:compact", "run_type": "iteration",
   "error_occurred": true, "error_message": "skipped: test"}],
 "comparisons": [{"name": "forward/zero-copy/scalar/t:1/seq:5/act:token/bind:compact",
   "baseline": "forward/parse-per-block/scalar/t:1/seq:5/act:token/bind:compact", "ratio": 0.5,
   "ci_lo": 0.4, "ci_hi": 0.6}],
 "complete": false}
EOF
    if command -v python3 >/dev/null && [[ -f $ROOT/tests/data/results-small.json &&
        -f $ROOT/tests/data/roofline-small.json ]]; then
        python3 - "$ROOT/tests/data/results-small.json" "$ROOT/tests/data/roofline-small.json" \
            "$SEEDS/results-and-roofline.json" <<'EOF' || true
import json, sys
r = json.load(open(sys.argv[1]))
f = json.load(open(sys.argv[2]))
for k, v in f.items():
    if k != "context":
        r.setdefault(k, v)
json.dump(r, open(sys.argv[3], "w"))
EOF
    fi
    ;;
esac
# new seeds join the corpus (names are content hashes, as libFuzzer's own)
for f in "$SEEDS"/*; do
    [[ -f $f ]] || continue
    cp "$f" "$CORPUS/$(sha1sum "$f" | cut -c1-40)"
done

OPTS=(-max_total_time="$SECONDS_" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
      -artifact_prefix="$CRASHES/")
[[ -f $ROOT/fuzz/$TARGET.dict ]] && OPTS+=(-dict="$ROOT/fuzz/$TARGET.dict")
[[ $TARGET == results ]] && OPTS+=(-close_fd_mask=3) # compare and report print

before=$(find "$CRASHES" -type f | wc -l)
echo "fuzz/run.sh: $BIN for ${SECONDS_}s, corpus $CORPUS ($(find "$CORPUS" -type f | wc -l) inputs), log $LOG" >&2
set +e
nice -n 10 "$BIN" "${OPTS[@]}" "$@" "$CORPUS" >"$LOG" 2>&1
status=$?
set -e

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -1)
final=$(grep -E '^#[0-9]+' "$LOG" | grep -E 'cov: [0-9]+' | tail -1 || true)
cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$final")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")
rate=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$final")
corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$final")
echo "target:      $TARGET"
echo "seconds:     $SECONDS_"
echo "executions:  ${execs:-unknown} (${rate:-?} exec/s at the end)"
echo "coverage:    cov ${cov:-?} ft ${ft:-?} (corpus ${corp:-?})"
echo "final line:  ${final:-none}"
after=$(find "$CRASHES" -type f | wc -l)
if ((status != 0 || after > before)); then
    echo "crashes:     libFuzzer exit status $status; files in $CRASHES:"
    find "$CRASHES" -type f -printf '  %p (%s bytes)\n'
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|fuzz_.*invariant)' "$LOG" | head -5 | sed 's/^/  /'
    exit 1
fi
echo "crashes:     none"
