# A real browser through the whole media path: Debian's headless Chromium, its
# fake microphone fed from a WAV (speech + chirps), loads the edge's page, presses
# Start, talks WHIP to the parrot stack (edge -> codec -> parrot -> codec -> edge),
# and tests/browser/echo.mjs asserts the audio coming back is the audio sent
# (cross-correlation), getStats, Stop -> DELETE, and the session gone from /metrics.
# Runs in a private network namespace (unshare -n) so every packet is on 127.0.0.1.
# Alone: bash tests/browser.sh   (docs/testing-browser.md)
set -u
if [ "${1:-}" != "--in-netns" ]; then
    if [ "${VOXMESH_NO_NETNS:-}" != 1 ] && unshare -n true 2>/dev/null; then
        exec unshare -n -- bash "$0" --in-netns
    fi
    echo "note: unshare -n is not available here: running on the host's loopback instead of a private namespace"
    NETNS=0
else
    ip link set lo up || { echo "FAIL: cannot bring lo up in the namespace"; exit 1; }
    NETNS=1
fi

. "$(dirname "$0")/testlib.bash"
[ $NETNS = 1 ] && ok "private network namespace: $(ip -br addr show | awk '{printf "%s %s ", $1, $3}')"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (scripts/setup.sh installs it)"
[ -d "$TOP/tests/browser/node_modules/playwright-core" ] || fail "playwright-core is missing: scripts/setup.sh runs npm install in tests/browser"
command -v node > /dev/null || fail "node is missing"
for t in sox flite; do command -v $t > /dev/null || fail "$t is missing (scripts/setup.sh installs it)"; done

# The microphone: 48 kHz mono, ~6 s, speech and sweeps with gaps, so that
# the cross-correlation has one clear peak (the fake device loops it: the
# period is far longer than the 500 ms lag window).
flite -t "Voxmesh parrot test. Seven, three, nine, four." -o "$T/speech.wav" \
    || fail "flite failed"
sox "$T/speech.wav" -r 48000 -c 1 -b 16 "$T/speech48.wav" norm -3 || fail "sox failed"
sox -n -r 48000 -c 1 -b 16 "$T/up.wav" synth 0.5 sine 300-3000 vol 0.5
sox -n -r 48000 -c 1 -b 16 "$T/down.wav" synth 0.3 sine 2500-500 vol 0.5
sox -n -r 48000 -c 1 -b 16 "$T/gap.wav" trim 0 0.25
sox "$T/gap.wav" "$T/speech48.wav" "$T/gap.wav" "$T/up.wav" "$T/gap.wav" "$T/down.wav" "$T/gap.wav" "$T/mic.wav" \
    || fail "sox could not make the test signal"
ok "test signal: $(soxi -D "$T/mic.wav") s at $(soxi -r "$T/mic.wav") Hz (flite speech + sweeps)"

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/parrot" "$T/parrot" > /dev/null
"$BIN/voxmesh" up "$T/parrot" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 30 || fail "the parrot stack did not become ready"
ok "parrot stack up on 127.0.0.1:$EDGE_PORT: $(grep -m1 'voxmesh: ready' "$T/up.out")"

# node and the Chromium it starts run in their own process group, so that
# cleanup can end all of them even if node dies first.
mkdir -p "$T/out"
expect=""; [ $NETNS = 1 ] && expect=--expect-loopback
setsid node "$TOP/tests/browser/echo.mjs" --url "http://127.0.0.1:$EDGE_PORT/" --wav "$T/mic.wav" \
    --seconds 6 --out "$T/out" $expect > "$T/echo.out" 2>&1 &
NODE=$!
PIDS+=(-$NODE)
wait $NODE; rc=$?
cat "$T/echo.out"
kill -KILL -$NODE 2>/dev/null
if [ $rc -ne 0 ]; then
    keep=$TOP/$BUILD/test-logs/browser
    mkdir -p "$keep" && cp "$T"/out/*.wav "$T/mic.wav" "$T/up.out" "$keep/" 2>/dev/null
    echo "--- voxmesh up (last lines):"; tail -n 20 "$T/up.out"
    fail "the browser echo test failed (rc $rc; recordings in $keep)"
fi
sid=$(sed -n 's/.*SESSION_ID=\([0-9a-f]*\).*/\1/p' "$T/echo.out")
status=$(sed -n 's/^DELETE_STATUS=\([0-9]*\).*/\1/p' "$T/echo.out")
[ -n "$sid" ] || fail "echo.mjs reported no session id"
wait_for "$T/up.out" "edge: info: session $sid: ended" 5 || fail "the edge did not log the end of session $sid"
ok "$(grep -m1 "edge: info: session $sid: ended" "$T/up.out" | cut -d' ' -f2-) (DELETE answered $status)"
wait_for "$T/up.out" "codec: info: session $sid: ended" 5 || fail "the codec did not end session $sid"
ok "$(grep -m1 "codec: info: session $sid: ended" "$T/up.out" | cut -d' ' -f2-)"
if grep -E ": (error|fatal|warning):|killed by signal|exited with status [1-9]" "$T/up.out" | grep -v "no other service subscribes"; then
    fail "the stack logged errors"
fi
ok "the stack logged no errors or warnings"
