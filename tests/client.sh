# voxmesh-client against the parrot stack (edge -> codec -> parrot -> codec
# -> edge, with a bearer token): over WHIP (WAV + VP8 video, Ogg/Opus input)
# and over /ws (pcm16 and opus at 16 and 48 kHz) the audio that comes back
# must be the audio sent (cross-correlation, voxmesh-client --compare) and
# the measurements sane; refusals, an unreachable edge, a silent server and
# a bad input file must fail fast with a clear message.
. "$(dirname "$0")/testlib.bash"

CLIENT=$BIN/voxmesh-client
[ -x "$CLIENT" ] || fail "no $CLIENT"
TOKEN=tok-$RUN_ID

# ---- inputs -----------------------------------------------------------------------
if command -v flite > /dev/null; then
    flite -t "hello, this is a test of the voxmesh client. one two three four five." -o "$T/in.wav"
elif command -v sox > /dev/null; then
    sox -n -r 16000 -c 1 "$T/in.wav" synth 3 pluck C3 pluck E3 pluck G3 gain -3
else
    fail "need flite or sox to make a test input"
fi
IN=$T/in.wav
ok "input: $(wc -c < "$IN") bytes of WAV"
OPUS_IN=
if command -v opusenc > /dev/null && opusenc --quiet "$IN" "$T/in.opus" 2> /dev/null; then
    OPUS_IN=$T/in.opus
fi
IVF=
if [ -x "$TOP/$BUILD/tests/client/video_tx_test" ]; then
    "$TOP/$BUILD/tests/client/video_tx_test" --write-ivf "$T/v.ivf" 3 && IVF=$T/v.ivf
fi

# ---- the stack ----------------------------------------------------------------------
PORT=$(make_graph "$TOP/deploy/graphs/parrot" "$T/graph")
sed -i "s|^\( *\)listen = 127.0.0.1:$PORT|&\n\1token = $TOKEN|" "$T/graph"
grep -q "token = $TOKEN" "$T/graph" || fail "could not add the token to the graph"
"$BIN/voxmesh" up "$T/graph" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 60 || fail "the parrot stack did not become ready"
URL=http://127.0.0.1:$PORT
ok "parrot stack up on $URL (token required)"

# jnum FILE KEY: a number (or null) from the client's JSON line.
jnum() { grep -o "\"$2\":[-0-9.a-z]*" "$1" | head -1 | cut -d: -f2; }
# check EXPR: an awk condition on numbers.
check() { awk "BEGIN { exit !($1) }"; }

# call NAME ARGS...: runs the client, checks its JSON and the reply.
call() {
    local name=$1; shift
    local out=$T/$name.wav json=$T/$name.json err=$T/$name.err
    "$CLIENT" --url "$URL" --token "$TOKEN" --out "$out" --tail-ms 1500 --timeout-ms 20000 -v "$@" \
        > "$json" 2> "$err" || { cat "$err"; fail "$name: the client failed"; }
    cat "$json"
    local first lost sent recv conn
    first=$(jnum "$json" first_audio_ms); lost=$(jnum "$json" packets_lost)
    sent=$(jnum "$json" packets_sent); recv=$(jnum "$json" packets_received)
    conn=$(jnum "$json" connect_ms)
    [ "$first" != null ] && check "$first > 0 && $first < 1000" || fail "$name: first_audio_ms $first"
    check "$conn >= 0 && $conn < 2000" || fail "$name: connect_ms $conn"
    check "$lost <= 3" || fail "$name: $lost packets lost"
    check "$sent >= 100 && $recv >= $sent * 0.9" || fail "$name: sent $sent, received $recv"
    [ "$(jnum "$json" reply_latency_ms)" != null ] || fail "$name: no reply latency"
    "$CLIENT" --compare "$IN" "$out" --max-lag-ms 1000 > "$T/$name.cmp" || fail "$name: compare failed"
    local wp wl
    wp=$(jnum "$T/$name.cmp" window_peak); wl=$(jnum "$T/$name.cmp" window_lag_ms)
    check "$wp > 0.6 && $wl >= 0 && $wl < 300" \
        || fail "$name: the reply is not the input: $(cat "$T/$name.cmp")"
    ok "$name: first audio $first ms, connect $conn ms, $recv/$sent packets, lost $lost; reply vs input $(cat "$T/$name.cmp")"
}

