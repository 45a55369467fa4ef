# STT and TTS scaled out (deploy/graphs/agent-scaled: two workers each and
# the dispatcher, docs/workers.md), driven by voxmesh-client over WHIP:
#  1. four callers at once: the sessions are spread over both workers of
#     each role; every utterance is transcribed exactly once and every reply
#     sentence spoken exactly once (counted on the bus); the replies say
#     what the rules promise (heard by PocketSphinx);
#  2. the STT worker of a caller is killed with SIGKILL in the middle of the
#     caller's question: the other worker transcribes it (once), the caller
#     is answered; the delay it cost is measured;
#  3. the TTS worker of a caller is killed while it speaks a reply of eight
#     sentences: the other worker speaks the rest; every sentence is
#     published once, and the caller hears the whole reply, no part twice
#     (its sounding time against the same sentences synthesised here).
# The supervisor restarts the killed workers; they join and take new work.
# test: alone (worker deaths are judged by missed beats and the failover is
# timed: a neighbour's load would blur both)
. "$(dirname "$0")/testlib.bash"

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/agent-scaled" "$T/g" > /dev/null
# The agent's rules, with a reply long enough to kill a worker in for
# "tell me a story" (first match wins; the words are in the recogniser's
# domain model).
cat > "$T/test.rules" <<'R'
* story * -> This is the first sentence of a long answer.
+ Here comes the second sentence, a little longer than the first.
+ The third sentence is about a clock on the wall.
+ The fourth one talks about a river and a bridge.
+ Sentence number five is here.
+ The sixth sentence is almost the last but one.
+ Number seven comes before the end.
+ And this eighth sentence is the end of the answer.

R
cat "$TOP/deploy/rules/agent.rules" >> "$T/test.rules"
sed -i "s|rules = deploy/rules/agent.rules|rules = $T/test.rules|" "$T/g"
grep -q "rules = $T/test.rules" "$T/g" || fail "could not point the graph at the test's rules"
"$BIN/voxmesh" up "$T/g" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 120 || fail "the scaled agent stack did not become ready"
ok "scaled agent up: $(grep -m1 'voxmesh: ready' "$T/up.out")"
URL=http://127.0.0.1:$EDGE_PORT

"$BIN/voxmesh" mon --json worker.assign. stt.final. llm.sentence. tts.progress. > "$T/mon.out" 2>&1 &
PIDS+=($!)
wait_for "$T/mon.out" handshake-succeeded 10 || fail "mon did not connect to the bus"
"$BIN/voxmesh" mon worker.assign. > "$T/assign.out" 2>&1 &     # readable: who serves whom
PIDS+=($!)
wait_for "$T/assign.out" handshake-succeeded 10 || fail "mon did not connect to the bus"
sleep 0.5    # the workers' first beats reach the dispatcher

heard() { "$BIN/voxmesh-stt" --log-level=warn --transcribe="$1" | cut -f2; }
has() { local t=" $1 "; shift; for w in "$@"; do [[ "$t" == *" $w "* ]] || return 1; done; }
# next_event AFTER PATTERN TRIES: the first line of mon.out past line AFTER
# that matches PATTERN, polled every 50 ms (empty when none came).
next_event() {
    local i line
    for i in $(seq "$3"); do
        line=$(tail -n +"$(($1 + 1))" "$T/mon.out" | grep -m1 "$2") && { echo "$line"; return; }
        sleep 0.05
    done
}
sid_of() { sed -n 's/.*"session":"[^"]*\/\([0-9a-f]*\)".*/\1/p' "$1"; }
# events of a session, without the dispatcher's refreshes
ev() { grep "\"session\":\"$1\"" "$T/mon.out" | grep -v '"reason":"refresh"'; }
# assigned ROLE SID: the worker the session's role was last given to
assigned() { ev "$2" | grep "\"role\":\"$1\"" | tail -1 | sed 's/.*"worker":"\([^"]*\)".*/\1/'; }
# progress_once SID: every reply sentence of the session published once
progress_once() {
    local s=$1 ns np dup
    ns=$(ev "$s" | grep -c '"type":"llm_sentence"')
    np=$(ev "$s" | grep -c '"type":"tts_progress"')
    dup=$(ev "$s" | grep '"type":"tts_progress"' | sed 's/.*"turn":\([0-9]*\),"index":\([0-9]*\).*/\1.\2/' | sort | uniq -d)
    [ "$ns" -gt 0 ] && [ "$ns" = "$np" ] && [ -z "$dup" ] || { echo "session $s: $ns sentences, $np published, twice: '$dup'"; return 1; }
}

