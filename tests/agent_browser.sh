# The agent playground in a real browser: Debian's headless Chromium loads the
# edge's page, its fake microphone asks the agent stack (deploy/graphs/agent:
# edge, codec, vad, stt, llm rules, tts flite) "Hello, what is your name?",
# later asks for a long story and talks over it; tests/browser/agent.mjs
# asserts what the page shows from the edge's event stream (GET
# /whip/<id>/events): the final transcript, the reply text, who speaks, the
# latency (voice-to-voice > 0), the barge-in, and that the reply was heard.
# A screenshot goes to build/test-logs/agent_browser/agent.png.
# In a private network namespace (unshare -n), under a hard time limit.
# Alone: bash tests/agent_browser.sh   (docs/testing-browser.md)
set -u
LIMIT_S=${AGENT_BROWSER_LIMIT_S:-240}
TOP_=$(cd "$(dirname "$0")/.." && pwd)

# A capability this machine lacks: 77 with the reason, except as root or in
# CI, where everything is installed and nothing may skip.
skip() {
    if [ "$(id -u)" = 0 ] || [ -n "${CI:-}" ]; then echo "FAIL: $*"; exit 1; fi
    echo "SKIP: $*"; exit 77
}

if [ "${1:-}" != "--in-netns" ]; then
    CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
    [ -x "$CHROMIUM" ] || skip "$CHROMIUM is missing (scripts/setup.sh installs it)"
    [ -d "$TOP_/tests/browser/node_modules/playwright-core" ] \
        || skip "playwright-core is missing: scripts/setup.sh runs npm install in tests/browser"
    for t in node sox soxi flite timeout; do command -v $t > /dev/null || skip "$t is missing (scripts/setup.sh installs it)"; done
    if [ "${VOXMESH_NO_NETNS:-}" = 1 ]; then
        echo "note: VOXMESH_NO_NETNS=1: running on the host's loopback"
        exec timeout --kill-after=10 "$LIMIT_S" bash "$0" --in-netns --host
    fi
    unshare -n true 2>/dev/null || skip "unshare -n is refused here (no user or network namespaces)"
    exec timeout --kill-after=10 "$LIMIT_S" unshare -n -- bash "$0" --in-netns
fi
if [ "${2:-}" != --host ]; then
    ip link set lo up || { echo "FAIL: cannot bring lo up in the namespace"; exit 1; }
fi

# test: alone (Chromium, its fake microphone and the agent stack at once)
. "$(dirname "$0")/testlib.bash"
trap 'echo "FAIL: agent_browser.sh ran into its ${LIMIT_S} s limit"; exit 124' TERM
cd "$TOP"       # the graph's lm-text and rules paths are relative to the tree

for b in voxmesh voxmesh-edge voxmesh-stt voxmesh-llm voxmesh-tts; do
    [ -x "$BIN/$b" ] || fail "$BIN/$b is missing: make first"
done

# The microphone, 48 kHz mono, played once (%noloop) from Start:
#   1.5 s  "Hello, what is your name?"        -> the name rule
#   12 s   "Tell me a long story."            -> a story of a minute
#   19 s   "Please stop."                     -> over the story: barge-in
# Peaks at -12 dBFS: louder (-3) the capture processing Chromium applies to
# the microphone (gain control, limiter) garbles flite's voice, and the
# recogniser heard "hello an" for the question in 4 runs of 4; at -12 it
# heard "hello what is your name" in 4 of 4.
say() {
    flite -voice slt -t "$1" -o "$T/raw.wav" || fail "flite failed"
    sox "$T/raw.wav" -r 48000 -c 1 -b 16 "$2" norm -12 || fail "sox failed"
}
say "Hello, what is your name?" "$T/q1.wav"
say "Tell me a long story." "$T/q2.wav"
say "Please stop." "$T/q3.wav"
# at START FILE: silence up to START seconds into the microphone, then FILE.
pos=0; parts=()
at() {
    local gap
    gap=$(awk -v a="$1" -v p="$pos" 'BEGIN { g = a - p; if (g < 0.5) g = 0.5; printf "%.3f", g }')
    sox -n -r 48000 -c 1 -b 16 "$T/gap$1.wav" trim 0 "$gap"
    parts+=("$T/gap$1.wav" "$2")
    pos=$(awk -v p="$pos" -v g="$gap" -v d="$(soxi -D "$2")" 'BEGIN { printf "%.3f", p + g + d }')
}
at 1.5 "$T/q1.wav"; at 12 "$T/q2.wav"; at 19 "$T/q3.wav"
sox "${parts[@]}" "$T/mic.wav" pad 0 6 || fail "sox could not make the microphone signal"
ok "microphone: $(soxi -D "$T/mic.wav") s at $(soxi -r "$T/mic.wav") Hz: three flite (slt) utterances at 1.5, 12 and 19 s"

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/agent" "$T/agent" > /dev/null
"$BIN/voxmesh" up "$T/agent" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 30 || fail "the agent stack did not start"
# The recogniser loads its decoders after it started (seconds): a question
# asked before would go unheard.
wait_for "$T/up.out" "stt: info: ready" 60 || fail "the recogniser did not become ready"
ok "agent stack up on 127.0.0.1:$EDGE_PORT: $(grep -m1 'voxmesh: ready' "$T/up.out")"

KEEP=$TOP/$BUILD/test-logs/agent_browser
rm -rf "$KEEP"; mkdir -p "$KEEP"
setsid node "$TOP/tests/browser/agent.mjs" --url "http://127.0.0.1:$EDGE_PORT/" --wav "$T/mic.wav" --out "$KEEP" \
    --expect-words hello,what,your,name --expect-reply "My name is Vox" --barge-in-at 19 --seconds 100 \
    > "$T/agent.out" 2>&1 &
NODE=$!
PIDS+=(-$NODE)
wait $NODE; rc=$?
cat "$T/agent.out"
kill -KILL -$NODE 2>/dev/null
cp "$T/mic.wav" "$T/up.out" "$KEEP/" 2>/dev/null
if [ $rc -ne 0 ]; then
    echo "--- voxmesh up (last lines):"; tail -n 25 "$T/up.out"
    fail "the agent playground test failed (rc $rc; screenshot, events and logs in $KEEP)"
fi

metrics=$(curl -s -m 3 "http://127.0.0.1:$EDGE_PORT/metrics")
grep -q "^voxmesh_edge_event_streams 0$" <<< "$metrics" || fail "an event stream is still open after Stop"
sent=$(sed -n 's/^voxmesh_edge_events_sent_total \([0-9]*\)$/\1/p' <<< "$metrics")
dropped=$(sed -n 's/^voxmesh_edge_events_dropped_total \([0-9]*\)$/\1/p' <<< "$metrics")
[ "${sent:-0}" -gt 10 ] || fail "the edge counts only ${sent:-0} events sent"
ok "edge /metrics: ${sent} events sent, ${dropped} dropped, no stream left open"
if grep -E ": (error|fatal|warning|warn):|killed by signal|exited with status [1-9]" "$T/up.out" \
        | grep -v "no other service subscribes"; then
    fail "the stack logged errors or warnings"
fi
ok "the stack logged no errors or warnings; screenshot: $KEEP/agent.png"
