# The direct data plane (docs/bus.md, "Direct"): the parrot graph with
# `direct = true` under bus and two VAD replicas. Checks that the graph check
# refuses what direct cannot do (CURVE, a bad value), that `voxmesh up`
# becomes ready from the services' direct connections, that a WHIP call is
# echoed, that `voxmesh mon` (on the proxy) still sees the events, that every
# subscriber — both VAD replicas included — receives each event exactly once
# (its received count equals what the monitor counted on its topics, no
# sequence gap), that the proxy no longer carries data nobody taps (its
# voxmesh_bus_forwarded_total), and that a
# killed replica, restarted on the same endpoint, is reconnected to.
. "$(dirname "$0")/testlib.bash"

command -v jq > /dev/null || { echo "SKIP: no jq (scripts/setup.sh installs it)"; exit 77; }
command -v flite > /dev/null || { echo "SKIP: no flite (scripts/setup.sh installs it)"; exit 77; }
CLIENT=$BIN/voxmesh-client
flite -t "hello, this is a test of the direct bus. one two three four five." -o "$T/in.wav"

PORT=$(make_graph "$TOP/deploy/graphs/parrot" "$T/graph")
BUS_METRICS=$(free_port)
sed -i "s|^\(    sub = .*\)|\1\n    direct = true\n    metrics-port = $BUS_METRICS|" "$T/graph"
sed -i "s|^\(    vad\)$|\1\n        replicas = 2|" "$T/graph"
grep -q "direct = true" "$T/graph" && grep -q "replicas = 2" "$T/graph" || fail "could not edit the graph"

# ---- the check refuses what direct cannot do ---------------------------------------------
sed "s|direct = true|direct = maybe|" "$T/graph" > "$T/bad1"
"$BIN/voxmesh" check "$T/bad1" > "$T/bad1.out" 2>&1 && fail "check accepted 'direct = maybe'"
grep -q "direct must be true or false" "$T/bad1.out" || { cat "$T/bad1.out"; fail "no reason for 'direct = maybe'"; }
"$BIN/voxmesh" keygen "$T/keys" bus > /dev/null && "$BIN/voxmesh" keygen "$T/keys" host > /dev/null \
    || fail "keygen failed"
mkdir -p "$T/keys/auth" && cp "$T/keys/host.key" "$T/keys/auth/"
sed "s|^\(    direct = true\)|\1\n    curve\n        cert = keys/host.key_secret\n        server-key = keys/bus.key\n        server-cert = keys/bus.key_secret\n        authorized-keys = keys/auth|" \
    "$T/graph" > "$T/bad2"
"$BIN/voxmesh" check "$T/bad2" > "$T/bad2.out" 2>&1 && fail "check accepted direct with curve"
grep -q "direct = true cannot be used with curve" "$T/bad2.out" || { cat "$T/bad2.out"; fail "no reason for direct + curve"; }
ok "check refuses 'direct = maybe' and direct with curve: $(grep -o 'direct = true cannot.*yet' "$T/bad2.out")"

# ---- up: ready from the direct connections ------------------------------------------------
"$BIN/voxmesh" up "$T/graph" > "$T/up.out" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
wait_for "$T/up.out" "voxmesh: ready.*(direct)" 60 || fail "the direct parrot stack did not become ready"
n=$(grep -c "bus: direct: connected to all" "$T/up.out")
[ "$n" -eq 5 ] || fail "$n services reported their direct connections, not the 5 subscribers"
pgrep -f -- "--name=vad.1 .*--bus-bind=ipc://@vm-$RUN_ID.pub.vad.1 " > /dev/null \
    || fail "vad.1 does not bind its own endpoint: $(pgrep -af voxmesh-vad)"
pgrep -f -- "voxmesh-parrot .*--bus-direct=ipc://@vm-$RUN_ID.pub.edge,ipc://@vm-$RUN_ID.pub.codec( |$)" > /dev/null \
    || fail "parrot is not wired to edge and codec: $(pgrep -af voxmesh-parrot)"
ok "ready after 5 subscribers connected to their publishers directly"

targets=$T/run/targets/graph-$UP_PID.json
# metric INSTANCE METRIC: a counter from that replica's /metrics.
metric() {
    local ep
    ep=$(jq -r ".[] | select(.labels.name == \"$1\") | .targets[0]" "$targets")
    curl -s "http://$ep/metrics" | awk -v m="$2" '$1 == m { print $2 + 0; f = 1 } END { if (!f) print "none" }'
}

