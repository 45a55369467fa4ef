# Echo round trip of the parrot stack against Janus's echotest plugin (Debian's
# janus package), measured by one headless Chromium in one run: the issue's
# target is voxmesh within 5 ms of Janus, and the mesh itself (edge in -> edge
# out) under 5 ms p50. Method and figures: docs/bench-echo.md.
#   bash bench/echo_latency.sh      (after make build; BUILD=... for another tree)
#   ECHO_CALLS=4 ECHO_SECONDS=6     calls per server (alternating), recording seconds per call
# Everything runs in a private network namespace (unshare -n: only lo), like
# tests/browser.sh. Exit 0 when the figures were measured (targets met or not);
# 1 when something could not be measured at all (the reason is printed).
set -u
if [ "${1:-}" != "--in-netns" ]; then
    if [ "${VOXMESH_NO_NETNS:-}" != 1 ] && unshare -n true 2>/dev/null; then
        exec unshare -n -- bash "$0" --in-netns
    fi
    echo "note: unshare -n is not available here: running on the host's loopback instead of a private namespace"
    NETNS=0
else
    ip link set lo up || { echo "FAIL: cannot bring lo up in the namespace"; exit 1; }
    # Janus gathers no candidate on a loopback interface (bench/janus/janus.jcfg):
    # give it a local address on a veth pair, inside this namespace only.
    ip link add vxb0 type veth peer name vxb1 && ip addr add 198.18.0.1/32 dev vxb0 \
        && ip link set vxb1 up && ip link set vxb0 up \
        || { echo "FAIL: cannot make the veth pair Janus needs in the namespace"; exit 1; }
    NETNS=1
fi

. "$(dirname "$0")/../tests/testlib.bash"
CALLS=${ECHO_CALLS:-4}
SECONDS_PER_CALL=${ECHO_SECONDS:-6}

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (scripts/setup.sh installs it)"
[ -d "$TOP/tests/browser/node_modules/playwright-core" ] || fail "playwright-core is missing: scripts/setup.sh runs npm install in tests/browser"
for t in node sox flite curl ip; do command -v $t > /dev/null || fail "$t is missing (scripts/setup.sh installs it)"; done
command -v janus > /dev/null || fail "janus is missing: the baseline needs Debian's janus package (apt-get install janus)"
[ -x "$BIN/voxmesh" ] || fail "$BIN/voxmesh is missing: run make build"
echo "janus: $(janus --version 2>/dev/null | sed -n 's/^Janus version: //p' | head -1) ($(dpkg-query -W -f '${Version}' janus 2>/dev/null || echo '?')), chromium: $("$CHROMIUM" --version 2>/dev/null | head -1)"
[ $NETNS = 1 ] && echo "private network namespace: $(ip -br addr show | awk '{printf "%s %s ", $1, $3}')"

# The microphone: the browser test's signal (speech and sweeps with gaps, ~6 s,
# looped by the fake device; the loop is far longer than the 500 ms lag window).
flite -t "Voxmesh parrot test. Seven, three, nine, four." -o "$T/speech.wav" || fail "flite failed"
sox "$T/speech.wav" -r 48000 -c 1 -b 16 "$T/speech48.wav" norm -3 || fail "sox failed"
sox -n -r 48000 -c 1 -b 16 "$T/up.wav" synth 0.5 sine 300-3000 vol 0.5
sox -n -r 48000 -c 1 -b 16 "$T/down.wav" synth 0.3 sine 2500-500 vol 0.5
sox -n -r 48000 -c 1 -b 16 "$T/gap.wav" trim 0 0.25
sox "$T/gap.wav" "$T/speech48.wav" "$T/gap.wav" "$T/up.wav" "$T/gap.wav" "$T/down.wav" "$T/gap.wav" "$T/mic.wav" \
    || fail "sox could not make the test signal"

# voxmesh: the parrot graph on this run's own bus names and a free port.
export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/parrot" "$T/parrot" > /dev/null
"$BIN/voxmesh" up "$T/parrot" > "$T/up.out" 2>&1 &
PIDS+=($!)

# Janus: bench/janus/ copied to a temp folder with a free HTTP port.
JANUS_PORT=$(free_port)
while [ "$JANUS_PORT" = "$EDGE_PORT" ]; do JANUS_PORT=$(free_port); done
mkdir -p "$T/janus"
cp "$TOP"/bench/janus/*.jcfg "$T/janus/"
sed -i "s/^\(\s*port = \)[0-9]*/\1$JANUS_PORT/" "$T/janus/janus.transport.http.jcfg"
[ $NETNS = 1 ] || sed -i '/^\s*ice_enforce_list/d' "$T/janus/janus.jcfg"
janus -C "$T/janus/janus.jcfg" -F "$T/janus" -o > "$T/janus.out" 2>&1 &
JPID=$!
PIDS+=($JPID)

