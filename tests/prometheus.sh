# Operations with a real scraper: Debian's prometheus scrapes an agent stack
# through the targets file `voxmesh up` writes (file_sd), with a config
# derived from deploy/prometheus/prometheus.yml (same jobs; loopback, this
# run's paths and ports, a 1 s interval). Two spoken conversations later, the
# voice-to-voice histogram is queried through Prometheus's HTTP API, every
# expression of deploy/grafana/voxmesh-dashboard.json is evaluated there (so
# the dashboard cannot rot), `voxmesh mon --health` lists every instance, and
# Prometheus is checked to have used nothing but loopback before it is
# stopped.
. "$(dirname "$0")/testlib.bash"

command -v prometheus > /dev/null || { echo "SKIP: no prometheus (scripts/setup.sh installs Debian's)"; exit 77; }
command -v jq > /dev/null || { echo "SKIP: no jq (scripts/setup.sh installs it)"; exit 77; }

export EDGE_PORT=$(free_port)
make_graph "$TOP/deploy/graphs/agent" "$T/agent" > /dev/null
# One recogniser decoder: half the start-up on a busy machine, and two
# conversations one after the other need no more.
sed -i 's/decoders = 2/decoders = 1/' "$T/agent"
"$BIN/voxmesh" up "$T/agent" > "$T/up.out" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
wait_for "$T/up.out" "voxmesh: ready" 60 || fail "the agent stack did not become ready"
targets=$T/run/targets/agent-$UP_PID.json
n=$(jq length "$targets" 2>/dev/null)
[ "${n:-0}" -eq 6 ] || { cat "$targets"; fail "the targets file lists ${n:-no} replicas, not the 6 of the graph"; }
ok "voxmesh up lists $n /metrics endpoints in $targets"

# The config: the shipped one with this run's targets directory, edge port
# and a short interval, and nothing else changed.
PROM_PORT=$(free_port)
sed -e "s|/run/voxmesh/targets/|$T/run/targets/|" -e "s|127.0.0.1:8080|127.0.0.1:$EDGE_PORT|" \
    -e "s|scrape_interval: 5s|scrape_interval: 1s|; s|scrape_timeout: 4s|scrape_timeout: 1s|" \
    -e "s|evaluation_interval: 5s|evaluation_interval: 1s|" "$TOP/deploy/prometheus/prometheus.yml" > "$T/prometheus.yml"
changed=$(diff "$TOP/deploy/prometheus/prometheus.yml" "$T/prometheus.yml" | grep -c '^>')
[ "$changed" -eq 5 ] || fail "the derived config changed $changed lines, not the 5 expected: $(diff "$TOP/deploy/prometheus/prometheus.yml" "$T/prometheus.yml")"
grep -v "^ *#" "$T/prometheus.yml" | grep -qE "remote_write|remote_read|alerting|rule_files" && fail "the config reaches beyond this host"
promtool check config "$T/prometheus.yml" > "$T/promtool.out" 2>&1 || { cat "$T/promtool.out"; fail "promtool rejects the config"; }
prometheus --config.file="$T/prometheus.yml" --web.listen-address="127.0.0.1:$PROM_PORT" \
    --storage.tsdb.path="$T/prom" --storage.tsdb.retention.time=1h --log.level=warn > "$T/prom.out" 2>&1 &
PROM_PID=$!
PIDS+=($PROM_PID)
API=http://127.0.0.1:$PROM_PORT/api/v1

# query EXPR: the JSON answer of an instant query.
query() { curl -s --max-time 5 --get --data-urlencode "query=$1" "$API/query"; }
# value EXPR: the first sample's value ("" when the result is empty).
value() { query "$1" | jq -r '.data.result[0].value[1] // empty'; }

for i in $(seq 100); do
    up=$(value 'count(up{job="voxmesh"} == 1)')
    front=$(value 'up{job="voxmesh-edge-front"}')
    [ "${up:-0}" = 6 ] && [ "${front:-0}" = 1 ] && break
    sleep 0.2
done
[ "${up:-0}" = 6 ] || { tail "$T/prom.out"; fail "Prometheus scrapes ${up:-0} of 6 replicas: $(query 'up' | head -c 600)"; }
[ "${front:-0}" = 1 ] || fail "Prometheus does not scrape the edge's front"
services=$(query 'up{job="voxmesh"}' | jq -r '[.data.result[].metric.service] | sort | join(" ")')
[ "$services" = "codec edge llm stt tts vad" ] || fail "the targets' service labels are \"$services\""
ok "Prometheus scrapes the 6 replicas found through file_sd ($services) and the edge's front"