# fwd: how many events the bus proxy has forwarded to its subscribers.
fwd() { curl -s "http://127.0.0.1:$BUS_METRICS/metrics" | awk '$1 == "voxmesh_bus_forwarded_total" { print $2 + 0 }'; }

# ---- a call, with the monitor on the proxy ------------------------------------------------
"$BIN/voxmesh" mon --bus "ipc://@vm-$RUN_ID.sub" --json --seconds 60 audio.in.pcm. audio.out.opus. session. \
    > "$T/mon.out" 2>&1 &
MON=$!
PIDS+=($MON)
wait_for "$T/mon.out" handshake-succeeded 10 || fail "mon did not connect to the bus"
sleep 0.5
declare -A before
for i in parrot vad.0 vad.1; do before[$i]=$(metric $i voxmesh_bus_received_total); done
fwd0=$(fwd)
"$CLIENT" --url "http://127.0.0.1:$PORT" --transport whip --in "$T/in.wav" --out "$T/out.wav" --tail-ms 1500 \
    --timeout-ms 20000 > "$T/call.json" 2> "$T/call.err" || { cat "$T/call.err"; fail "the call failed"; }
"$CLIENT" --compare "$T/in.wav" "$T/out.wav" --max-lag-ms 1000 > "$T/call.cmp" || fail "compare failed"
peak=$(grep -o '"window_peak":[-0-9.]*' "$T/call.cmp" | cut -d: -f2)
awk "BEGIN { exit !($peak > 0.6) }" || fail "the reply is not the input: $(cat "$T/call.cmp")"
ok "WHIP call echoed over the direct bus: $(cat "$T/call.cmp")"
sleep 1
FWD_MON=$(( $(fwd) - fwd0 ))
kill -TERM $MON; wait $MON 2> /dev/null || true
pcm=$(grep -c '"topic":"audio.in.pcm.' "$T/mon.out" || true)
opus=$(grep -c '"topic":"audio.out.opus.' "$T/mon.out" || true)
sess=$(grep -c '"topic":"session.' "$T/mon.out" || true)
[ "$pcm" -ge 200 ] && [ "$opus" -ge 200 ] && [ "$sess" -ge 1 ] \
    || fail "mon saw $pcm audio.in.pcm., $opus audio.out.opus., $sess session. events"
ok "voxmesh mon (on the proxy) saw $pcm audio.in.pcm., $opus audio.out.opus., $sess session. events"

got=$(( $(metric parrot voxmesh_bus_received_total) - before[parrot] ))
[ "$got" -eq "$pcm" ] || fail "parrot received $got events for the $pcm audio.in.pcm. the monitor saw"
for v in vad.0 vad.1; do
    got=$(( $(metric $v voxmesh_bus_received_total) - before[$v] ))
    [ "$got" -eq $((pcm + opus + sess)) ] || fail "$v received $got events, the monitor saw $((pcm + opus + sess))"
done
for i in parrot vad.0 vad.1 codec edge; do
    g=$(metric $i voxmesh_bus_sequence_gaps_total)
    [ "$g" = 0 ] || fail "$i counted $g sequence gaps"
done
ok "each event once: parrot received $pcm, vad.0 and vad.1 $((pcm + opus + sess)) each, as many as the monitor saw; no gaps"

# ---- without a monitor, the proxy carries no audio ---------------------------------------
# It forwards only what its own subscribers ask for: up's health tap, health.
f0=$(fwd)
"$CLIENT" --url "http://127.0.0.1:$PORT" --transport ws --in "$T/in.wav" --out "$T/out2.wav" --tail-ms 500 \
    --timeout-ms 20000 > "$T/call2.json" 2> "$T/call2.err" || { cat "$T/call2.err"; fail "the ws call failed"; }
"$CLIENT" --compare "$T/in.wav" "$T/out2.wav" --max-lag-ms 1000 > "$T/call2.cmp" || fail "compare failed"
peak=$(grep -o '"window_peak":[-0-9.]*' "$T/call2.cmp" | cut -d: -f2)
awk "BEGIN { exit !($peak > 0.6) }" || fail "ws: the reply is not the input: $(cat "$T/call2.cmp")"
f1=$(fwd)
[ -n "$f0" ] && [ -n "$f1" ] || fail "no voxmesh_bus_forwarded_total on the bus's /metrics"
[ $((f1 - f0)) -lt 100 ] || fail "the proxy forwarded $((f1 - f0)) events during an unmonitored call"
[ "$FWD_MON" -ge $((pcm + opus)) ] || fail "the proxy forwarded only $FWD_MON events to the monitor"
ok "the proxy forwarded $FWD_MON events during the monitored call, $((f1 - f0)) (health) during an unmonitored one"