flite -voice slt -t "Hello, what is your name?" -o "$T/s.wav" && sox "$T/s.wav" -r 48000 "$T/q.wav" pad 0.5 1.5

# ---- 1. four callers at once -------------------------------------------------------------
cp=()
for i in 1 2 3 4; do
    "$BIN/voxmesh-client" --url "$URL" --in "$T/q.wav" --tail-ms 9000 --out "$T/r$i.wav" > "$T/c$i.json" \
        2> "$T/c$i.err" &
    cp+=($!)
done
for i in 1 2 3 4; do wait "${cp[$((i - 1))]}" || { cat "$T/c$i.err"; fail "client $i failed"; }; done
sleep 0.5
declare -A stt_used tts_used
lat=()
for i in 1 2 3 4; do
    sid=$(sid_of "$T/c$i.json")
    [ -n "$sid" ] || fail "client $i: no session in its summary"
    n=$(ev "$sid" | grep -c '"type":"stt_final"')
    [ "$n" = 1 ] || fail "session $sid: $n final transcripts for one question (want exactly 1)"
    w=$(ev "$sid" | grep '"type":"stt_final"' | sed 's/.*"publisher":"\([^"]*\)".*/\1/')
    [ "$w" = "$(assigned stt "$sid")" ] || fail "session $sid: transcribed by $w, assigned to $(assigned stt "$sid")"
    stt_used[$w]=1
    tts_used[$(assigned tts "$sid")]=1
    progress_once "$sid" || fail "a reply sentence was not spoken exactly once"
    lat+=($(ev "$sid" | grep '"type":"stt_final"' | sed 's/.*"origin_ts_us":\([0-9]*\),"sent_ts_us":\([0-9]*\).*/\1 \2/' \
        | awk '{printf "%.0f", ($2 - $1) / 1000}'))
    h=$(heard "$T/r$i.wav")
    has "$h" name run yourself || fail "client $i: the reply does not say what the rules promise: \"$h\""
