#!/usr/bin/env bash
# CI's fuzz run (scripts/test.sh): builds every fuzz target (fuzz/build.sh), then runs each for
# QK_FUZZ_SECONDS (default 15) with fuzz/run.sh on the committed seeds only (fuzz/seeds/NAME/) and a
# fresh corpus in build/fuzz/smoke/, under ASan + UBSan. Prints each target's executions and final
# cov/ft (the targets run side by side, one per CPU), then one line per target and "fuzz: N passed, N failed". Exit status 1 when any target
# found a crash, a leak, a timeout, an out-of-memory or a sanitizer report (its input and log are
# under build/fuzz/smoke/), else 0. Usage: fuzz/smoke.sh [TARGET...] (default: every fuzz/fuzz_*.c)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${QK_FUZZ_SECONDS:-15}
OUT=build/fuzz/smoke
fuzz/build.sh
built=$SECONDS
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for f in fuzz/fuzz_*.c; do
        f=${f##*/fuzz_}
        targets+=("${f%.c}")
    done
fi
rm -rf "$OUT"
mkdir -p "$OUT"
# the targets run side by side, one per CPU (each libFuzzer process uses one), so the whole smoke run
# takes about ceil(targets / CPUs) x QK_FUZZ_SECONDS
parallel=${QK_FUZZ_JOBS:-$(nproc)}
running=0
for t in "${targets[@]}"; do
    echo "== fuzz $t (${SECONDS_}s) ==" >&2
    (QK_FUZZ_OUT=$OUT QK_FUZZ_SEEDS=committed QK_FUZZ_BUILT=1 fuzz/run.sh "$t" "$SECONDS_" >"$OUT/$t.summary" 2>&1
     echo $? >"$OUT/$t.rc") &
    running=$((running + 1))
    if ((running >= parallel)); then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
passed=0 failed=0 summary=()
for t in "${targets[@]}"; do
    rc=$(cat "$OUT/$t.rc" 2>/dev/null || echo 1)
    echo "== fuzz $t ==" >&2
    sed 's/^/  /' "$OUT/$t.summary"
    line=$(printf '%-14s %s; %s' "$t" "$(sed -n 's/^executions: *//p' "$OUT/$t.summary")" \
        "$(sed -n 's/^coverage: *//p' "$OUT/$t.summary")")
    if ((rc == 0)); then
        passed=$((passed + 1)) summary+=("PASS $line")
    else
        failed=$((failed + 1)) summary+=("FAIL $line (log: $OUT/$t.log)")
        # the tail of libFuzzer's log: the report and the input
        tail -40 "$OUT/$t.log" | sed 's/^/  | /'
    fi
done
printf '%s\n' "${summary[@]}"
echo "fuzz time: build ${built}s, runs $((SECONDS - built))s"
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