# Two conversations: a question over WHIP, one over /ws.
URL=http://127.0.0.1:$EDGE_PORT
flite -voice slt -t "Hello, what is your name?" -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/q1.wav" pad 0.5 1.5
"$BIN/voxmesh-client" --url "$URL" --in "$T/q1.wav" --tail-ms 6000 --out "$T/r1.wav" > "$T/c1.json" 2> "$T/c1.err" \
    || { cat "$T/c1.err"; fail "the WHIP client failed"; }
flite -voice slt -t "What can you do for me?" -o "$T/say.wav" && sox "$T/say.wav" -r 16000 "$T/q2.wav" pad 0.5 1.5
"$BIN/voxmesh-client" --url "$URL" --transport ws --format pcm16 --rate 16000 --in "$T/q2.wav" --tail-ms 6000 \
    --out "$T/r2.wav" > "$T/c2.json" 2> "$T/c2.err" || { cat "$T/c2.err"; fail "the /ws client failed"; }
ok "two conversations held (WHIP and /ws)"

# The voice-to-voice histogram, through Prometheus: what the edge counted.
edge_count=$(curl -s "$URL/metrics" | awk '/^voxmesh_edge_voice_to_voice_seconds_count/ {print $2}')
[ "${edge_count:-0}" -ge 2 ] || fail "the edge observed voice-to-voice for ${edge_count:-0} turns (want >= 2)"
for i in $(seq 50); do
    count=$(value 'sum(voxmesh_edge_voice_to_voice_seconds_count{job="voxmesh"})')
    [ "${count:-0}" = "$edge_count" ] && break
    sleep 0.2
done
[ "${count:-0}" = "$edge_count" ] || fail "Prometheus has voxmesh_edge_voice_to_voice_seconds_count ${count:-none}, the edge says $edge_count"
p50=$(value 'histogram_quantile(0.5, sum by (le) (rate(voxmesh_edge_voice_to_voice_seconds_bucket[1m])))')
p95=$(value 'histogram_quantile(0.95, sum by (le) (rate(voxmesh_edge_voice_to_voice_seconds_bucket[1m])))')
awk -v a="$p50" -v b="$p95" 'BEGIN { exit !(a > 0.3 && a < 8 && b >= a && b < 10) }' \
    || fail "voice-to-voice p50 \"$p50\" s, p95 \"$p95\" s: not in a plausible range (0.3..8 s, p95 >= p50)"
ok "through Prometheus's API: voice-to-voice _count $count (= the edge's), p50 $(printf %.2f "$p50") s, p95 $(printf %.2f "$p95") s"