done
[ ${#stt_used[@]} = 2 ] || fail "the four sessions used ${#stt_used[@]} STT worker(s): ${!stt_used[*]} (want both)"
[ ${#tts_used[@]} = 2 ] || fail "the four sessions used ${#tts_used[@]} TTS worker(s): ${!tts_used[*]} (want both)"
for i in 1 2 3 4; do
    sid=$(sid_of "$T/c$i.json")
    for role in stt tts; do
        grep -q "^session ${sid:0:12} $role -> $(assigned $role "$sid")  (new)" "$T/assign.out" \
            || fail "voxmesh mon does not show session $sid's $role worker: $(head -3 "$T/assign.out")"
    done
done
grep -q refresh "$T/assign.out" && fail "voxmesh mon shows the dispatcher's refreshes"
base=$(printf '%s\n' "${lat[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}')
ok "4 callers: STT on ${!stt_used[*]}, TTS on ${!tts_used[*]}; one final each, every sentence once; end of speech -> final ${lat[*]} ms (median $base)"

# ---- 2. the STT worker dies in the middle of a question -----------------------------------
flite -voice slt -t "Hello, I have been wondering about this for a long time now, so tell me, what is your name?" \
    -o "$T/s.wav" && sox "$T/s.wav" -r 48000 "$T/q2.wav" pad 0.5 1.5
before=$(wc -l < "$T/mon.out")
"$BIN/voxmesh-client" --url "$URL" --in "$T/q2.wav" --tail-ms 10000 --out "$T/r5.wav" > "$T/c5.json" 2> "$T/c5.err" &
c5=$!
line=$(next_event "$before" '"role":"stt".*"reason":"new"' 100)
[ -n "$line" ] || fail "the new session got no STT worker"
sid=$(echo "$line" | sed 's/.*"session":"\([^"]*\)".*/\1/')
victim=$(echo "$line" | sed 's/.*"worker":"\([^"]*\)".*/\1/')
sleep 2.2                         # 0.5 s of silence, then ~1.5 s into the question
kill -KILL "${victim#*/}" || fail "cannot kill $victim"
killed_at=$(date +%s%N)
wait $c5 || { cat "$T/c5.err"; fail "the client of the killed worker's session failed"; }
sleep 0.3
n=$(ev "$sid" | grep -c '"type":"stt_final"')
[ "$n" = 1 ] || fail "session $sid: $n final transcripts after the failover (want exactly 1): $(ev "$sid" | grep stt_final)"
fw=$(ev "$sid" | grep '"type":"stt_final"' | sed 's/.*"publisher":"\([^"]*\)".*/\1/')
[ "$fw" != "$victim" ] || fail "the final came from the killed worker"
ev "$sid" | grep -q "\"role\":\"stt\".*\"previous\":\"$victim\",\"reason\":\"failover\"" \
    || fail "no failover of session $sid on the bus"
grep -q "session $sid: utterance 1 taken over" "$T/up.out" || fail "no worker says it took the utterance over"
moved_ms=$(ev "$sid" | grep '"reason":"failover"' | head -1 | sed 's/.*"sent_ts_us":\([0-9]*\).*/\1/' \
    | awk -v k="$killed_at" '{printf "%.0f", ($1 - k / 1000) / 1000}')
l2=$(ev "$sid" | grep '"type":"stt_final"' | sed 's/.*"origin_ts_us":\([0-9]*\),"sent_ts_us":\([0-9]*\).*/\1 \2/' \
    | awk '{printf "%.0f", ($2 - $1) / 1000}')
h=$(heard "$T/r5.wav")
has "$h" name run yourself || fail "after the STT failover the reply does not say what the rules promise: \"$h\""
ok "STT $victim killed mid-question: moved to $fw ${moved_ms} ms after the kill, transcribed once, answered; end of speech -> final $l2 ms (vs $base ms without a failover: +$((l2 - base)) ms)"
wait_for "$T/up.out" "stt.*restarting" 5 > /dev/null || fail "the supervisor did not restart $victim"

# ---- 3. the TTS worker dies while it speaks ------------------------------------------------
flite -voice slt -t "Tell me a story." -o "$T/s.wav" && sox "$T/s.wav" -r 48000 "$T/q3.wav" pad 0.5 1.5
before=$(wc -l < "$T/mon.out")
"$BIN/voxmesh-client" --url "$URL" --in "$T/q3.wav" --tail-ms 20000 --out "$T/r6.wav" > "$T/c6.json" 2> "$T/c6.err" &
c6=$!
line=$(next_event "$before" '"type":"tts_progress"' 100)
[ -n "$line" ] || fail "no reply sentence was published"
sid=$(echo "$line" | sed 's/.*"session":"\([^"]*\)".*/\1/')
victim=$(echo "$line" | sed 's/.*"publisher":"\([^"]*\)".*/\1/')
kill -KILL "${victim#*/}" || fail "cannot kill $victim"
wait $c6 || { cat "$T/c6.err"; fail "the client of the killed TTS worker's session failed"; }
sleep 0.3
ns=$(ev "$sid" | grep -c '"type":"llm_sentence"')
[ "$ns" = 8 ] || fail "the story had $ns sentences (want 8)"
progress_once "$sid" || fail "after the TTS failover a sentence was lost or spoken twice"
nw=$(ev "$sid" | grep '"type":"tts_progress"' | grep -vc "\"publisher\":\"$victim\"")
[ "$nw" -ge 1 ] || fail "no sentence was spoken by another worker after $victim died"
grep -q "session $sid: turn 1 taken over" "$T/up.out" || fail "no TTS worker says it took the turn over"
# What the caller heard against the same sentences synthesised here: as long
# (nothing lost), not longer (nothing twice).
ev "$sid" | grep '"type":"llm_sentence"' | sed 's/.*"text":"\([^"]*\)".*/\1/' > "$T/sentences.txt"
parts=()
while read -r text; do
    flite -voice slt -t "$text" -o "$T/x${#parts[@]}.wav"; parts+=("$T/x${#parts[@]}.wav")
done < "$T/sentences.txt"
sox "${parts[@]}" "$T/expected.wav"
# sounding SECONDS: 20 ms windows louder than -40 dBFS
sounding() {
    sox "$1" -t raw -r 8000 -e floating-point -b 32 -c 1 - 2>/dev/null | od -An -f -v | tr -s ' ' '\n' \
        | awk 'NF { e += $1 * $1; n++; if (n == 160) { if (e / n > 0.0001) s++; e = 0; n = 0 } } END { printf "%.2f", s * 0.02 }'
}
got=$(sounding "$T/r6.wav"); want=$(sounding "$T/expected.wav")
awk -v g="$got" -v w="$want" 'BEGIN { exit !(g >= 0.9 * w && g <= 1.1 * w) }' \
    || fail "the caller heard ${got} s of reply for ${want} s of sentences (want within 10 %)"
codec=$(jq -r '.[] | select(.labels.service == "codec") | .targets[0]' "$T"/run/targets/*.json 2>/dev/null | head -1)
rep=$(curl -s "http://$codec/metrics" | awk '/^voxmesh_codec_repeated_audio_seconds_total/ {print $2}')
ok "TTS $victim killed after sentence 1: the other worker spoke $nw of 8 sentences; each once; the caller heard $got s of $want s (the codec skipped ${rep:-?} s said twice)"
wait_for "$T/up.out" "tts.*restarting" 5 > /dev/null || fail "the supervisor did not restart $victim"

# ---- the restarted workers take new sessions ----------------------------------------------
sleep 1
cp=()
for i in 7 8 9 10; do
    "$BIN/voxmesh-client" --url "$URL" --in "$T/q.wav" --tail-ms 9000 --out "$T/r$i.wav" > "$T/c$i.json" 2> "$T/c$i.err" &
    cp+=($!)
done
for p in "${cp[@]}"; do wait "$p" || fail "a client after the restarts failed"; done
sleep 0.3
declare -A used2
for i in 7 8 9 10; do
    sid=$(sid_of "$T/c$i.json")
    [ "$(ev "$sid" | grep -c '"type":"stt_final"')" = 1 ] || fail "session $sid: not exactly one final after the restarts"
    used2[$(assigned stt "$sid")]=1; used2[$(assigned tts "$sid")]=1
done
[ ${#used2[@]} = 4 ] || fail "after the restarts the sessions used ${#used2[@]} workers: ${!used2[*]} (want 2 STT + 2 TTS)"
ok "after the restarts all four workers serve: ${!used2[*]}"
# Nothing crashed but the two workers this test killed (an ASan report, an
# abort, would show here even though the supervisor restarted the service).
bad=$(grep -E "was killed by signal|exited with status [1-9]" "$T/up.out" | grep -v "killed by signal 9 ")
[ -z "$bad" ] || fail "a service died on its own: $bad"
ok "no service died but the two killed"
