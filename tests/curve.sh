# The bus across hosts over tcp with CURVE (docs/bus.md, "CURVE"), in two
# network namespaces made for this test (host A and host B on a veth pair
# and a private /24). Host A runs the bus (the CURVE server, with an
# authorised-keys directory), the edge, the codec, the VAD and the LLM;
# host B runs the STT and TTS workers. Every key comes from `voxmesh keygen`.
# - A question spoken to the edge on A is answered as the rules promise:
#   the audio went A -> B (STT) -> A (LLM) -> B (TTS) -> A, all over CURVE.
# - An intruder on B with a certificate the bus does not know gets nothing:
#   its monitor receives no event, its publications reach no subscriber;
#   the bus logs each refusal with the peer's address and counts it.
# - On the wire between the hosts: the ZMTP greeting says CURVE, and no
#   topic name appears in clear.
# - A worker host that drops off the network fails over like a killed
#   worker (docs/workers.md): an STT and a TTS worker started by hand on A
#   join (the dispatcher on A gives them new sessions at once); two callers
#   at once are spread over A's and B's workers; B's link goes down in the
#   middle of their questions; B's sessions move to A's workers and both
#   callers are answered, each question transcribed once.
. "$(dirname "$0")/testlib.bash"
cd "$TOP"

two_hosts 10.214.$((RANDOM % 250))
ok "hosts: A $NET.1, B $NET.2"

# Keys: the bus's, one per host, and an intruder's that nobody authorised.
K=$T/keys
for n in bus hostA hostB intruder; do
    "$BIN/voxmesh" keygen "$K" $n > "$T/keygen-$n.out" || fail "voxmesh keygen $K $n failed"
done
[ "$(stat -c %a "$K/hostA.key_secret")" = 600 ] || fail "the secret certificate is not mode 0600"
grep -q "authorized-keys" "$T/keygen-hostA.out" || fail "keygen does not say where the public key goes"
mkdir "$T/authorized" && cp "$K/hostA.key" "$K/hostB.key" "$T/authorized/"
ok "keys made with voxmesh keygen; hostA and hostB authorised, the intruder not"

PORT=$(free_port); MPORT=$(free_port)
# graph HOST CERT EXTERNAL: the agent stack's graph as HOST sees it.
graph() {
    local host=$1 cert=$2
    echo "bus"
    echo "    pub = tcp://$NET.1:7711"
    echo "    sub = tcp://$NET.1:7712"
    if [ "$host" = A ]; then
        echo "    metrics-port = $MPORT"
    else
        echo "    external = true"
    fi
    echo "    curve"
    echo "        cert = $K/$cert.key_secret"
    echo "        server-key = $K/bus.key"
    if [ "$host" = A ]; then
        echo "        server-cert = $K/bus.key_secret"
        echo "        authorized-keys = $T/authorized"
    fi
    # Each host runs its own services; the others are described and waited for.
    local here_a="" here_b=""
    [ "$host" = A ] && here_b="        remote = true" || here_a="        remote = true"
    cat <<G
services
    edge
$here_a
        settings
            listen = 127.0.0.1:$PORT
    codec
$here_a
    vad
$here_a
        settings
            barge-in = true
            preroll-ms = 400
    dispatch
$here_a
    llm
$here_a
        settings
            provider = rules
            rules = deploy/rules/agent.rules
    stt
$here_b
        settings
            lm-text = deploy/stt/agent.txt
            decoders = 1
    tts
$here_b
        settings
            provider = flite
            voice = slt
G
}
graph A hostA | grep -v '^$' > "$T/hostA"
graph B hostB | grep -v '^$' > "$T/hostB"
"$BIN/voxmesh" check "$T/hostA" > "$T/checkA.out" 2>&1 || { cat "$T/checkA.out"; fail "host A's graph does not check"; }

# What crosses the link, captured on A's side of it from before B connects.
ip netns exec "$A" python3 "$TOP/tests/sniff.py" "$VA" "$T/wire.bin" > "$T/sniff.out" 2>&1 &
PIDS+=($!)
wait_for "$T/sniff.out" "capturing" 5 || fail "the capture did not start"

