# The mesh across hosts over tcp: two network namespaces made for this test
# (host A and host B, joined by a veth pair on a private /24 of their own).
# Host A runs the bus, the edge, the codec and the VAD (`voxmesh up`); host B
# runs the parrot step (`voxmesh up` with `external = true`: the bus is on A).
# A caller on host A must hear the echo that host B made.
. "$(dirname "$0")/testlib.bash"

two_hosts 10.213.$((RANDOM % 250))
ok "hosts: A $NET.1, B $NET.2 (namespaces $A, $B)"

PORT=$(free_port)
cat > "$T/hostA" <<G
bus
    pub = tcp://$NET.1:7711
    sub = tcp://$NET.1:7712
services
    edge
        settings
            listen = 127.0.0.1:$PORT
    codec
        settings
            rate = 48000
    vad
        settings
            barge-in = false
    parrot
        remote = true
G
cat > "$T/hostB" <<G
bus
    pub = tcp://$NET.1:7711
    sub = tcp://$NET.1:7712
    external = true
services
    edge
        remote = true
    codec
        remote = true
    vad
        remote = true
    parrot
G
ip netns exec "$A" "$BIN/voxmesh" up "$T/hostA" > "$T/a.out" 2>&1 &
PIDS+=($!)
sleep 0.5
ip netns exec "$B" "$BIN/voxmesh" up "$T/hostB" > "$T/b.out" 2>&1 &
PIDS+=($!)
wait_for "$T/b.out" "voxmesh: ready" 20 || fail "host B did not come up"
ok "host B: $(grep -m1 'voxmesh: ready' "$T/b.out")"
# Host A is ready only when every subscription is live on its bus,
# the parrot's on host B included.
wait_for "$T/a.out" "voxmesh: ready" 20 || fail "host A did not become ready (the parrot on B never subscribed?)"
ok "host A: $(grep -m1 'voxmesh: ready' "$T/a.out")"
grep -q "started parrot" "$T/a.out" && fail "host A started the remote parrot itself"
ok "host A did not start the parrot: it is host B's"

flite -t "Across two hosts and back again." -o "$T/s.wav" || fail "flite failed"
sox "$T/s.wav" -r 48000 "$T/in.wav" pad 0.3 0.3 || fail "sox failed"
bytes0=$(ip -n "$B" -s link show "$VB" | awk '/RX:/{getline; print $1}')
ip netns exec "$A" "$BIN/voxmesh-client" --url "http://127.0.0.1:$PORT" --in "$T/in.wav" --out "$T/reply.wav" \
    --tail-ms 1000 > "$T/client.json" 2> "$T/client.err" || { cat "$T/client.err"; fail "the client failed"; }
bytes1=$(ip -n "$B" -s link show "$VB" | awk '/RX:/{getline; print $1}')
cmp=$("$BIN/voxmesh-client" --compare "$T/in.wav" "$T/reply.wav")
peak=$(echo "$cmp" | sed -n 's/.*"window_peak":\([0-9.]*\).*/\1/p')
awk -v p="$peak" 'BEGIN { exit !(p > 0.6) }' || fail "the reply is not the echo: $cmp"
ok "the caller on A heard B's echo: $cmp"
[ $((bytes1 - bytes0)) -gt 100000 ] || fail "only $((bytes1 - bytes0)) bytes reached host B"
ok "$(( (bytes1 - bytes0) / 1024 )) KiB of audio events went to host B over tcp"
