# Barge-in in a real browser: the greeter stack (edge, codec, vad, greeter)
# greets the caller; the caller's fake microphone talks over the prompt;
# the prompt must stop (turn.interrupt. -> codec and edge flush), and the
# time from speech onset to the agent's audio stopping at the client is
# reported (tests/browser/bargein.mjs). In a private network namespace.
set -u
if [ "${1:-}" != "--in-netns" ] && [ "${VOXMESH_NO_NETNS:-}" != 1 ] && unshare -n true 2>/dev/null; then
    exec unshare -n -- bash "$0" --in-netns
fi
[ "${1:-}" = "--in-netns" ] && ip link set lo up
. "$(dirname "$0")/testlib.bash"

# Microphone: 2.5 s of silence, then speech (the fake device loops it).
flite -t "Actually, I want to talk to a person now please." -o "$T/speech.wav" || fail "flite failed"
sox -n -r 48000 -c 1 -b 16 "$T/silence.wav" trim 0 2.5
sox "$T/speech.wav" -r 48000 -c 1 -b 16 "$T/speech48.wav" || fail "sox failed"
sox "$T/silence.wav" "$T/speech48.wav" "$T/mic.wav" pad 0 4 norm -3 || fail "sox failed"

# The agent's prompt: 10 s of a steady harmonic tone, so that "the agent
# stopped" is exact (a spoken prompt has pauses that look like a stop).
sox -n -r 16000 -c 1 -b 16 "$T/prompt.wav" synth 10 sine 220 sine 440 sine 660 remix - norm -6 || fail "sox failed"

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/greeter" "$T/greeter" > /dev/null
sed -i "s|^    greeter\$|    greeter\n        settings\n            wav = $T/prompt.wav|" "$T/greeter"
grep -q "wav = $T/prompt.wav" "$T/greeter" || fail "could not set the prompt in the graph copy"
"$BIN/voxmesh" up "$T/greeter" > "$T/up.out" 2>&1 &
PIDS+=($!)
wait_for "$T/up.out" "voxmesh: ready" 30 || fail "the greeter stack did not become ready"
ok "greeter stack up on 127.0.0.1:$EDGE_PORT"

setsid node "$TOP/tests/browser/bargein.mjs" --url "http://127.0.0.1:$EDGE_PORT/" --wav "$T/mic.wav" > "$T/b.out" 2>&1 &
NODE=$!
PIDS+=(-$NODE)
wait $NODE; rc=$?
cat "$T/b.out"
cp "$T/up.out" /tmp/bargein-up.out; [ $rc -eq 0 ] || { tail -n 30 "$T/up.out"; fail "barge-in failed"; }
grep -q "vad: info: session .*: barge-in" "$T/up.out" || fail "vad logged no barge-in"
grep -q "edge: info: session .*: barge-in: [0-9]* queued frame" "$T/up.out" || fail "the edge did not flush"
ok "$(grep -m1 'edge: info: session .*: barge-in' "$T/up.out" | cut -d' ' -f2-)"