# ---- a killed replica comes back on its endpoint -------------------------------------------
old=$(pgrep -f -- "voxmesh-parrot --name=parrot ")
kill -KILL "$old"
wait_for "$T/up.out" "restarting in" 10 || fail "up did not restart parrot"
for i in $(seq 50); do
    new=$(pgrep -f -- "voxmesh-parrot --name=parrot " || true)
    [ -n "$new" ] && [ "$new" != "$old" ] && [ "$(grep -c 'parrot: info: bus: direct: connected' "$T/up.out")" -ge 2 ] && break
    sleep 0.2
done
[ "$(grep -c 'parrot: info: bus: direct: connected' "$T/up.out")" -ge 2 ] || fail "the new parrot did not connect"
sleep 0.5
"$CLIENT" --url "http://127.0.0.1:$PORT" --transport whip --in "$T/in.wav" --out "$T/out3.wav" --tail-ms 1500 \
    --timeout-ms 20000 > "$T/call3.json" 2> "$T/call3.err" || { cat "$T/call3.err"; fail "the call after the restart failed"; }
"$CLIENT" --compare "$T/in.wav" "$T/out3.wav" --max-lag-ms 1000 > "$T/call3.cmp" || fail "compare failed"
peak=$(grep -o '"window_peak":[-0-9.]*' "$T/call3.cmp" | cut -d: -f2)
awk "BEGIN { exit !($peak > 0.6) }" || fail "after the restart, the reply is not the input: $(cat "$T/call3.cmp")"
ok "parrot killed and restarted on its endpoint: the codec reconnected, the next call is echoed ($peak)"
kill -TERM $UP_PID; wait $UP_PID 2> /dev/null || true

# ---- over tcp: the direct endpoints on direct-port and up ---------------------------------
BP=$(free_port); BS=$(free_port); DP=$(free_port)
sed -e "s|ipc://@vm-$RUN_ID.pub|tcp://127.0.0.1:$BP|; s|ipc://@vm-$RUN_ID.sub|tcp://127.0.0.1:$BS|" \
    -e "/replicas = 2/d; /metrics-port = /d" "$T/graph" > "$T/tcp"
"$BIN/voxmesh" check "$T/tcp" > "$T/tcp-check.out" 2>&1 && fail "check accepted a direct tcp bus without direct-port"
grep -q "needs 'direct-port = N'" "$T/tcp-check.out" || { cat "$T/tcp-check.out"; fail "no reason for the missing direct-port"; }
sed -i "s|^\(    direct = true\)|\1\n    direct-port = $DP|" "$T/tcp"
"$BIN/voxmesh" up "$T/tcp" > "$T/tcp-up.out" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
wait_for "$T/tcp-up.out" "voxmesh: ready.*(direct)" 60 || fail "the direct tcp stack did not become ready"
pgrep -f -- "voxmesh-parrot .*--bus-bind=tcp://127.0.0.1:$((DP + 3)) --bus-direct=tcp://127.0.0.1:$DP,tcp://127.0.0.1:$((DP + 1))( |$)" \
    > /dev/null || fail "parrot is not wired over tcp: $(pgrep -af voxmesh-parrot)"
"$CLIENT" --url "http://127.0.0.1:$PORT" --transport ws --in "$T/in.wav" --out "$T/out4.wav" --tail-ms 500 \
    --timeout-ms 20000 > "$T/call4.json" 2> "$T/call4.err" || { cat "$T/call4.err"; fail "the tcp call failed"; }
"$CLIENT" --compare "$T/in.wav" "$T/out4.wav" --max-lag-ms 1000 > "$T/call4.cmp" || fail "compare failed"
peak=$(grep -o '"window_peak":[-0-9.]*' "$T/call4.cmp" | cut -d: -f2)
awk "BEGIN { exit !($peak > 0.6) }" || fail "tcp: the reply is not the input: $(cat "$T/call4.cmp")"
ok "over tcp: direct endpoints from direct-port $DP, ready, a WebSocket call echoed ($peak)"
ok "all direct bus checks passed"
