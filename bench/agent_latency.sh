#!/bin/bash
# The agent's latency, turn by turn, on the offline defaults (deploy/graphs/agent):
# voice-to-voice (the caller's end of speech -> the reply's first audio
# leaving the edge) and its breakdown over AGENT_TURNS (20) turns of one
# conversation, then AGENT_N (default "5 10 15") simultaneous conversations
# driven by voxmesh-client, reporting p50/p95, lost turns, and CPU and RSS per
# conversation. The same end-of-turn silence (500 ms) is the floor every
# figure stands on: "mesh" = voice-to-voice minus it.
# AGENT_GRAPH picks another graph (bench/workers.sh: the scaled agent);
# AGENT_TURNS=0 skips the single conversation.
#   bash bench/agent_latency.sh           (after make build)
# Exit 0 when measured (targets met or not), 1 when it could not run.
set -u
. "$(dirname "$0")/../tests/testlib.bash"
TURNS=${AGENT_TURNS:-20}
STEPS=${AGENT_N:-5 10 15}
SILENCE_MS=500
AWK="$TOP/bench/agent_turns.awk"

# pct FILE COLUMN P: the P-th percentile (nearest rank) of a column.
pct() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk -v p="$3" '{v[NR]=$1} END {if (!NR) {print "-"; exit} i=int(p*NR+0.999); if (i<1) i=1; print v[i]}'; }
# stack_stats: CPU ticks and RSS (kB) summed over the stack's processes.
stack_pids() { pgrep -f "vm-$RUN_ID" | tr '\n' ' '; }
cpu_ticks() { local t=0 p; for p in $(stack_pids); do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
rss_kb() { local t=0 p; for p in $(stack_pids); do t=$((t + $(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $t; }

export EDGE_PORT=$(free_port)
make_graph "$TOP/${AGENT_GRAPH:-deploy/graphs/agent}" "$T/agent" > /dev/null
"$BIN/voxmesh" up "$T/agent" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 120 || { echo "FAIL: the agent stack did not start"; exit 1; }
URL=http://127.0.0.1:$EDGE_PORT

# Questions with short answers (the rules: time, thanks, how are you, name...),
# each followed by room for the answer.
Q=("What time is it?" "Thank you." "How are you?" "My name is Alex." "What is the date today?")
i=0; parts=()
[ "$TURNS" -gt 0 ] && while [ $i -lt "$TURNS" ]; do
    q=${Q[$((i % ${#Q[@]}))]}
    flite -voice slt -t "$q" -o "$T/q.wav" && sox "$T/q.wav" -r 48000 "$T/q$i.wav" pad 0.3 4.5
    parts+=("$T/q$i.wav"); i=$((i + 1))
done
[ "$TURNS" -gt 0 ] && sox "${parts[@]}" "$T/conv.wav"
# A short conversation of three turns for the concurrency steps.
for k in 0 1 2; do
    flite -voice slt -t "${Q[$k]}" -o "$T/q.wav" && sox "$T/q.wav" -r 48000 "$T/s$k.wav" pad 0.3 4.5
done
sox "$T/s0.wav" "$T/s1.wav" "$T/s2.wav" "$T/short.wav" || { echo "FAIL: cannot make the input"; exit 1; }

if [ "$TURNS" -gt 0 ]; then
"$BIN/voxmesh" mon --json stt.final. llm.sentence. audio.out.pcm. audio.out.opus. > "$T/mon1.out" 2>&1 &
MON=$!; PIDS+=($MON); sleep 0.5
"$BIN/voxmesh-client" --url "$URL" --in "$T/conv.wav" --tail-ms 3000 --timeout-ms 400000 > "$T/c.json" 2> "$T/c.err" \
    || { cat "$T/c.err"; echo "FAIL: the client failed"; exit 1; }
sleep 1; kill $MON; wait $MON 2>/dev/null
awk -f "$AWK" "$T/mon1.out" | grep -v incomplete > "$T/turns1"
n=$(wc -l < "$T/turns1")
echo "one conversation: $n of $TURNS turns complete (stage times in ms; each stage from the end of the previous one)"
printf '  %-34s %8s %8s\n' stage p50 p95
printf '  %-34s %8s %8s\n' "end of speech -> final transcript" "$(pct "$T/turns1" 3 0.5)" "$(pct "$T/turns1" 3 0.95)"
printf '  %-34s %8s %8s\n' "  of which the end-of-turn wait" "$SILENCE_MS" "$SILENCE_MS"
printf '  %-34s %8s %8s\n' "final -> first reply sentence" "$(pct "$T/turns1" 4 0.5)" "$(pct "$T/turns1" 4 0.95)"
printf '  %-34s %8s %8s\n' "sentence -> first TTS audio" "$(pct "$T/turns1" 5 0.5)" "$(pct "$T/turns1" 5 0.95)"
printf '  %-34s %8s %8s\n' "TTS audio -> first Opus (edge)" "$(pct "$T/turns1" 6 0.5)" "$(pct "$T/turns1" 6 0.95)"
v50=$(pct "$T/turns1" 7 0.5); v95=$(pct "$T/turns1" 7 0.95)
printf '  %-34s %8s %8s\n' "voice-to-voice" "$v50" "$v95"
echo "  voice-to-voice p50 $v50 ms (target <= 700: $(awk -v v="$v50" 'BEGIN{print (v <= 700 ? "met" : "NOT met")}')); in the mesh itself (minus the ${SILENCE_MS} ms wait) $(awk -v v="$v50" -v s=$SILENCE_MS 'BEGIN{printf "%.1f", v - s}') ms (target <= 200: $(awk -v v="$v50" -v s=$SILENCE_MS 'BEGIN{print (v - s <= 200 ? "met" : "NOT met")}'))"
echo "  for comparison, published figures of the popular Python frameworks with cloud providers: 500-800 ms"
fi

best=0
rss0=$(rss_kb)
for N in $STEPS; do
    "$BIN/voxmesh" mon --json stt.final. llm.sentence. audio.out.pcm. audio.out.opus. > "$T/monN.out" 2>&1 &
    MON=$!; sleep 0.5
    c0=$(cpu_ticks); t0=$EPOCHREALTIME; peak=0; cp=()
    for j in $(seq 1 "$N"); do
        "$BIN/voxmesh-client" --url "$URL" --in "$T/short.wav" --tail-ms 3000 --timeout-ms 120000 > "$T/n$j.json" 2>/dev/null &
        cp+=($!); sleep 0.15
    done
    while kill -0 "${cp[0]}" 2>/dev/null; do r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r; sleep 1; done
    for p in "${cp[@]}"; do wait "$p"; done
    c1=$(cpu_ticks); t1=$EPOCHREALTIME
    sleep 1; kill $MON; wait $MON 2>/dev/null
    awk -f "$AWK" "$T/monN.out" > "$T/turnsN"
    done_turns=$(grep -vc incomplete "$T/turnsN"); want=$((N * 3))
    grep -v incomplete "$T/turnsN" > "$T/turnsNc"
    p50=$(pct "$T/turnsNc" 7 0.5); p95=$(pct "$T/turnsNc" 7 0.95)
    cpu=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN{printf "%.1f", 100 * (b - a) / hz / (e - s) / n}')
    rss=$(awk -v p="$peak" -v z="$rss0" -v n="$N" 'BEGIN{printf "%.1f", (p - z) / 1024 / n}')
    lost=$((want - done_turns))
    echo "$N conversations at once: $done_turns of $want turns answered, voice-to-voice p50 $p50 ms p95 $p95 ms; stack CPU $cpu % of a core and RSS +$rss MiB per conversation"
    if [ "$lost" -eq 0 ] && awk -v v="$p95" 'BEGIN{exit !(v != "-" && v <= 1500)}'; then best=$N; fi
done
echo "largest N held with voice-to-voice p95 <= 1.5 s and no lost turn: $best (target >= 10: $([ "$best" -ge 10 ] && echo met || echo NOT met))"
