#!/bin/bash
# Runs the unit test binaries given as arguments, then every integration test
# tests/*.sh (unless --unit-only), then a short run of every fuzz target.
# Prints one line per test and a closing "N passed, N failed, N skipped" line.
#
# A test that exits 77 could not run here for lack of a capability (raw
# sockets, namespaces, a browser) and says why in its log: it is reported as
# SKIP, loudly. In CI (CI=true) or as root every capability is there, so a
# skip counts as a failure: a test must never pass CI by not running.
set -u
BUILD=${BUILD:-build}
export BUILD
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logdir="$BUILD/test-logs"
rm -rf "$logdir"; mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed=""; skipped=""
strict=0
if [ "${CI:-}" = true ] || [ "$(id -u)" -eq 0 ]; then strict=1; fi

run_one() {  # name, timeout seconds, command...
    local name=$1 limit=$2; shift 2
    local log="$logdir/$(echo "$name" | tr '/' '_').log"
    local t0=$EPOCHREALTIME
    timeout -k 5 "$limit" "$@" >"$log" 2>&1
    local rc=$?
    local dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf 'PASS %-40s %6.2fs\n' "$name" "$dt"
    elif [ $rc -eq 77 ] && [ $strict -eq 0 ]; then
        skip=$((skip + 1)); skipped="$skipped $name"
        printf 'SKIP %-40s (not run here: see below)\n' "$name"
        grep -E '^(SKIP|skip)' "$log" | sed 's/^/    | /'
    else
        [ $rc -eq 77 ] && echo "    | skipped a part although running as root or in CI, where everything must run:"
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
            run_one "fuzz/$n" 120 "$f" -max_total_time=${FUZZ_SECONDS:-5} -rss_limit_mb=2048 \
                "$logdir/corpus-$n" $seeds
        done
    fi
fi

[ -n "$failed" ] && echo "failed:$failed"
if [ -n "$skipped" ]; then
    echo "*** SKIPPED (not run on this machine, see above):$skipped"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
