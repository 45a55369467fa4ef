#!/bin/bash
# STT workers scaled out (docs/workers.md), each figure beside its baseline
# measured in the same run:
#  1. throughput: the same utterance set (the 16 sentences of
#     tests/stt_corpus.txt, flite, 16 kHz) said by WORKERS_SESSIONS (8)
#     sessions at once, fed as fast as the STT takes it (bench/stt_load.c),
#     with 1 STT worker and with 2: audio seconds transcribed per second;
#  2. failover: the same load on 2 workers, one killed with SIGKILL in the
#     middle: the finals that were in flight on it, against the final
#     latency of the undisturbed 2-worker run;
#  3. conversations held (bench/agent_latency.sh's concurrency step, real
#     WHIP callers) with deploy/graphs/agent (1 STT, 1 TTS) and
#     deploy/graphs/agent-scaled (2 + 2 and the dispatcher), at
#     WORKERS_N (default "15 20"; "none" skips this part).
#   bash bench/workers.sh           (after make build; make bench runs it)
set -u
. "$(dirname "$0")/../tests/testlib.bash"
SESSIONS=${WORKERS_SESSIONS:-8}
LOAD=$TOP/$BUILD/bench/stt_load
[ -x "$LOAD" ] || { echo "FAIL: no $LOAD (make bench builds it)"; exit 1; }

wavs=()
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    flite -voice slt -t "$line" -o "$T/u.wav" && sox "$T/u.wav" -r 16000 "$T/u${#wavs[@]}.wav" pad 0.2 0.2
    wavs+=("$T/u${#wavs[@]}.wav")
done < "$TOP/tests/stt_corpus.txt"
WAVS=$(IFS=,; echo "${wavs[*]}")

# stack N: the bus, the dispatcher and N STT workers (the agent's STT
# settings) started one by one, as units on a server would be (the load
# driver stands in for the edge and the VAD, so `voxmesh up`'s graph check
# would refuse this partial graph).
stack() {
    printf 'bus\n    pub = ipc://@vm-%s-%s.pub\n    sub = ipc://@vm-%s-%s.sub\nservices\n' "$RUN_ID" "$1" "$RUN_ID" "$1" > "$T/g$1"
    local bus="--bus-pub=ipc://@vm-$RUN_ID-$1.pub --bus-sub=ipc://@vm-$RUN_ID-$1.sub"
    STACK=()
    "$BIN/voxmesh" bus "$T/g$1" > "$T/bus$1.out" 2>&1 &
    STACK+=($!); PIDS+=($!)
    wait_for "$T/bus$1.out" "bus: publishers" 20 > /dev/null || { echo "FAIL: the bus did not start"; exit 1; }
    # shellcheck disable=SC2086
    "$BIN/voxmesh-dispatch" $bus > "$T/dispatch$1.out" 2>&1 &
    STACK+=($!); PIDS+=($!)
    for i in $(seq 0 $(($1 - 1))); do
        # shellcheck disable=SC2086
        "$BIN/voxmesh-stt" --name=stt.$i $bus --lm-text=deploy/stt/agent.txt --decoders=2 > "$T/stt$1-$i.out" 2>&1 &
        STACK+=($!); PIDS+=($!)
    done
    for i in $(seq 0 $(($1 - 1))); do
        wait_for "$T/stt$1-$i.out" "info: ready" 120 > /dev/null || { echo "FAIL: STT worker $i did not start"; exit 1; }
    done
    wait_for "$T/dispatch$1.out" "info: ready" 20 > /dev/null || { echo "FAIL: the dispatcher did not start"; exit 1; }
    sleep 0.5                                  # every worker's beats reach the dispatcher
}
stop() { kill -TERM "${STACK[@]}" 2>/dev/null; wait "${STACK[@]}" 2>/dev/null; }
load() { "$LOAD" --pub "ipc://@vm-$RUN_ID-$1.pub" --sub "ipc://@vm-$RUN_ID-$1.sub" --sessions "$SESSIONS" --wav "$WAVS"; }
field() { sed -n "s/.* $2 \([0-9.]*\).*/\1/p" "$1"; }

echo "throughput: ${#wavs[@]} utterances x $SESSIONS sessions, fed as fast as taken"
for n in 1 2; do
    stack $n
    load $n > "$T/load$n.out" || echo "  (incomplete run: $(tail -1 "$T/load$n.out"))"
    stop
    s=$(tail -1 "$T/load$n.out")
    used=$(grep '^final' "$T/load$n.out" | awk '{print $5}' | sort | uniq -c | awk '{printf "%s %s; ", $2, $1}')
    echo "  $n worker(s): $(field "$T/load$n.out" audio_per_wall) s of audio per second (wall $(field "$T/load$n.out" wall_s) s), final latency p50 $(field "$T/load$n.out" p50_ms) ms p95 $(field "$T/load$n.out" p95_ms) ms; finals by $used"
done
r1=$(field "$T/load1.out" audio_per_wall); r2=$(field "$T/load2.out" audio_per_wall)
echo "  2 workers vs 1: $(awk -v a="$r2" -v b="$r1" 'BEGIN{ if (b > 0) printf "%.2fx", a / b; else print "-" }') the throughput (2 cores: the ideal is 2x)"

echo "failover: the same load on 2 workers, one killed with SIGKILL 3 s in"
stack 2
load 2 > "$T/kill.out" &
L=$!
sleep 3
victim=${STACK[2]}                               # stt.0 (after the bus and the dispatcher)
kill_us=$(($(date +%s%N) / 1000))
[ -n "$victim" ] && kill -KILL "$victim"
wait $L || echo "  (incomplete run: $(tail -1 "$T/kill.out"))"
stop
# the finals of utterances whose audio was sent before the kill and answered after it
awk -v k="$kill_us" '$1 == "final" && $6 < k && $6 + $4 * 1000 > k {print $4}' "$T/kill.out" | sort -n > "$T/inflight"
n_in=$(wc -l < "$T/inflight"); worst=$(tail -1 "$T/inflight")
base=$(field "$T/load2.out" p50_ms)
echo "  $(field "$T/kill.out" utterances | head -1) utterances answered of $((SESSIONS * ${#wavs[@]})); $n_in in flight at the kill, the slowest final ${worst:--} ms after its audio (undisturbed p50 $base ms): failover delay +$(awk -v w="${worst:-0}" -v b="$base" 'BEGIN{printf "%.0f", w - b}') ms (target < 1000)"
grep -h "no beat for" "$T/dispatch2.out" | sed 's/.*warn: /  /' | head -2

[ "${WORKERS_N:-}" = none ] && exit 0           # (the first two parts only)
echo "conversations held: 1 STT + 1 TTS vs 2 + 2 with the dispatcher (real WHIP callers)"
for g in agent agent-scaled; do
    echo "  -- deploy/graphs/$g"
    AGENT_GRAPH=deploy/graphs/$g AGENT_TURNS=0 AGENT_N="${WORKERS_N:-15 20}" bash "$TOP/bench/agent_latency.sh" 2>&1 \
        | grep -E 'conversations at once|largest N' | sed 's/^/  /'
done