# ---- WHIP ------------------------------------------------------------------------------
if [ -n "$IVF" ]; then
    "$BIN/voxmesh" mon --bus "ipc://@vm-$RUN_ID.sub" --count 20 --seconds 15 --json video.in.vp8. \
        > "$T/mon.out" 2>&1 &
    MON=$!
    PIDS+=($MON)
    wait_for "$T/mon.out" handshake-succeeded 10 || fail "mon did not connect to the bus"
    call whip --transport whip --in "$IN" --video "$IVF"
    wait $MON
    n=$(grep -c '"video.in.vp8.' "$T/mon.out" || true)
    [ "$n" -ge 20 ] || { cat "$T/mon.out"; fail "the edge published $n video frames, expected 20+"; }
    ok "video: $(jnum "$T/whip.json" video_frames_sent) VP8 frames sent, the edge published them on video.in.vp8."
else
    call whip --transport whip --in "$IN"
fi
[ "$(jnum "$T/whip.json" delete_status)" = 200 ] || fail "whip: DELETE did not answer 200"
[ "$(jnum "$T/whip.json" rtt_ms)" != null ] || fail "whip: no RTCP round trip (no RR from the edge?)"
ok "whip: DELETE 200, RTCP rtt $(jnum "$T/whip.json" rtt_ms) ms, jitter $(jnum "$T/whip.json" jitter_ms) ms"
if [ -n "$OPUS_IN" ]; then
    call whip-oggopus --transport whip --in "$OPUS_IN"
fi

# ---- WebSocket -------------------------------------------------------------------------
call ws-pcm16-16k --transport ws --format pcm16 --rate 16000 --in "$IN"
call ws-pcm16-48k --transport ws --format pcm16 --rate 48000 --in "$IN"
call ws-opus-48k --transport ws --format opus --rate 48000 --in "$IN"
call ws-opus-16k --transport ws --format opus --rate 16000 --in "${OPUS_IN:-$IN}"

# every WHIP session was deleted, every WebSocket closed
sleep 0.5
health=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/health")
echo "$health" | grep -q '"sessions":0' || fail "sessions left on the edge: $health"
ok "no session left on the edge: $health"

# ---- failures ----------------------------------------------------------------------------
expect_fail() {  # NAME RC PATTERN ARGS...
    local name=$1 want=$2 pat=$3; shift 3
    local t0=$EPOCHREALTIME rc=0
    "$CLIENT" "$@" > "$T/$name.json" 2> "$T/$name.err" || rc=$?
    local dt
    dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    LAST_DT=$dt
    [ $rc -eq "$want" ] || { cat "$T/$name.err"; fail "$name: exit $rc, expected $want"; }
    grep -q -- "$pat" "$T/$name.err" || { cat "$T/$name.err"; fail "$name: no '$pat' on stderr"; }
    [ ! -s "$T/$name.json" ] || fail "$name: printed a summary"
    ok "$name: exit $rc in ${dt}s: $(head -1 "$T/$name.err")"
}
expect_fail whip-no-token 1 "edge refused the offer: 401" --url "$URL" --in "$IN" --tail-ms 0
expect_fail ws-no-token 1 "edge refused the session" --url "$URL" --transport ws --in "$IN" --tail-ms 0
expect_fail whip-unreachable 1 "cannot reach the edge" --url "http://127.0.0.1:$(free_port)" --in "$IN"
expect_fail ws-unreachable 1 "cannot open the WebSocket" --url "http://127.0.0.1:$(free_port)" \
    --transport ws --in "$IN"
expect_fail bad-input 2 "neither a WAV nor an Ogg/Opus" --url "$URL" --in "$T/graph"
expect_fail too-long 2 "does not fit in --timeout-ms" --url "$URL" --in "$IN" --timeout-ms 1000
if command -v python3 > /dev/null; then
    # a server that accepts connections and never answers
    SILENT=$(free_port)
    python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $SILENT)); s.listen(8); c = []
print('listening', flush=True)
end = time.time() + 30
while time.time() < end:
    s.settimeout(0.5)
    try: c.append(s.accept())
    except OSError: pass
" > "$T/silent.log" 2>&1 &
    PIDS+=($!)
    wait_for "$T/silent.log" listening 20 || fail "the silent server did not start"
    expect_fail whip-silent 1 "timed out" --url "http://127.0.0.1:$SILENT" --in "$IN" \
        --tail-ms 0 --timeout-ms 5000
    check "$LAST_DT < 6.5" || fail "whip-silent took ${LAST_DT}s with --timeout-ms 5000"
    expect_fail ws-silent 1 "timed out" --url "http://127.0.0.1:$SILENT" --transport ws --in "$IN" \
        --tail-ms 0 --timeout-ms 5000
    check "$LAST_DT < 6.5" || fail "ws-silent took ${LAST_DT}s with --timeout-ms 5000"
fi
ok "all client checks passed"
