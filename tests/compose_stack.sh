# deploy/docker-compose.yml run the way Docker would run it, without Docker:
# each container is a network namespace of its own on a bridge (made here,
# addresses only inside these namespaces), where the name "bus" resolves to
# the bus container (a private /etc/hosts), with HOSTNAME set to a container
# id, the command and entrypoint exactly as the file says ($$ read as $),
# the programs found on PATH as in the image and the tree as the working
# directory (the image's WORKDIR mirrors it). So the file's commands are
# proven to make a working stack over tcp: the check passes, every service
# reaches the bus by name, a caller on the bridge talks to the agent over
# WHIP and hears the answer, metrics answer from another namespace, and a
# further STT container (`--scale`) joins under a name of its own.
. "$(dirname "$0")/testlib.bash"
cd "$TOP" || fail "no source tree"
python3 -c 'import yaml' 2>/dev/null || fail "python3 with PyYAML (python3-yaml, scripts/setup.sh) is needed"
COMPOSE=${COMPOSE:-deploy/docker-compose.yml}   # another file of the same tree, for a manual run

NET=10.215.$((RANDOM % 250)); SW=vmsw-$RUN_ID; NSES=()
stack_cleanup() {
    cleanup
    for ns in "${NSES[@]:-}"; do [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null; done
    ip netns del "$SW" 2>/dev/null
}
trap stack_cleanup EXIT
ip netns add "$SW" || fail "cannot make network namespaces (needs root)"
ip -n "$SW" link add br0 type bridge && ip -n "$SW" link set br0 up || fail "cannot make the bridge"

# container NAME INDEX: a namespace on the bridge at $NET.INDEX, in $CNS.
container() {
    local ns=vmc$2-$RUN_ID a=vc$2x$$ b=vs$2x$$
    ip netns add "$ns" || return 1
    NSES+=("$ns")
    CNS=$ns
    ip link add "$a" type veth peer name "$b" && ip link set "$a" netns "$ns" && ip link set "$b" netns "$SW" \
        && ip -n "$SW" link set "$b" master br0 && ip -n "$SW" link set "$b" up \
        && ip -n "$ns" addr add "$NET.$2/24" dev "$a" && ip -n "$ns" link set "$a" up && ip -n "$ns" link set lo up \
        || return 1
}
BUS_IP=$NET.2
printf '127.0.0.1 localhost\n%s bus\n' "$BUS_IP" > "$T/hosts"
# run NS HOSTNAME ARGV...: ARGV in the namespace, with the container's
# /etc/hosts and HOSTNAME. Every step execs, so that in a `( run ... ) &`
# the pid in PIDS is the program's own.
run() {
    local ns=$1 host=$2; shift 2
    exec ip netns exec "$ns" unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T/hosts" \
        env -i PATH="$BIN:/usr/bin:/bin" HOSTNAME="$host" VOXMESH_RUNTIME_DIR="$VOXMESH_RUNTIME_DIR/$host" "$@"
}
# The file's argv per service (entrypoint + command, $$ -> $), NUL-separated.
argv_of() {
    python3 - "$COMPOSE" "$1" <<'PY'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))["services"][sys.argv[2]]
