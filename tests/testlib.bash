# Shared helpers for the integration tests (sourced). Every server binds to
# 127.0.0.1 or an abstract ipc socket unique to this test run.
set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$TOP/$BUILD/bin
# For tests that run make themselves (make install): the same flags as the
# tree under test, so that nothing is rebuilt without the sanitizers under
# `make asan`.
MAKE_SAN=${VOXMESH_ASAN:+SAN=1 OPT=-O1}
T=$(mktemp -d /tmp/voxmesh-test.XXXXXX)
RUN_ID=$$-$RANDOM
# Running stacks are recorded here (services/voxmesh/registry.h), apart from
# any stack a user runs on this machine.
export VOXMESH_RUNTIME_DIR=$T/run
PIDS=()

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }

# wait_for FILE PATTERN SECONDS: waits until PATTERN appears in FILE.
wait_for() {
    local file=$1 pat=$2 secs=${3:-20} i=0
    while [ $i -lt $((secs * 10)) ]; do
        grep -q -- "$pat" "$file" 2>/dev/null && return 0
        sleep 0.1; i=$((i + 1))
    done
    echo "--- $file:"; tail -n 30 "$file"
    return 1
}

# free_port: a TCP port nobody listens on right now.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        ss -ltn 2>/dev/null | grep -q ":$p " || { echo $p; return; }
    done
}

# make_graph SRC DST: a copy of a shipped graph on this run's own bus and port
# (and its metrics endpoints on free ports: the targets file says which;
# with VOXMESH_TEST_DIRECT=1, on a direct bus).
make_graph() {
    local port=${EDGE_PORT:-$(free_port)}
    sed -e "s|ipc://@voxmesh-[a-z-]*\.pub|ipc://@vm-$RUN_ID.pub|; s|ipc://@voxmesh-[a-z-]*\.sub|ipc://@vm-$RUN_ID.sub|" \
        -e "s|listen = 127.0.0.1:[0-9]*|listen = 127.0.0.1:$port|" \
        -e "s|^\(    port = \)[0-9]*|\10|" "$1" > "$2"     # metrics: any free ports
    # VOXMESH_TEST_DIRECT=1: the same test over the direct data plane (docs/bus.md)
    [ "${VOXMESH_TEST_DIRECT:-0}" = 1 ] && sed -i "s|^\(    sub = .*\)|\1\n    direct = true|" "$2"
    echo "$port"
}

# two_hosts NET_PREFIX: hosts A and B for this test, network namespaces
# joined by a veth pair on the private NET_PREFIX.0/24 (A .1, B .2); sets
# A, B (namespaces), VA, VB (their link ends) and NET, and removes them at
# exit. Fails the test when namespaces cannot be made.
two_hosts() {
    A=vmA-$RUN_ID; B=vmB-$RUN_ID; NET=$1; VA=vxa$$; VB=vxb$$
    trap 'cleanup; ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null' EXIT
    ip netns add "$A" && ip netns add "$B" || fail "cannot make network namespaces (needs root)"
    ip link add "$VA" type veth peer name "$VB" && ip link set "$VA" netns "$A" && ip link set "$VB" netns "$B" \
        || fail "cannot make the veth pair"
    ip -n "$A" addr add "$NET.1/24" dev "$VA" && ip -n "$B" addr add "$NET.2/24" dev "$VB"
    for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
    ip -n "$A" link set "$VA" up && ip -n "$B" link set "$VB" up || fail "cannot bring the link up"
}