ip netns exec "$A" "$BIN/voxmesh" up "$T/hostA" > "$T/a.out" 2>&1 &
PIDS+=($!)
wait_for "$T/a.out" "bus: metrics on" 10 || fail "host A's bus did not start"
ip netns exec "$B" "$BIN/voxmesh" up "$T/hostB" > "$T/b.out" 2>&1 &
PIDS+=($!)
wait_for "$T/b.out" "voxmesh: ready" 30 || fail "host B did not come up"
# A is ready only when the subscriptions of B's workers are live on its bus:
# they came over CURVE.
wait_for "$T/a.out" "voxmesh: ready" 30 || fail "host A did not become ready (B's workers never got through?)"
ok "host A: $(grep -m1 'voxmesh: ready' "$T/a.out")"
grep -q "CURVE on" "$T/a.out" || fail "host A's bus does not say CURVE is on"

# A monitor on A with A's certificate (found through the graph), and the
# intruder's monitor on B, with every topic.
ip netns exec "$A" "$BIN/voxmesh" mon --graph "$T/hostA" --json stt.final. llm.sentence. health. \
    > "$T/mon.out" 2> "$T/mon.err" &
PIDS+=($!)
ip netns exec "$B" "$BIN/voxmesh" mon --bus tcp://$NET.1:7712 --cert "$K/intruder.key_secret" --server-key "$K/bus.key" \
    --json > "$T/spy.out" 2> "$T/spy.err" &
PIDS+=($!)
wait_for "$T/mon.out" handshake-succeeded 10 || fail "the authorised monitor did not connect"
wait_for "$T/spy.err" "refused this monitor" 10 || fail "the intruder's monitor was not told it is refused"
ok "the intruder's monitor: $(head -1 "$T/spy.err")"

# The conversation.
flite -voice slt -t "Hello, what is your name?" -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/q.wav" pad 0.5 1.5 \
    || fail "flite or sox failed"
ip netns exec "$A" "$BIN/voxmesh-client" --url "http://127.0.0.1:$PORT" --in "$T/q.wav" --tail-ms 9000 \
    --out "$T/r.wav" > "$T/c.json" 2> "$T/c.err" || { cat "$T/c.err"; fail "the client failed"; }
heard=$("$BIN/voxmesh-stt" --log-level=warn --transcribe="$T/r.wav" | cut -f2)
for w in name run yourself; do
    [[ " $heard " == *" $w "* ]] || fail "the reply does not say what the rules promise: heard \"$heard\""
done
ok "asked \"Hello, what is your name?\" on A, heard \"$heard\" (STT and TTS on B)"
grep -q '"type":"stt_final"' "$T/mon.out" && grep -q '"type":"llm_sentence"' "$T/mon.out" \
    || fail "the authorised monitor did not see the conversation"
ok "the authorised monitor saw it: $(grep -c '"type":"stt_final"\|"type":"llm_sentence"' "$T/mon.out") transcripts and sentences"

# A publisher with the intruder's key, and one with B's: health events every 100 ms.
for who in intruder:intruder friend:hostB; do
    ip netns exec "$B" "$BIN/voxmesh-parrot" --name=${who%%:*} --bus-pub=tcp://$NET.1:7711 \
        --bus-sub=tcp://$NET.1:7712 --bus-cert="$K/${who#*:}.key_secret" --bus-server-key="$K/bus.key" \
        --health-interval=100 > "$T/${who%%:*}.out" 2>&1 &
    PIDS+=($!)
done
wait_for "$T/mon.out" '"publisher":"friend/' 10 || fail "the authorised publisher on B did not reach the monitor"
sleep 1
grep -q '"publisher":"intruder/' "$T/mon.out" && fail "the intruder's events reached a subscriber"
ok "the publisher with B's key reached the monitor; the intruder's events reached nobody"

spied=$(grep -vc '"topic":"\$monitor"' "$T/spy.out")
[ "$spied" -eq 0 ] || { head -3 "$T/spy.out"; fail "the intruder's monitor received $spied events"; }
ok "the intruder's monitor received 0 events ($(grep -c handshake-failed "$T/spy.out") refused handshakes)"

grep -q "refused the subscriber $NET.2:[0-9]* on tcp://$NET.1:7712: its public key is not among the authorised keys" \
    "$T/a.out" || { grep refused "$T/a.out"; fail "the bus did not log the intruder's monitor by address"; }
grep -q "refused the publisher $NET.2:[0-9]* on tcp://$NET.1:7711: its public key is not among the authorised keys" \
    "$T/a.out" || { grep refused "$T/a.out"; fail "the bus did not log the intruder's publisher by address"; }
