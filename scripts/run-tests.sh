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

# Tests run $TEST_JOBS at a time (default 2: this project's machines have
# two cores, and most integration tests spend their time waiting for
# speech to be spoken and answered). An integration test whose figures or
# deadlines would suffer from a neighbour says so with a line
# "# test: alone" (a line of its own), and runs by itself, after the others.
# Each result line is printed when its test ends.
JOBS=${TEST_JOBS:-2}
running=()

key() { echo "$1" | tr '/' '_'; }

start_one() {  # name, timeout seconds, command...
    local name=$1 limit=$2; shift 2
    local k; k=$(key "$name")
    rm -f "$logdir/$k.result"
    (
        t0=$EPOCHREALTIME
        timeout -k 5 "$limit" "$@" >"$logdir/$k.log" 2>&1
        rc=$?
        echo "$rc $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" > "$logdir/$k.result.tmp"
        mv "$logdir/$k.result.tmp" "$logdir/$k.result"
    ) &
    running+=("$name")
}

report() {  # name: its result line, counted
    local name=$1 k rc dt
    k=$(key "$name")
    read -r rc dt < "$logdir/$k.result"
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1)); printf 'PASS %-40s %6.2fs\n' "$name" "$dt"
    elif [ "$rc" -eq 77 ] && [ $strict -eq 0 ]; then
        skip=$((skip + 1)); skipped="$skipped $name"
        printf 'SKIP %-40s (not run here: see below)\n' "$name"
        grep -E '^(SKIP|skip)' "$logdir/$k.log" | sed 's/^/    | /'
    else
        [ "$rc" -eq 77 ] && echo "    | $name skipped a part although running as root or in CI, where everything must run:"
        fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL %-40s (rc=%d, %.2fs)\n' "$name" "$rc" "$dt"
        tail -n 40 "$logdir/$k.log" | sed 's/^/    | /'
    fi
}

reap() {  # waits until fewer than $1 tests run, reporting those that ended
    while [ ${#running[@]} -ge "$1" ] && [ ${#running[@]} -gt 0 ]; do
        wait -n 2>/dev/null
        local still=() n
        for n in "${running[@]}"; do
            if [ -e "$logdir/$(key "$n").result" ]; then report "$n"; else still+=("$n"); fi
        done
        running=("${still[@]}")
    done
}

run_one() {  # name, timeout seconds, command...: in the pool
    reap "$JOBS"
    start_one "$@"
}

for t in "$@"; do
    run_one "unit/${t#$BUILD/tests/}" 300 "$t"
done

if [ $unit_only -eq 0 ]; then
    alone=()
    for t in tests/*.sh; do
        [ -e "$t" ] || continue
        if grep -q '^# test: alone' "$t"; then alone+=("$t"); continue; fi
        run_one "integration/$(basename "$t" .sh)" 600 bash "$t"
    done
    for t in "${alone[@]}"; do
        reap 1
        run_one "integration/$(basename "$t" .sh)" 600 bash "$t"
        reap 1
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
reap 1

[ -n "$failed" ] && echo "failed:$failed"
if [ -n "$skipped" ]; then
    echo "*** SKIPPED (not run on this machine, see above):$skipped"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
