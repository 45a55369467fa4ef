# The voice agent end to end (deploy/graphs/agent on the offline defaults):
# flite-spoken questions from voxmesh-client over WHIP and over /ws; the reply
# audio the client records is transcribed with PocketSphinx (the generic
# English model, not the agent's domain model) and must contain the words the
# rules promise. Then barge-in: the caller talks over a long reply, and the
# reply stops: silence in the caller's recording from shortly after the
# interruption until the agent answers the interruption, i.e. no tail of the
# cut reply reaches the caller. Latency: the edge's voice-to-voice histogram.
. "$(dirname "$0")/testlib.bash"

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/agent" "$T/agent" > /dev/null
"$BIN/voxmesh" up "$T/agent" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 60 || fail "the agent stack did not become ready"
ok "agent stack up: $(grep -m1 'voxmesh: ready' "$T/up.out")"
URL=http://127.0.0.1:$EDGE_PORT

# say TEXT OUT [PAD_AFTER]: a caller's question, 48 kHz, 0.5 s before and
# 1.5 s after (a caller's microphone keeps sending: the VAD's end of turn is
# 500 ms of silence in the stream).
say() {
    flite -voice slt -t "$1" -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$2" pad 0.5 "${3:-1.5}"
}
# heard WAV: what the generic model hears in a recording.
heard() { "$BIN/voxmesh-stt" --log-level=warn --transcribe="$1" | cut -f2; }
# has TEXT WORD...: every word is in TEXT.
has() { local t=" $1 "; shift; for w in "$@"; do [[ "$t" == *" $w "* ]] || return 1; done; }

"$BIN/voxmesh" mon --json stt.final. llm.sentence. llm.done. turn.interrupt. tts.spoken. > "$T/mon.out" 2>&1 &
PIDS+=($!)

# 1. WHIP: what is your name?
say "Hello, what is your name?" "$T/q1.wav"
"$BIN/voxmesh-client" --url "$URL" --in "$T/q1.wav" --tail-ms 9000 --out "$T/r1.wav" > "$T/c1.json" 2> "$T/c1.err" \
    || { cat "$T/c1.err"; fail "the WHIP client failed"; }
h1=$(heard "$T/r1.wav")
has "$h1" name run yourself || fail "the WHIP reply does not say what the rules promise: heard \"$h1\""
ok "WHIP: asked \"Hello, what is your name?\", heard \"$h1\""

# 2. WebSocket, 16 kHz PCM: what can you do?
flite -voice slt -t "What can you do for me?" -o "$T/say.wav" && sox "$T/say.wav" -r 16000 "$T/q2.wav" pad 0.5 1.5
"$BIN/voxmesh-client" --url "$URL" --transport ws --format pcm16 --rate 16000 --in "$T/q2.wav" --tail-ms 12000 \
    --out "$T/r2.wav" > "$T/c2.json" 2> "$T/c2.err" || { cat "$T/c2.err"; fail "the /ws client failed"; }
h2=$(heard "$T/r2.wav")
has "$h2" time story interrupt || fail "the /ws reply does not say what the rules promise: heard \"$h2\""
ok "/ws: asked \"What can you do for me?\", heard \"$h2\""

# 3. Barge-in: a long story, and the caller talks over it 4 s into the reply.
say "Tell me a long story." "$T/b1.wav" 0
flite -voice slt -t "Wait, please be quiet." -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/b2.wav"
b1=$(soxi -D "$T/b1.wav")
gap=5.5                                     # question end -> barge-in: ~4.5 s into the reply
sox -n -r 48000 -c 1 -b 16 "$T/gap.wav" trim 0 "$gap"
sox "$T/b1.wav" "$T/gap.wav" "$T/b2.wav" "$T/q3.wav" pad 0 6
barge_at=$(awk -v a="$b1" -v g="$gap" 'BEGIN{print a + g}')
b2=$(soxi -D "$T/b2.wav")
"$BIN/voxmesh-client" --url "$URL" --in "$T/q3.wav" --tail-ms 3000 --out "$T/r3.wav" > "$T/c3.json" 2> "$T/c3.err" \
    || { cat "$T/c3.err"; fail "the barge-in client failed"; }
sid3=$(sed -n 's/.*"session":"[^"]*\/\([0-9a-f]*\)".*/\1/p' "$T/c3.json")
grep "\"session\":\"$sid3\"" "$T/mon.out" > "$T/mon3.out"
grep -q '"type":"turn_interrupt"' "$T/mon3.out" || fail "no barge-in on the bus for session $sid3"
grep -q '"type":"llm_done".*"reason":"interrupted"' "$T/mon3.out" \
    || grep -q '"type":"tts_spoken"' "$T/mon3.out" || fail "the long reply was not cut: $(cut -c1-200 "$T/mon3.out")"
ok "barge-in on the bus: $(grep -c '"type":"llm_sentence"' "$T/mon3.out") reply sentences, cut; heard before the cut: $(grep -m1 '"type":"tts_spoken"' "$T/mon3.out" | sed 's/.*"text":"\([^"]*\)".*/\1/' | cut -c1-80)"
# The reply played before the barge-in, and went silent after it: from
# barge-in + 0.4 s to barge-in + the interruption's length + 0.5 s (before
# the agent can answer the interruption) the caller hears nothing.
rms() { sox "$T/r3.wav" -n trim "$1" "$2" stat 2>&1 | awk '/RMS +amplitude/ {print $3}'; }
before=$(rms "$(awk -v b="$barge_at" 'BEGIN{print b - 2.0}')" 1.5)
after=$(rms "$(awk -v b="$barge_at" 'BEGIN{print b + 0.4}')" "$(awk -v d="$b2" 'BEGIN{print d + 0.1}')")
echo "RMS before the barge-in $before, after $after"
awk -v x="$before" 'BEGIN{exit !(x > 0.02)}' || fail "the long reply was not playing before the barge-in (RMS $before)"
awk -v x="$after" 'BEGIN{exit !(x < 0.003)}' || fail "reply audio after the cut: RMS $after from 0.4 s after the barge-in"
ok "the reply played (RMS $before) and nothing of it reached the caller after the cut (RMS $after)"
# When exactly did it stop? The first 10 ms window after the barge-in below the floor.
stop_ms=$(sox "$T/r3.wav" -t raw -r 1000 -e floating-point -b 32 -c 1 - trim "$barge_at" 1.0 2>/dev/null | od -An -f -v \
    | tr -s ' ' '\n' | awk 'NF { v = $1 < 0 ? -$1 : $1; if (v > m) m = v; n++; if (n % 10 == 0) { if (m < 0.01) { print n; exit } m = 0 } }')
ok "reply audio stopped ${stop_ms:-?} ms after the caller's barge-in began (report only)"

m=$(curl -s "$URL/metrics")
n=$(echo "$m" | awk '/^voxmesh_edge_voice_to_voice_seconds_count/ {print $2}')
sum=$(echo "$m" | awk '/^voxmesh_edge_voice_to_voice_seconds_sum/ {print $2}')
[ "${n:-0}" -ge 3 ] || fail "voice-to-voice observed for $n turns (want >= 3)"
ok "voice-to-voice: $n turns, mean $(awk -v s="$sum" -v n="$n" 'BEGIN{printf "%.0f", 1000*s/n}') ms (incl. the 500 ms end-of-turn silence)"
grep -E "(error|warn):" "$T/up.out" | grep -v "barge-in" > "$T/bad.out"
[ -s "$T/bad.out" ] && { head "$T/bad.out"; fail "the stack logged errors or warnings"; }
ok "the stack logged no errors or warnings"
