#!/bin/bash
# Runs the unit test binaries given as arguments, then every integration test
# tests/*.sh (unless --unit-only), then a short run of every fuzz target.
# Prints one line per test and a closing "N passed, N failed" line.
set -u
BUILD=${BUILD:-build}
export BUILD
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logdir="$BUILD/test-logs"
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; failed=""

run_one() {  # name, timeout seconds, command...
    local name=$1 limit=$2; shift 2
    local log="$logdir/$(echo "$name" | tr '/' '_').log"
    local t0=$EPOCHREALTIME
    timeout -k 5 "$limit" "$@" >"$log" 2>&1
    local rc=$?
    local dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf 'PASS %-40s %6.2fs\n' "$name" "$dt"
    else
        fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL %-40s (rc=%d)\n' "$name" "$rc"
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
}

for t in "$@"; do
    run_one "unit/${t#$BUILD/tests/}" 300 "$t"
done

if [ $unit_only -eq 0 ]; then
    for t in tests/*.sh; do
        [ -e "$t" ] || continue
        run_one "integration/$(basename "$t" .sh)" 600 bash "$t"
    done
    if [ -z "${VOXMESH_ASAN:-}" ]; then
        for f in "$BUILD"/fuzz/*; do
            [ -x "$f" ] || continue
            n=$(basename "$f")
            corpus="fuzz/corpus/$n"
            mkdir -p "$logdir/corpus-$n"
            seeds=""; [ -d "$corpus" ] && seeds="$corpus"
            run_one "fuzz/$n" 120 "$f" -max_total_time=${FUZZ_SECONDS:-10} -rss_limit_mb=2048 \
                "$logdir/corpus-$n" $seeds
        done
    fi
fi

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
