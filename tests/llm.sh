# voxmesh-llm as deployed: the bus of a graph (`voxmesh bus GRAPH`), the
# daemon started with the graph's endpoints, the fake OpenAI-compatible
# provider (tests/fake-providers/openai.mjs) on 127.0.0.1, transcripts
# injected with `stack_test --say` and the replies watched with
# `voxmesh mon --json llm.`: sentences in order, done complete, the key sent
# as a Bearer token and never logged, the apology on a provider failure, the
# rules provider greeting, and a bad rules file refused naming file:line.
# (The full matrix of provider failures, interrupts and tool calls is
# services/llm/stack_test.c, which starts its own stack.)
. "$(dirname "$0")/testlib.bash"

command -v node > /dev/null || { echo "SKIP node is not installed: the fake provider cannot run"; exit 77; }
SAY="$TOP/$BUILD/tests/llm/stack_test"
[ -x "$SAY" ] || fail "$SAY not built (make $BUILD/tests/llm/stack_test)"
KEY="sk-shell-test-$RANDOM$RANDOM-secret"

node "$TOP/tests/fake-providers/openai.mjs" --log "$T/fake.log" > "$T/fake.out" 2>&1 &
PIDS+=($!)
wait_for "$T/fake.out" "listening" 10 || fail "the fake provider did not start"
PORT=$(awk '/listening/ {print $2}' "$T/fake.out")
ok "fake provider on 127.0.0.1:$PORT"

PUB=ipc://@vm-$RUN_ID.pub
SUB=ipc://@vm-$RUN_ID.sub
cat > "$T/graph" <<G
bus
    pub = $PUB
    sub = $SUB
services
    llm
        settings
            provider = openai
G
"$BIN/voxmesh" bus "$T/graph" > "$T/bus.out" 2>&1 &
PIDS+=($!)
wait_for "$T/bus.out" "bus: publishers" 10 || fail "voxmesh bus did not start"

OPENAI_API_KEY=$KEY "$BIN/voxmesh-llm" --bus-pub=$PUB --bus-sub=$SUB --provider=openai \
    --base-url=http://127.0.0.1:$PORT/v1 --model=fake-model --first-token-ms=2000 --max-retries=1 \
    --retry-backoff-ms=50 --log-level=debug > "$T/llm.log" 2>&1 &
LLM=$!
PIDS+=($LLM)
wait_for "$T/llm.log" "ready" 10 || fail "voxmesh-llm did not become ready"

"$BIN/voxmesh" mon --bus "$SUB" --json llm. > "$T/mon.out" 2>&1 &
MON=$!
PIDS+=($MON)
wait_for "$T/mon.out" "handshake-succeeded" 10 || fail "mon did not connect to the bus"

out=$("$SAY" --say "$PUB" "$SUB" shell-1 41 "What is the capital of France?") || fail "no reply to the first transcript"
[ "$out" = "complete " ] || fail "the first reply ended '$out'"
out=$("$SAY" --say "$PUB" "$SUB" shell-1 42 "And Italy?") || fail "no reply to the second transcript"
out=$("$SAY" --say "$PUB" "$SUB" shell-2 1 "[500] fail please") || fail "no reply to the failing transcript"
case "$out" in error*"HTTP 500"*) ;; *) fail "the failing reply ended '$out'" ;; esac
sleep 0.3
kill $MON 2>/dev/null; wait $MON 2>/dev/null

