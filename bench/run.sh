#!/bin/bash
# make bench: every benchmark, each printing its figures beside a baseline
# measured in the same run.
set -eu
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
for b in "$BUILD"/bench/*_bench; do   # (other programs there are drivers of the .sh benchmarks)
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b"
    echo
done
for s in bench/*.sh; do
    [ -e "$s" ] && [ "$s" != bench/run.sh ] || continue
    echo "== $(basename "$s" .sh)"
    BUILD=$BUILD bash "$s"
    echo
done