args = [a.replace("$$", "$") for a in s.get("entrypoint", []) + s["command"]]
sys.stdout.write("\0".join(args))
PY
}
# "SERVICE REPLICAS" per line, in the file's order.
mapfile -t SERVICES < <(python3 -c 'import sys, yaml
for n, s in yaml.safe_load(open(sys.argv[1]))["services"].items(): print(n, s.get("deploy", {}).get("replicas", 1))' "$COMPOSE")
[ "${SERVICES[0]}" = "check 1" ] && [ "${SERVICES[1]}" = "bus 1" ] || fail "expected the check and bus containers first: ${SERVICES[*]}"

# check: a container of its own, to completion, before anything starts.
mapfile -d '' -t A < <(argv_of check)
container check 10 || fail "cannot make the check container"
(run "$CNS" c0000000000a "${A[@]}") > "$T/check.out" 2>&1 || { cat "$T/check.out"; fail "the check container failed"; }
ok "check container: $(grep -m1 ': ok:' "$T/check.out")"

# Every other container: as many as the file's deploy.replicas (default 1).
start() {  # SERVICE INDEX HOSTNAME
    container "$1" "$2" || fail "cannot make the $1 container"
    mapfile -d '' -t A < <(argv_of "$1")
    (run "$CNS" "$3" "${A[@]}") > "$T/$1-$3.out" 2>&1 &
    PIDS+=($!)
}
start bus 2 c000000000b0
BUS_NS=$CNS
i=11
declare -A IP_OF
NAMES=()       # SERVICE.HOSTNAME of every service container
for line in "${SERVICES[@]:2}"; do
    read -r s n <<< "$line"
    for _ in $(seq 1 "$n"); do     # deploy.replicas containers, as `up` starts them
        host=$(printf 'c0ffee%06d' $i)
        [ -n "${IP_OF[$s]:-}" ] || IP_OF[$s]=$NET.$i
        start "$s" $i "$host"
        NAMES+=("$s.$host")
        i=$((i + 1))
    done
done
EDGE_IP=${IP_OF[edge]}

# The monitor, next to the bus (in its container: `voxmesh mon` finds the
# bus there by itself), sees every container's health under its own name.
(run "$BUS_NS" c000000000b0 voxmesh mon --json health.) > "$T/mon.out" 2>&1 &
PIDS+=($!)
for name in "${NAMES[@]}"; do
    wait_for "$T/mon.out" "\"$name\"" 40 || { tail -n 5 "$T/${name%%.*}-${name#*.}.out"; fail "no health from $name over tcp://bus"; }
done
ok "every container reached tcp://bus by name and reports as SERVICE.HOSTNAME: ${NAMES[*]}"

# A caller on the bridge (another host, as a browser reaching the container).
container caller 250 || fail "cannot make the caller's namespace"
CALLER=$CNS
in_caller() { ip netns exec "$CALLER" "$@"; }
for _ in $(seq 1 100); do in_caller curl -s -o /dev/null "http://$EDGE_IP:8080/" && break; sleep 0.2; done
in_caller curl -sf -o /dev/null "http://$EDGE_IP:8080/" || fail "the edge does not answer on $EDGE_IP:8080"
for s in "${!IP_OF[@]}"; do
    in_caller curl -sf "http://${IP_OF[$s]}:9100/metrics" > "$T/metrics-$s" || fail "no metrics from $s on ${IP_OF[$s]}:9100"
    grep -q '^voxmesh_' "$T/metrics-$s" || fail "the metrics of $s are not ours"
done
ok "metrics answer on :9100 of every service container, from another namespace"

flite -voice slt -t "Hello, what is your name?" -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/q1.wav" pad 0.5 1.5
in_caller "$BIN/voxmesh-client" --url "http://$EDGE_IP:8080" --bind "$NET.250" --in "$T/q1.wav" --tail-ms 9000 --out "$T/r1.wav" \
    > "$T/c1.json" 2> "$T/c1.err" || { cat "$T/c1.err"; fail "the WHIP client failed against the edge container"; }
heard=$("$BIN/voxmesh-stt" --log-level=warn --transcribe="$T/r1.wav" | cut -f2)
for w in name run yourself; do
    [[ " $heard " == *" $w "* ]] || fail "the reply over the containers' bus does not say what the rules promise: heard \"$heard\""
done
ok "WHIP from the caller's namespace: asked \"Hello, what is your name?\", heard \"$heard\""

# `--scale stt=N+1`: one more container of the same service joins, named apart.
start stt 99 c0ffee000099
wait_for "$T/mon.out" '"stt.c0ffee000099"' 40 || fail "the added stt container did not report"
(run "$BUS_NS" c000000000b0 voxmesh mon --json health.) > "$T/mon2.out" 2>&1 &
PIDS+=($!)
for name in "${NAMES[@]}" stt.c0ffee000099; do
    if [[ $name == stt.* ]]; then
        wait_for "$T/mon2.out" "\"$name\"" 10 || fail "$name stopped reporting after another stt joined"
    fi
done
ok "one more stt container joined as stt.c0ffee000099; every stt still reports under its own name"
echo "compose_stack: all ok"