grep '"session":"shell-1"' "$T/mon.out" | grep '"turn":41' > "$T/t41.out"
sentences=$(grep -c '"type":"llm_sentence"' "$T/t41.out")
order=$(grep '"type":"llm_sentence"' "$T/t41.out" | sed 's/.*"index":\([0-9]*\).*/\1/' | tr '\n' ' ')
[ "$sentences" = 3 ] && [ "$order" = "0 1 2 " ] || { cat "$T/mon.out" | cut -c1-200; fail "want sentences 0 1 2, got '$order'"; }
grep -m1 '"type":"llm_sentence"' "$T/t41.out" | grep -q '"text":"Hello from the fake model."' || fail "the first sentence is not the fake's"
grep '"type":"llm_done"' "$T/t41.out" | grep -q '"reason":"complete","sentences":3' || fail "no llm.done complete with 3 sentences"
deltas=$(grep -c '"type":"llm_delta"' "$T/t41.out")
[ "$deltas" -gt 3 ] || fail "only $deltas deltas: not streamed"
ok "mon: turn 41 streamed $deltas deltas, sentences $order, done complete"
grep '"session":"shell-1"' "$T/mon.out" | grep '"turn":42' | grep '"type":"llm_sentence"' | grep -q "I have seen 4 messages" \
    || fail "the second turn did not carry the history"
ok "the second turn carries the history (4 messages)"
grep '"session":"shell-2"' "$T/mon.out" | grep '"type":"llm_sentence"' | grep -q "Sorry, I could not reach my language model" \
    && grep '"session":"shell-2"' "$T/mon.out" | grep '"type":"llm_done"' | grep -q '"reason":"error"' \
    || fail "the provider failure did not end with the apology and an error"
ok "a provider failure: the apology, then llm.done error"

[ "$(grep -c "\"auth\":\"Bearer $KEY\"" "$T/fake.log")" -ge 3 ] || fail "the provider did not get the key as a Bearer token"
ok "the key went to the provider as a Bearer token"
grep -q "$KEY" "$T/llm.log" && fail "the API key is in the daemon's log"
grep -q "key from \$OPENAI_API_KEY: set" "$T/llm.log" || fail "the daemon does not say where its key came from"
ok "the key is nowhere in the daemon's debug log ($(wc -l < "$T/llm.log") lines)"

kill -TERM $LLM; wait $LLM; rc=$?
[ $rc -eq 0 ] || fail "voxmesh-llm exited $rc on SIGTERM"
ok "SIGTERM: exit 0"

# The offline default: the rules provider with the shipped rules, run from the top.
(cd "$TOP" && exec "$BIN/voxmesh-llm" --bus-pub=$PUB --bus-sub=$SUB > "$T/rules.log" 2>&1) &
RULES=$!
PIDS+=($RULES)
wait_for "$T/rules.log" "ready" 10 || fail "voxmesh-llm (rules) did not become ready"
grep -q "provider: rules (not a language model)" "$T/rules.log" || fail "the rules provider does not say what it is"
"$BIN/voxmesh" mon --bus "$SUB" --json llm.sentence. > "$T/mon2.out" 2>&1 &
MON=$!
PIDS+=($MON)
wait_for "$T/mon2.out" "handshake-succeeded" 10 || fail "mon did not connect to the bus"
out=$("$SAY" --say "$PUB" "$SUB" shell-3 1 "hello") || fail "no reply from the rules provider"
[ "$out" = "complete " ] || fail "the rules reply ended '$out'"
sleep 0.2
kill $MON 2>/dev/null; wait $MON 2>/dev/null
first=$(grep '"session":"shell-3"' "$T/mon2.out" | grep -m1 '"index":0' | sed 's/.*"text":"\([^"]*\)".*/\1/')
[ "$first" = "Hello!" ] && grep '"session":"shell-3"' "$T/mon2.out" | grep -q "voxmesh demo agent" \
    || { cat "$T/mon2.out"; fail "hello did not get the greeting"; }
ok "rules provider: hello -> '$first' ... $(grep -c '"session":"shell-3"' "$T/mon2.out") sentences"
kill -TERM $RULES; wait $RULES

printf 'hello -> hi\n\nno arrow on this line\n' > "$T/bad.rules"
if "$BIN/voxmesh-llm" --bus-pub=$PUB --bus-sub=$SUB --rules="$T/bad.rules" > "$T/bad.log" 2>&1; then
    fail "a bad rules file was accepted"
fi
grep -q "$T/bad.rules:3: expected \`pattern -> reply\`" "$T/bad.log" || { cat "$T/bad.log"; fail "the error does not name file and line"; }
ok "a bad rules file: $(grep -o 'bad rules file.*' "$T/bad.log")"