wait_for "$T/up.out" "voxmesh: ready" 30 || fail "the parrot stack did not become ready"
echo "voxmesh: parrot stack on 127.0.0.1:$EDGE_PORT ($(grep -m1 'voxmesh: ready' "$T/up.out" | sed 's/.*ready: //'))"
ready=0
for _ in $(seq 100); do
    kill -0 $JPID 2>/dev/null || break
    if curl -sf -m 1 "http://127.0.0.1:$JANUS_PORT/janus/info" > "$T/janus-info.json" 2>/dev/null; then ready=1; break; fi
    sleep 0.1
done
if [ $ready != 1 ]; then
    echo "--- janus (last lines):"; tail -n 25 "$T/janus.out"
    fail "Janus did not start (its HTTP API on 127.0.0.1:$JANUS_PORT never answered)"
fi
grep -q '"janus.plugin.echotest"' "$T/janus-info.json" || fail "Janus runs without janus.plugin.echotest: $(head -c 300 "$T/janus-info.json")"
plugins=$(grep -o 'Loading plugin .[a-z_.]*' "$T/janus.out" | sed "s/Loading plugin .//" | tr '\n' ' ')
transports=$(grep -o 'Loading transport plugin .[a-z_.]*' "$T/janus.out" | sed "s/Loading transport plugin .//" | tr '\n' ' ')
echo "janus: HTTP API on 127.0.0.1:$JANUS_PORT/janus, plugins loaded: ${plugins:-?}, transports: ${transports:-?}"

# The bus's view of the same calls: `voxmesh mon --stats` gives, every second,
# the end-to-end latency of audio.out.opus (edge in -> codec out, before the
# edge's pacer), to set beside the edge's histogram (edge in -> RTP out).
"$BIN/voxmesh" mon --bus "ipc://@vm-$RUN_ID.sub" --stats audio.out.opus. > "$T/mon.out" 2>&1 &
PIDS+=($!)

mkdir -p "$T/out"
expect=""; [ $NETNS = 1 ] && expect="--local-addrs 127.0.0.1,198.18.0.1"
echo "$CALLS calls per server, alternating voxmesh / Janus, ${SECONDS_PER_CALL} s recorded per call"
setsid node "$TOP/bench/echo_latency.mjs" --voxmesh "http://127.0.0.1:$EDGE_PORT/" \
    --janus "http://127.0.0.1:$JANUS_PORT/janus" --wav "$T/mic.wav" --calls "$CALLS" \
    --seconds "$SECONDS_PER_CALL" --out "$T/out" $expect > "$T/bench.out" 2>&1 &
NODE=$!
PIDS+=(-$NODE)
wait $NODE; rc=$?
cat "$T/bench.out"
kill -KILL -$NODE 2>/dev/null
# Seconds with voxmesh traffic: median and range of their e2e p50.
awk '$1 == "audio.out.opus." && $2 + 0 > 20 && $6 ~ /ms$/ { v = $6; sub(/ms$/, "", v); print v + 0 }' "$T/mon.out" \
    | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "voxmesh on the bus (voxmesh mon: edge in -> codec out, before the edge pacer): e2e p50 per second: median %.2f ms, %.2f..%.2f ms over %d s\n", a[int((NR + 1) / 2)], a[1], a[NR], NR;
        else print "voxmesh on the bus: no audio.out.opus seen by voxmesh mon" }'

# Anything the servers complained about during the run is worth seeing beside the figures.
warn=$(grep -E ": (error|fatal|warning):|killed by signal|exited with status [1-9]" "$T/up.out" | grep -v "no other service subscribes")
[ -n "$warn" ] && { echo "--- voxmesh logged:"; echo "$warn" | head -n 10; }
jerr=$(grep -E "\[ERR\]" "$T/janus.out")
[ -n "$jerr" ] && { echo "--- janus logged:"; echo "$jerr" | head -n 10; }
if [ $rc -ne 0 ]; then
    keep=$TOP/$BUILD/bench-logs/echo_latency
    mkdir -p "$keep" && cp "$T"/out/*.wav "$T/mic.wav" "$T/up.out" "$T/janus.out" "$keep/" 2>/dev/null
    echo "--- voxmesh up (last lines):"; tail -n 10 "$T/up.out"
    echo "--- janus (last lines):"; tail -n 10 "$T/janus.out"
    fail "the echo comparison could not be measured (rc $rc; recordings and logs in $keep)"
fi
exit 0
