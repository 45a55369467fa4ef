# voxmesh check / svg / up / mon against the real daemons of the parrot stack:
# a broken graph is refused naming service and topic; `up` reports ready,
# restarts a service killed with SIGKILL, and stops everything on SIGTERM.
. "$(dirname "$0")/testlib.bash"

"$BIN/voxmesh" check "$TOP/deploy/graphs/parrot" > "$T/check.out" 2>&1 || { cat "$T/check.out"; fail "the shipped parrot graph does not pass check"; }
ok "deploy/graphs/parrot passes check"

# A graph where the parrot's input has no publisher.
cat > "$T/broken" <<G
bus
    pub = ipc://@vm-$RUN_ID-b.pub
    sub = ipc://@vm-$RUN_ID-b.sub
services
    parrot
G
if "$BIN/voxmesh" check "$T/broken" > "$T/broken.out" 2>&1; then fail "check accepted a graph with no publisher"; fi
grep -q "parrot" "$T/broken.out" && grep -q "audio.in.pcm." "$T/broken.out" || { cat "$T/broken.out"; fail "the violation does not name the service and the topic"; }
ok "check refuses: $(grep -m1 audio.in.pcm. "$T/broken.out")"
if "$BIN/voxmesh" up "$T/broken" > "$T/broken-up.out" 2>&1; then fail "up started a broken graph"; fi
grep -q "refusing" "$T/broken-up.out" || fail "up did not say why it refused"
ok "up refuses to start the broken graph"

"$BIN/voxmesh" svg "$TOP/deploy/graphs/parrot" > "$T/g.svg" || fail "svg failed"
for n in edge codec vad parrot audio.in.opus.; do grep -q "$n" "$T/g.svg" || fail "svg lacks $n"; done
grep -q "<svg" "$T/g.svg" || fail "not an svg"
ok "svg draws the services and the topics"

# `voxmesh mon` with no stack running says so, and fails.
if "$BIN/voxmesh" mon --seconds 1 > "$T/mon0.out" 2>&1; then cat "$T/mon0.out"; fail "mon with no stack exited 0"; fi
grep -q "no running voxmesh stack" "$T/mon0.out" || { cat "$T/mon0.out"; fail "mon with no stack did not say so"; }
ok "mon with no stack running: $(head -1 "$T/mon0.out")"

make_graph "$TOP/deploy/graphs/parrot" "$T/parrot" > /dev/null
"$BIN/voxmesh" up "$T/parrot" > "$T/up.out" 2>&1 &
UP=$!
PIDS+=($UP)
wait_for "$T/up.out" "voxmesh: ready" 30 || fail "the stack did not become ready"
ok "up: $(grep -m1 'voxmesh: ready' "$T/up.out")"

SUB=ipc://@vm-$RUN_ID.sub
"$BIN/voxmesh" mon --bus "$SUB" --count 4 --seconds 10 --json health. > "$T/mon.out" 2>&1
grep -q '"type":"health"' "$T/mon.out" || { cat "$T/mon.out"; fail "mon saw no health events"; }
ok "mon taps the bus: $(grep -c '"type":"health"' "$T/mon.out") health events"

# The README's commands, typed as shown (no --bus): mon finds the running stack.
"$BIN/voxmesh" mon --count 3 --seconds 10 > "$T/mon1.out" 2>&1
grep -q "stack 'parrot'" "$T/mon1.out" && [ "$(grep -c '^health\.' "$T/mon1.out")" -ge 1 ] \
    || { cat "$T/mon1.out"; fail "voxmesh mon (no --bus) did not show the running stack's events"; }
ok "voxmesh mon finds the running stack: $(grep -m1 '^health\.' "$T/mon1.out" | cut -c1-80)"
"$BIN/voxmesh" mon --stats --seconds 2.5 > "$T/mon2.out" 2>&1
grep -Eq "^health\. +[0-9.]+ +[0-9]+ " "$T/mon2.out" && grep -q "msg/s" "$T/mon2.out" \
    || { cat "$T/mon2.out"; fail "voxmesh mon --stats (no --bus) shows no rates"; }
ok "voxmesh mon --stats shows rates: $(grep -m1 '^health\. ' "$T/mon2.out" | tr -s ' ')"

# Two stacks: mon lists them and wants a choice; --graph NAME picks one.
make_graph "$TOP/deploy/graphs/parrot" "$T/other" > /dev/null
sed -i "s|ipc://@vm-$RUN_ID|ipc://@vm-$RUN_ID-o|" "$T/other"
"$BIN/voxmesh" up "$T/other" > "$T/up2.out" 2>&1 &
UP2=$!
PIDS+=($UP2)
wait_for "$T/up2.out" "voxmesh: ready" 30 || fail "the second stack did not become ready"
if "$BIN/voxmesh" mon --seconds 1 > "$T/mon3.out" 2>&1; then cat "$T/mon3.out"; fail "mon with two stacks exited 0"; fi
grep -q "2 stacks are running" "$T/mon3.out" && grep -q "parrot" "$T/mon3.out" && grep -q "other" "$T/mon3.out" \
    || { cat "$T/mon3.out"; fail "mon with two stacks did not list them"; }
ok "mon with two stacks running lists them and exits non-zero"
"$BIN/voxmesh" mon --graph other --count 2 --seconds 10 health. > "$T/mon4.out" 2>&1
grep -q "vm-$RUN_ID-o.sub" "$T/mon4.out" && grep -q '^health\.' "$T/mon4.out" \
    || { cat "$T/mon4.out"; fail "mon --graph other did not tap the second stack"; }
ok "mon --graph other taps the second stack"
kill -TERM $UP2; wait $UP2
[ ! -e "$VOXMESH_RUNTIME_DIR/stacks/other-$UP2.stack" ] || fail "the stopped stack is still recorded"
ok "a stopped stack is no longer recorded"

CODEC=$(pgrep -f "voxmesh-codec --name=codec .*vm-$RUN_ID" | head -1)
[ -n "$CODEC" ] || fail "codec is not running"
kill -KILL "$CODEC"
wait_for "$T/up.out" "codec was killed by signal 9" 10 || fail "up did not notice the kill"
for i in $(seq 1 100); do
    NEW=$(pgrep -f "voxmesh-codec --name=codec .*vm-$RUN_ID" | head -1)
    [ -n "$NEW" ] && [ "$NEW" != "$CODEC" ] && break
    sleep 0.1
done
[ -n "$NEW" ] && [ "$NEW" != "$CODEC" ] || fail "codec was not restarted"
ok "codec killed with SIGKILL (pid $CODEC) and restarted (pid $NEW)"

kill -TERM $UP
for i in $(seq 1 100); do kill -0 $UP 2>/dev/null || break; sleep 0.1; done
kill -0 $UP 2>/dev/null && fail "up did not stop on SIGTERM"
wait $UP; rc=$?
[ $rc -eq 0 ] || fail "up exited $rc"
left=$(pgrep -f "vm-$RUN_ID" | wc -l)
[ "$left" -eq 0 ] || fail "$left processes left behind"
ok "SIGTERM stops every service, exit 0"