# Every expression of the dashboard, with Grafana's variables filled in:
# valid, not empty, and the latency quantiles finite and plausible.
jq -r '.. | objects | select(has("expr")) | .expr' "$TOP/deploy/grafana/voxmesh-dashboard.json" > "$T/exprs"
nexpr=$(wc -l < "$T/exprs")
[ "$nexpr" -ge 20 ] || fail "the dashboard has $nexpr expressions"
while IFS= read -r e; do
    q=${e//\$__rate_interval/1m}
    q=${q//\$graph/.*}
    r=$(query "$q")
    [ "$(echo "$r" | jq -r .status)" = success ] || fail "dashboard expression rejected: $e -> $(echo "$r" | jq -c '{errorType, error}')"
    [ "$(echo "$r" | jq '.data.result | length')" -gt 0 ] || fail "dashboard expression has no data after two conversations: $e"
    if [[ "$e" == *_seconds_bucket* ]]; then
        bad=$(echo "$r" | jq -r '[.data.result[].value[1] | select(. == "NaN" or . == "+Inf" or (tonumber > 30) or (tonumber <= 0))] | length')
        [ "$bad" = 0 ] || fail "dashboard latency not a plausible number: $e -> $(echo "$r" | jq -c '[.data.result[] | {metric, value}]')"
    fi
done < "$T/exprs"
ok "all $nexpr dashboard expressions evaluate in Prometheus with data; the latency quantiles are numbers"

# voxmesh mon --health: every instance, with the pid up started and the
# endpoint Prometheus scraped.
"$BIN/voxmesh" mon --health --seconds 2.5 > "$T/health.out" 2>&1
awk 'BEGIN{RS=""} END{print}' "$T/health.out" > "$T/health.last"
for s in edge codec vad stt llm tts; do
    pid=$(grep -o "started $s (pid [0-9]*)" "$T/up.out" | grep -o '[0-9]*' | tail -n1)
    ep=$(jq -r --arg s "$s" '.[] | select(.labels.service == $s) | .targets[0]' "$targets")
    line=$(awk -v s="$s" '$2 == s' "$T/health.last")
    read -r _ _ hpid hstate _ <<< "$line"
    [ "$hpid" = "$pid" ] && [ "$hstate" = ready ] && [[ "$line" == *" $ep "* ]] \
        || { cat "$T/health.last"; fail "mon --health: $s is \"$line\" (want pid $pid, ready, $ep)"; }
done
ok "voxmesh mon --health: 6 instances ready, with their pids and /metrics endpoints"

# Prometheus used loopback only (no DNS, no update check, no remote write),
# and stops on SIGTERM.
ss -tuanpH 2>/dev/null | grep "pid=$PROM_PID," > "$T/prom.sockets"
awk '{ if ($5 !~ /^(127\.0\.0\.1|\[::1\]|\[::ffff:127\.0\.0\.1\]):/ || ($6 !~ /^(127\.0\.0\.1|\[::1\]|\[::ffff:127\.0\.0\.1\]):/ && $6 !~ /^(0\.0\.0\.0|\*|\[::\]):\*$/)) bad = 1 } END { exit bad }' "$T/prom.sockets" \
    || { cat "$T/prom.sockets"; fail "Prometheus has a socket beyond loopback"; }
[ -s "$T/prom.sockets" ] || fail "no socket of Prometheus seen (ss)"
grep -iE "level=(error|warn)" "$T/prom.out" && fail "Prometheus logged errors or warnings"
kill -TERM $PROM_PID
for i in $(seq 50); do kill -0 $PROM_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $PROM_PID 2>/dev/null && fail "Prometheus did not stop on SIGTERM"
ok "Prometheus had $(wc -l < "$T/prom.sockets") sockets, all on loopback, and stopped on SIGTERM"

grep -E "(error|warn):" "$T/up.out" > "$T/bad.out"
[ -s "$T/bad.out" ] && { head "$T/bad.out"; fail "the stack logged errors or warnings"; }
ok "neither the stack nor Prometheus (before SIGTERM) logged errors or warnings"
kill -TERM $UP_PID
wait $UP_PID
[ -e "$targets" ] && fail "the targets file outlived its stack"
ok "the targets file went with the stack"

# Fixed ports from the graph's base, distinct per replica, and a replica
# killed leaves the targets file and comes back on its port.
export EDGE_PORT=$(free_port)
while :; do
    base=$(free_port)
    ss -ltnH | awk -v b="$base" '{ n = split($4, a, ":"); p = a[n] + 0; if (p >= b && p < b + 5) busy = 1 } END { exit busy }' && break
done
make_graph "$TOP/deploy/graphs/parrot" "$T/parrot" > /dev/null
sed -i -e "s/^    port = 0/    port = $base/" -e "s/replicas = 1/replicas = 2/" "$T/parrot"
"$BIN/voxmesh" up "$T/parrot" > "$T/up2.out" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
wait_for "$T/up2.out" "voxmesh: ready" 30 || fail "the parrot stack did not become ready"
targets=$T/run/targets/parrot-$UP_PID.json
list=$(jq -r '[.[] | "\(.labels.name)=\(.targets[0])"] | join(" ")' "$targets")
want="edge=127.0.0.1:$base codec=127.0.0.1:$((base + 1)) vad=127.0.0.1:$((base + 2)) parrot.0=127.0.0.1:$((base + 3)) parrot.1=127.0.0.1:$((base + 4))"
[ "$list" = "$want" ] || fail "targets: \"$list\", want \"$want\""
for p in $(seq $base $((base + 4))); do
    curl -sf "http://127.0.0.1:$p/metrics" | grep -q '^voxmesh_bus_published_total' || fail "no metrics on port $p"
done
ok "replicas on the graph's ports: $list"
victim=$(grep -o "started parrot.1 (pid [0-9]*)" "$T/up2.out" | grep -o '[0-9]*' | tail -n1)
kill -KILL "$victim"
for i in $(seq 300); do grep -q "parrot.1" "$targets" || break; sleep 0.01; done   # back within ~0.1 s: look often
grep -q "parrot.1" "$targets" && fail "the killed replica is still a target"
for i in $(seq 100); do [ "$(jq length "$targets")" = 5 ] && break; sleep 0.1; done
again=$(jq -r '.[] | select(.labels.name == "parrot.1") | .targets[0]' "$targets")
[ "$again" = "127.0.0.1:$((base + 4))" ] || fail "parrot.1 came back as \"$again\""
ok "parrot.1 killed: out of the targets, back on $again after its restart"