ok "the bus logged: $(grep -m1 'refused the publisher' "$T/a.out" | sed 's/.*warn: //')"
metrics=$(ip netns exec "$A" curl -s "http://127.0.0.1:$MPORT/metrics")
rs=$(echo "$metrics" | awk '/^voxmesh_bus_refused_total\{side="subscriber"\}/ {print $2}')
rp=$(echo "$metrics" | awk '/^voxmesh_bus_refused_total\{side="publisher"\}/ {print $2}')
[ "${rs:-0}" -ge 1 ] && [ "${rp:-0}" -ge 1 ] || fail "refusals not counted: subscriber '$rs', publisher '$rp'"
ok "voxmesh_bus_refused_total: subscriber $rs, publisher $rp"

# The wire: the CURVE greeting in clear, and none of the topics.
kill -TERM "${PIDS[0]}" 2>/dev/null; sleep 0.3
bytes=$(stat -c %s "$T/wire.bin")
[ "$bytes" -gt 100000 ] || fail "only $bytes bytes captured between the hosts"
grep -aq CURVE "$T/wire.bin" || fail "no ZMTP greeting with CURVE on the wire"
# Topics, and the words of the conversation (the transcript goes B -> A, the
# reply sentence A -> B).
for t in audio.in.pcm. stt.final. llm.sentence. tts.audio. health. "what is your name" "my name is"; do
    grep -aqiF -- "$t" "$T/wire.bin" && fail "'$t' crossed the wire in clear"
done
ok "$((bytes / 1024)) KiB between the hosts: CURVE greetings, no topic and no word in clear"
grep -h "error:" "$T/a.out" "$T/b.out" && fail "the hosts logged errors"
ok "no errors logged on either host"

# ---- host B drops off the network ----------------------------------------------------------
for w in stt:"--lm-text=deploy/stt/agent.txt --decoders=1" tts:"--provider=flite --voice=slt"; do
    # shellcheck disable=SC2086
    ip netns exec "$A" "$BIN/voxmesh-${w%%:*}" --name=${w%%:*}-a --bus-pub=tcp://$NET.1:7711 \
        --bus-sub=tcp://$NET.1:7712 --bus-cert="$K/hostA.key_secret" --bus-server-key="$K/bus.key" ${w#*:} \
        > "$T/${w%%:*}-a.out" 2>&1 &
    PIDS+=($!)
done
wait_for "$T/a.out" "worker stt-a/.* is live" 60 || fail "the STT worker started by hand on A did not join"
wait_for "$T/a.out" "worker tts-a/.* is live" 30 || fail "the TTS worker started by hand on A did not join"
ok "workers started by hand on A joined: $(grep -c 'is live' "$T/a.out") workers live"
flite -voice slt -t "Hello, I have been wondering about this for a long time now, so tell me, what is your name?" \
    -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/q2.wav" pad 0.5 1.5
before=$(wc -l < "$T/a.out")
cp=()
for i in 1 2; do
    ip netns exec "$A" "$BIN/voxmesh-client" --url "http://127.0.0.1:$PORT" --in "$T/q2.wav" --tail-ms 10000 \
        --out "$T/f$i.wav" > "$T/f$i.json" 2> "$T/f$i.err" &
    cp+=($!)
done
sleep 2.2                                   # 1.5 s into the questions
ip -n "$B" link set "$VB" down || fail "cannot take B's link down"
for i in 1 2; do wait "${cp[$((i - 1))]}" || { cat "$T/f$i.err"; fail "caller $i failed after B dropped off"; }; done
tail -n +"$((before + 1))" "$T/a.out" > "$T/a2.out"
grep -q "worker stt.*/[0-9]* (stt): no beat for" "$T/a2.out" || fail "the dispatcher did not notice B's STT worker gone"
grep -q "stt -> stt-a/[0-9]* (failover" "$T/a2.out" || { grep -- '->' "$T/a2.out"; fail "no session of B's STT worker moved to A"; }
for i in 1 2; do
    sid=$(sed -n 's/.*"session":"[^"]*\/\([0-9a-f]*\)".*/\1/p' "$T/f$i.json")
    n=$(grep "\"session\":\"$sid\"" "$T/mon.out" | grep -c '"type":"stt_final"')
    [ "$n" = 1 ] || fail "caller $i (session $sid): $n final transcripts (want exactly 1)"
    h=$("$BIN/voxmesh-stt" --log-level=warn --transcribe="$T/f$i.wav" | cut -f2)
    for w in name run yourself; do
        [[ " $h " == *" $w "* ]] || fail "caller $i: after B dropped off the reply does not say what the rules promise: \"$h\""
    done
done
ok "B dropped off mid-question: $(grep -c '(failover' "$T/a2.out") session roles moved to A's workers; both callers answered, each question transcribed once"
