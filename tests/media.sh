# The media plane end to end: the parrot stack (edge -> codec -> vad + parrot
# -> codec -> edge), a caller over WHIP speaking two sentences with a pause,
# and `voxmesh mon` on the bus showing the VAD's speech start/end events for
# that session, in order, with plausible times, plus the speech segments
# (streamed while the utterance grows, the last one final).
. "$(dirname "$0")/testlib.bash"

flite -t "This is the first sentence." -o "$T/a.wav" || fail "flite failed"
flite -t "And here is the second one." -o "$T/b.wav" || fail "flite failed"
sox -n -r 8000 -c 1 -b 16 "$T/sil.wav" trim 0 1.2
sox "$T/sil.wav" "$T/a.wav" "$T/sil.wav" "$T/b.wav" "$T/sil.wav" -r 48000 "$T/in.wav" || fail "sox failed"
ok "caller input: $(soxi -D "$T/in.wav") s, two sentences 1.2 s apart"

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/parrot" "$T/parrot" > /dev/null
"$BIN/voxmesh" up "$T/parrot" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 30 || fail "the parrot stack did not become ready"

"$BIN/voxmesh" mon --json --seconds 25 vad. speech.segment. session. > "$T/mon.out" 2>&1 &
MON=$!
PIDS+=($MON)
wait_for "$T/mon.out" handshake-succeeded 10 || fail "mon did not connect to the bus"
"$BIN/voxmesh-client" --url "http://127.0.0.1:$EDGE_PORT" --in "$T/in.wav" --tail-ms 1500 --out "$T/reply.wav" \
    > "$T/client.json" 2> "$T/client.err" || { cat "$T/client.err"; fail "the client failed"; }
sid=$(sed -n 's/.*"session":"[^"]*\/\([0-9a-f]*\)".*/\1/p' "$T/client.json")
[ -n "$sid" ] || fail "no session id in the client's summary: $(cat "$T/client.json")"
sleep 1
kill $MON 2>/dev/null; wait $MON 2>/dev/null

grep "\"session\":\"$sid\"" "$T/mon.out" > "$T/ours.out"
starts=$(grep -c '"type":"vad_speech_start"' "$T/ours.out")
ends=$(grep -c '"type":"vad_speech_end"' "$T/ours.out")
[ "$starts" = 2 ] && [ "$ends" = 2 ] || { cat "$T/ours.out" | cut -c1-200; fail "want 2 speech starts and 2 ends, got $starts and $ends"; }
order=$(grep -o '"type":"vad_speech_[a-z]*"' "$T/ours.out" | tr -d '\n')
[ "$order" = '"type":"vad_speech_start""type":"vad_speech_end""type":"vad_speech_start""type":"vad_speech_end"' ] \
    || fail "events out of order: $order"
first=$(grep -m1 '"type":"vad_speech_start"' "$T/ours.out" | sed 's/.*"at_us":\([0-9]*\).*/\1/')
[ "$first" -gt 900000 ] && [ "$first" -lt 2000000 ] || fail "first onset at $first us, expected after the 1.2 s of silence"
ok "mon shows start, end, start, end for session $sid (first onset at $((first / 1000)) ms of the stream)"
segs=$(grep -c '"type":"speech_segment"' "$T/ours.out")
finals=$(grep '"type":"speech_segment"' "$T/ours.out" | grep -c '"final":true')
[ "$segs" -ge 6 ] && [ "$finals" = 2 ] || fail "speech segments: $segs pieces, $finals final (want >= 6 and 2)"
ok "speech segments streamed: $segs pieces, $finals final"
grep -q '"type":"session_started"' "$T/ours.out" && grep -q '"type":"session_ended"' "$T/ours.out" \
    || fail "session start/end events missing"
ok "session started and ended on the bus"
