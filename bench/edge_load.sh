#!/bin/bash
# Edge load: how many concurrent WHIP sessions the parrot stack holds on this
# machine for EDGE_LOAD_SECONDS (60) with under 1 % loss (the issue's target:
# 100), the CPU and RSS they cost per session (per process), and the round-trip
# latency distribution (the edge's histogram and the clients' replies).
# Method and figures: docs/bench-edge.md.
#   bash bench/edge_load.sh                 (after make build; BUILD=... for another tree)
#   EDGE_LOAD_N="25 50 100"                 sessions per step (default 100; one stack, steps in turn)
#   EDGE_LOAD_SECONDS=60                    seconds every session of a step is held concurrently
#   EDGE_LOAD_STAGGER_MS=30                 between client starts
#   EDGE_LOAD_COMPARE=10                    sessions per step recorded and cross-correlated
#   EDGE_LOAD_PERF=1                        also perf-profile the stack for 10 s of each hold
#   EDGE_LOAD_NICE=19                       run the clients niced (default 0: they compete with the stack)
#   EDGE_LOAD_DIRECT=1                      the graph with `direct = true` under bus (docs/bus.md, "Direct")
# Clients are voxmesh-client processes sending a pre-encoded Ogg/Opus file
# (passed through packet for packet: no encoding in the clients). Everything
# runs in a private network namespace (unshare -n: only lo), like
# tests/browser.sh. Exit 0 when the figures were measured (targets met or
# not); 1 when the benchmark could not run (the reason is printed).
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

. "$(dirname "$0")/../tests/testlib.bash"
HERE=$TOP/bench/edge_load
STEPS=${EDGE_LOAD_N:-100}
SECS=${EDGE_LOAD_SECONDS:-60}
STAGGER_MS=${EDGE_LOAD_STAGGER_MS:-30}
SAMPLE=${EDGE_LOAD_COMPARE:-10}
PERF=${EDGE_LOAD_PERF:-0}
NICE=${EDGE_LOAD_NICE:-0}
TAIL_MS=2000
TARGET_N=100
TARGET_LOSS=1
for v in $STEPS $SECS $STAGGER_MS $SAMPLE $NICE; do
    [[ $v =~ ^[0-9]+$ ]] || fail "EDGE_LOAD_N/SECONDS/STAGGER_MS/COMPARE/NICE must be whole numbers (got '$v')"
done
[ -n "$STEPS" ] && [ "$SECS" -ge 5 ] || fail "EDGE_LOAD_N must list at least one step and EDGE_LOAD_SECONDS be >= 5"
for t in flite sox opusenc opusdec curl; do command -v $t > /dev/null || fail "$t is missing (scripts/setup.sh installs it)"; done
CLIENT=$BIN/voxmesh-client
[ -x "$BIN/voxmesh" ] && [ -x "$CLIENT" ] || fail "$BIN/voxmesh or $CLIENT is missing: run make build"
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
MAXN=0
for n in $STEPS; do
    [ "$n" -ge 1 ] || fail "EDGE_LOAD_N: a step of 0 sessions"
    [ "$n" -gt "$MAXN" ] && MAXN=$n
done

# ---- the input: speech-like, long enough that every session of the largest
# step is up for SECS seconds together (the starts are staggered) ------------
# (starting a client costs CPU, a key pair: under load the starts took up to 6
# times the stagger; the hold is cut short, and says so, if they take longer)
LEN=$((SECS + 5 * (MAXN * STAGGER_MS + 999) / 1000 + 10))
flite -t "The quick brown fox jumps over the lazy dog. Voxmesh carries the caller's voice \
through the edge, the codec and the parrot, and back again. One, two, three, four, five, six, \
seven, eight, nine, ten. How much wood would a woodchuck chuck?" -o "$T/s.wav" || fail "flite failed"
d=$(soxi -D "$T/s.wav") || fail "soxi failed"
rep=$(awk -v l="$LEN" -v d="$d" 'BEGIN { print int(l / (d + 0.4)) + 1 }')
sox "$T/s.wav" -r 48000 -c 1 -b 16 "$T/in.wav" pad 0 0.4 repeat "$rep" norm -3 trim 0 "$LEN" \
    || fail "sox could not make the input"
opusenc --quiet --bitrate 32 --framesize 20 "$T/in.wav" "$T/in.opus" || fail "opusenc failed"
opusdec --quiet --rate 48000 "$T/in.opus" "$T/ref.wav" 2> /dev/null || fail "opusdec failed"
EXPECTED=$((LEN * 50))
TIMEOUT_MS=$(((LEN + 30) * 1000 + TAIL_MS))

# ---- the stack ----------------------------------------------------------------------
EDGE_PORT=$(free_port)
export EDGE_PORT
make_graph "$TOP/deploy/graphs/parrot" "$T/parrot" > /dev/null
if [ "${EDGE_LOAD_DIRECT:-0}" = 1 ]; then
    sed -i "s|^\(    sub = .*\)|\1\n    direct = true|" "$T/parrot"
    grep -q "direct = true" "$T/parrot" || fail "could not make the graph direct"
    echo "bus: direct = true (publishers bind, subscribers connect to them; the proxy carries what monitors tap)"
fi
"$BIN/voxmesh" up "$T/parrot" > "$T/up.out" 2>&1 &
UP=$!
PIDS+=("$UP")
wait_for "$T/up.out" "voxmesh: ready" 60 || fail "the parrot stack did not become ready"
URL=http://127.0.0.1:$EDGE_PORT
declare -A SPID
SNAMES="up"
SPID[up]=$UP
for p in $(pgrep -P "$UP"); do
    c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    c=${c#voxmesh-}
    SPID[$c]=$p
    SNAMES="$SNAMES $c"
done
for s in edge codec vad parrot; do [ -n "${SPID[$s]:-}" ] || fail "no $s process under voxmesh up (pid $UP): $SNAMES"; done

# ticks PID...: utime + stime of the processes (all threads), in clock ticks.
# (One awk for all: mawk stops at a file that cannot be opened, so only the
# processes still there are passed.)
procfiles() {
    local f=$1 p; shift
    for p in "$@"; do [ -r "/proc/$p/$f" ] && echo "/proc/$p/$f"; done
}
ticks() {
    local files
    files=$(procfiles stat "$@")
    [ -n "$files" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    awk '{ sub(/.*\) /, ""); s += $12 + $13 } END { print s + 0 }' $files 2> /dev/null || echo 0
}
# rss PID...: summed VmRSS in KiB.
rss() {
    local files
    files=$(procfiles status "$@")
    [ -n "$files" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    awk '/^VmRSS:/ { s += $2 } END { print s + 0 }' $files 2> /dev/null || echo 0
}
# sys PID...: stime alone, in clock ticks.
systicks() {
    local files
    files=$(procfiles stat "$@")
    [ -n "$files" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    awk '{ sub(/.*\) /, ""); s += $13 } END { print s + 0 }' $files 2> /dev/null || echo 0
}
# allticks: "pid comm ticks" for every process on the machine.
allticks() { cat /proc/[0-9]*/stat 2> /dev/null | awk '{ pid = $1; c = $2; sub(/.*\) /, ""); print pid, c, $12 + $13 }'; }
# waits PID...: time the processes' threads spent runnable but waiting for a
# CPU (schedstat), in microseconds: CPU starvation, as opposed to work.
waits() {
    local p files=
    for p in "$@"; do [ -d "/proc/$p/task" ] && files="$files $(echo /proc/"$p"/task/*/schedstat)"; done
    [ -n "$files" ] || { echo 0; return; }
    # shellcheck disable=SC2086
    cat $files 2> /dev/null | awk '{ s += $2 } END { printf "%.0f\n", s / 1000 }'
}
# machine: "busy total" ticks over all CPUs from /proc/stat.
# Busy excludes steal (time the hypervisor gave to someone else: this is a VM
# here); then user+nice, system, irq+softirq and steal, for the breakdown.
# (guest time is already inside user.)
machine() { awk '$1 == "cpu" { t = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; print t - $5 - $6 - $9, t, $2 + $3, $4, $7 + $8, $9; exit }' /proc/stat; }
health() { curl -s -m 1 "$URL/health" | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p'; }
jnum() { grep -o "\"$2\":[-0-9.a-z]*" "$1" 2>/dev/null | head -1 | cut -d: -f2; }
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
pct() { awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / (b * s) : 0) }'; }   # ticks over seconds, % of one core

i0=$(ticks "${SPID[@]}"); t_i=$EPOCHREALTIME; m0=$(machine); sleep 2; m1=$(machine)
IDLE_CPU=$(pct $(($(ticks "${SPID[@]}") - i0)) $HZ "$(since "$t_i")")
IDLE_BUSY=$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", ((y[2] - x[2]) > 0 ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }')
declare -A IDLE_RSS
for s in $SNAMES; do IDLE_RSS[$s]=$(rss "${SPID[$s]}"); done
IDLE_TOTAL=$(rss "${SPID[@]}")
echo "parrot stack on $URL (voxmesh up pid $UP: $(for s in $SNAMES; do printf '%s %s ' "$s" "${SPID[$s]}"; done)); idle: RSS $((IDLE_TOTAL / 1024)) MiB, CPU $IDLE_CPU % of one core"
[ $NETNS = 1 ] && echo "private network namespace: $(ip -br addr show | awk '{printf "%s %s ", $1, $3}')"
echo "input: $LEN s Ogg/Opus (flite speech, 48 kHz mono, 32 kbit/s, 20 ms frames, $EXPECTED packets); $NCPU CPUs, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); machine busy before the load: $IDLE_BUSY % (anything else running skews the CPU figures)"
echo "steps: $STEPS sessions, each held ${SECS} s together; clients started ${STAGGER_MS} ms apart, nice $NICE"

# ---- one step ---------------------------------------------------------------------------
declare -A R   # R[N,key]: the figures of each step
ANY_CONNECTED=0
step() {
    local N=$1 D=$T/n$1 i
    mkdir -p "$D"
    curl -s -m 2 "$URL/metrics" > "$D/m0"
    # edge in -> codec out on the bus, per second (before the edge's pacer)
    "$BIN/voxmesh" mon --bus "ipc://@vm-$RUN_ID.sub" --stats audio.out.opus. > "$D/mon.out" 2>&1 &
    local MON=$!
    PIDS+=("$MON")
    declare -A sampled=()
    local k=$((SAMPLE < N ? SAMPLE : N))
    for ((i = 0; i < k; i++)); do sampled[$((1 + i * N / k))]=1; done
    local CP=() t0 out
    t0=$(now)
    for ((i = 1; i <= N; i++)); do
        out=()
        [ -n "${sampled[$i]:-}" ] && out=(--out "$D/r$i.wav")
        nice -n "$NICE" "$CLIENT" --url "$URL" --in "$T/in.opus" "${out[@]}" --tail-ms $TAIL_MS --timeout-ms $TIMEOUT_MS -v \
            > "$D/c$i.json" 2> "$D/c$i.err" &
        CP+=($!)
        PIDS+=($!)
        sleep "$(awk -v m="$STAGGER_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
    done
    local started h=0 w=0 up
    # the hold starts when every client is connected or gone (at most 10 s after the last start)
    while [ $w -lt 100 ]; do
        up=$(grep -l "connected in " "$D"/c*.err 2> /dev/null | wc -l)
        [ "$up" -ge "$N" ] && break
        [ $((up + $(for p in "${CP[@]}"; do kill -0 "$p" 2> /dev/null || echo x; done | wc -l))) -ge "$N" ] && break
        sleep 0.1; w=$((w + 1))
    done
    started=$(since "$t0")
    local ts=$EPOCHREALTIME ms0 ms1 c0 c1 mon0 mon1 hold
    # the hold ends after SECS, or 1 s before the first client's input ends
    hold=$(awk -v a="$ts" -v t0="$t0" -v s="$SECS" -v l="$LEN" 'BEGIN { e = t0 + l - 1 - a; printf "%.3f", (e < s ? e : s) }')
    declare -A s0=() s1=() srss=()
    declare -A w0=() w1=()
    for s in $SNAMES; do s0[$s]=$(ticks "${SPID[$s]}"); w0[$s]=$(waits "${SPID[$s]}"); srss[$s]=0; done
    c0=$(ticks "${CP[@]}"); mon0=$(ticks $MON); ms0=$(machine); allticks > "$D/all0"
    local sys0 sys1
    sys0=$(systicks "${SPID[@]}")
    local hmin=999999 hmax=0 hmiss=0 crss=0 r tick=0 perfpid=
    if [ "$PERF" = 1 ] && command -v perf > /dev/null; then
        (sleep 5; perf record -q -F 199 -g -o "$D/perf.data" -p "$(IFS=,; echo "${SPID[*]}")" -- sleep 10 \
            > "$D/perf.out" 2>&1) &
        perfpid=$!
    fi
    while :; do
        h=$(health)   # empty when the edge did not answer within 1 s
        if [ -n "$h" ]; then
            [ "$h" -lt $hmin ] && hmin=$h
            [ "$h" -gt $hmax ] && hmax=$h
        else
            hmiss=$((hmiss + 1))
        fi
        if [ $((tick % 5)) = 2 ]; then
            for s in $SNAMES; do r=$(rss "${SPID[$s]}"); [ "$r" -gt "${srss[$s]}" ] && srss[$s]=$r; done
            r=$(rss "${CP[@]}"); [ "$r" -gt $crss ] && crss=$r
        fi
        tick=$((tick + 1))
        awk -v a="$ts" -v b="$EPOCHREALTIME" -v s="$hold" 'BEGIN { exit !(b - a >= s - 1) }' && break
        sleep 1
    done
    while awk -v a="$ts" -v b="$EPOCHREALTIME" -v s="$hold" 'BEGIN { exit !(b - a < s) }'; do sleep 0.05; done
    local win
    win=$(since "$ts")
    for s in $SNAMES; do s1[$s]=$(ticks "${SPID[$s]}"); w1[$s]=$(waits "${SPID[$s]}"); done
    c1=$(ticks "${CP[@]}"); mon1=$(ticks $MON); ms1=$(machine); allticks > "$D/all1"
    sys1=$(systicks "${SPID[@]}")
    local alive=0
    for p in "${CP[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
    # the clients finish their input and tail
    local rc
    for ((i = 1; i <= N; i++)); do
        wait "${CP[$((i - 1))]}"; rc=$?
        echo $rc > "$D/c$i.rc"
    done
    [ -n "$perfpid" ] && wait $perfpid
    sleep 1.5   # the codec logs each session's end
    kill -TERM $MON 2>/dev/null; wait $MON 2>/dev/null
    curl -s -m 2 "$URL/metrics" > "$D/m1"

    # per-client rows
    grep -o "codec: info: session [0-9a-f]*: ended; in [0-9]* packets ([0-9]* lost" "$T/up.out" \
        | awk '{ id = $4; sub(/:$/, "", id); l = $9; sub(/^\(/, "", l); print id, $7, l }' > "$D/codec.txt"
    : > "$D/rows.tsv"
    local j sid cin clost line late jumps lag peak
    for ((i = 1; i <= N; i++)); do
        j=$D/c$i.json
        sid=$(grep -o '"session":"[^"]*"' "$j" 2>/dev/null | sed 's|.*/||; s|"$||')
        cin=null; clost=null
        if [ -n "$sid" ]; then
            line=$(grep -m1 "^$sid " "$D/codec.txt")
            [ -n "$line" ] && { cin=$(echo "$line" | cut -d' ' -f2); clost=$(echo "$line" | cut -d' ' -f3); }
        fi
        line=$(grep -m1 "received [0-9]* RTP packets" "$D/c$i.err")
        late=$(echo "$line" | sed -n 's/.* \([0-9]*\) late.*/\1/p'); jumps=$(echo "$line" | sed -n 's/.* \([0-9]*\) timestamp jumps.*/\1/p')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$(cat "$D/c$i.rc")" \
            "$(jnum "$j" connect_ms)" "$(jnum "$j" first_audio_ms)" "$(jnum "$j" reply_latency_ms)" \
            "$(jnum "$j" packets_sent)" "$(jnum "$j" packets_received)" "$(jnum "$j" packets_lost)" \
            "$(jnum "$j" rtt_ms)" "$(jnum "$j" jitter_ms)" "$cin" "$clost" "${jumps:-null}" "${late:-null}" \
            null null >> "$D/rows.tsv"
    done
    # the reply's lag behind the input for the recorded sessions: --compare on
    # 20 s from the middle of the hold (both files cut at the same offsets), two at a time
    local seg=$((LEN < 20 ? LEN : 20)) off cmp=() cpids=() q
    off=$(( (LEN - seg) / 2 ))
    for ((i = 1; i <= N; i++)); do
        [ -n "${sampled[$i]:-}" ] && [ -s "$D/r$i.wav" ] && [ "$(cat "$D/c$i.rc")" = 0 ] || continue
        cmp+=("$i")
    done
    [ -f "$T/ref.seg.wav" ] || sox "$T/ref.wav" "$T/ref.seg.wav" trim $off $seg 2> /dev/null
    for i in "${cmp[@]}"; do
        ( sox "$D/r$i.wav" "$D/r$i.seg.wav" trim $off $seg 2> /dev/null \
            && "$CLIENT" --compare "$T/ref.seg.wav" "$D/r$i.seg.wav" > "$D/cmp$i.json" 2> /dev/null
          rm -f "$D/r$i.seg.wav" "$D/r$i.wav" ) &
        cpids+=($!)
        if [ ${#cpids[@]} -ge "$NCPU" ]; then wait "${cpids[0]}"; cpids=("${cpids[@]:1}"); fi
    done
    for q in "${cpids[@]}"; do wait "$q"; done
    for i in "${cmp[@]}"; do
        lag=$(jnum "$D/cmp$i.json" window_lag_ms); peak=$(jnum "$D/cmp$i.json" window_peak)
        awk -F'\t' -v OFS='\t' -v i="$i" -v l="${lag:-null}" -v p="${peak:-null}" \
            '$1 == i { $15 = l; $16 = p } { print }' "$D/rows.tsv" > "$D/rows.tmp" && mv "$D/rows.tmp" "$D/rows.tsv"
    done

    # ---- figures -------------------------------------------------------------------
    while IFS='=' read -r key val; do R[$N,$key]=$val; done \
        < <(awk -v expected=$EXPECTED -f "$HERE/sessions.awk" "$D/rows.tsv")
    [ "${R[$N,connected]}" -gt 0 ] && ANY_CONNECTED=1
    R[$N,held_ok]=${R[$N,held]}
    awk -v w="$win" -v s="$SECS" 'BEGIN { exit !(w < s - 0.5) }' && R[$N,held_ok]="0 (hold ${win}s)"
    R[$N,alive]=$alive; R[$N,hmin]=$hmin; R[$N,hmax]=$hmax; R[$N,hmiss]=$hmiss; R[$N,win]=$win; R[$N,started]=$started
    local tot=0 d
    for s in $SNAMES; do
        d=$((s1[$s] - s0[$s])); tot=$((tot + d))
        R[$N,cpu_$s]=$(pct $d $HZ "$win")
        R[$N,wait_$s]=$(pct $((w1[$s] - w0[$s])) 1000000 "$win")
        R[$N,rss_$s]=$(awk -v a="${srss[$s]}" -v b="${IDLE_RSS[$s]}" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
    done
    R[$N,cpu_stack]=$(pct $tot $HZ "$win")
    R[$N,sys_share]=$(awk -v s=$((sys1 - sys0)) -v t=$tot 'BEGIN { printf "%.0f", (t > 0 ? 100 * s / t : 0) }')
    # everything else that ran on the machine during the hold, by command
    R[$N,others]=$(printf '%s\n' "${SPID[@]}" "${CP[@]}" $MON | awk -v hz=$HZ -v w="$win" '
        FILENAME == "-" { skip[$1] = 1; next }
        FILENAME ~ /all0$/ { t0[$1] = $3; next }
        !($1 in skip) && !($1 in t0 && $3 < t0[$1]) { d = $3 - ($1 in t0 ? t0[$1] : 0); if (d > 0) by[$2] += d }
        END { for (c in by) printf "%.1f %s\n", 100 * by[c] / (hz * w), c }' - "$D/all0" "$D/all1" \
        | sort -rn | head -4 | awk '$1 >= 1 { printf "%s%s %s%%", (NR > 1 ? ", " : ""), $2, $1 }')
    R[$N,cpu_stack_per]=$(awk -v c="${R[$N,cpu_stack]}" -v n="$N" 'BEGIN { printf "%.2f", c / n }')
    R[$N,cpu_stack_per_idle]=$(awk -v c="${R[$N,cpu_stack]}" -v i="$IDLE_CPU" -v n="$N" 'BEGIN { printf "%.2f", (c - i) / n }')
    R[$N,cpu_clients]=$(pct $((c1 - c0)) $HZ "$win")
    R[$N,cpu_client_per]=$(awk -v c="${R[$N,cpu_clients]}" -v n="$N" 'BEGIN { printf "%.2f", c / n }')
    R[$N,cpu_mon]=$(pct $((mon1 - mon0)) $HZ "$win")
    R[$N,busy]=$(awk -v a="$ms0" -v b="$ms1" -v n="$NCPU" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f", ((y[2] - x[2]) > 0 ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }')
    R[$N,machine_split]=$(awk -v a="$ms0" -v b="$ms1" -v hz=$HZ -v w="$win" 'BEGIN { split(a, x, " "); split(b, y, " ");
        printf "%.0f/%.0f/%.0f/%.0f", 100 * (y[3] - x[3]) / (hz * w), 100 * (y[4] - x[4]) / (hz * w), 100 * (y[5] - x[5]) / (hz * w),
            100 * (y[6] - x[6]) / (hz * w) }')
    R[$N,cpu_other]=$(awk -v b="${R[$N,busy]}" -v n="$NCPU" -v s="${R[$N,cpu_stack]}" -v c="${R[$N,cpu_clients]}" \
        -v m="${R[$N,cpu_mon]}" 'BEGIN { printf "%.1f", b * n - s - c - m }')
    local srt=0
    for s in $SNAMES; do srt=$((srt + srss[$s])); done
    R[$N,rss_stack]=$(awk -v a="$srt" -v b="$IDLE_TOTAL" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
    R[$N,rss_per]=$(( (srt - IDLE_TOTAL) / N ))
    R[$N,rss_client]=$(( crss / N ))
    read -r R[$N,mesh_n] R[$N,mesh_p50] R[$N,mesh_p90] R[$N,mesh_p99] R[$N,mesh_over] \
        < <(awk -v name=voxmesh_edge_mesh_latency_seconds -f "$HERE/histq.awk" "$D/m0" "$D/m1")
    R[$N,bus_e2e]=$(awk '$1 == "audio.out.opus." && $2 + 0 > 0 && $6 ~ /ms$/ { v = $6; sub(/ms$/, "", v); print v + 0 }' "$D/mon.out" \
        | sort -g | awk '{ a[NR] = $1 } END { if (NR) printf "%.2f (%.2f..%.2f)", a[int((NR + 1) / 2)], a[1], a[NR]; else print "-" }')
    # why clients failed
    R[$N,errors]=$(for ((i = 1; i <= N; i++)); do
        [ "$(cat "$D/c$i.rc")" = 0 ] || grep -v ": info:" "$D/c$i.err" | grep -m1 . | sed 's/^[0-9:.]* //; s/[0-9a-f]\{32\}/ID/g'
    done | sort | uniq -c | sort -rn | head -3 | sed 's/^ */    /')
    if [ "$PERF" = 1 ] && [ -s "$D/perf.data" ]; then
        { perf report -i "$D/perf.data" --no-children --sort comm,dso --stdio -g none --percent-limit 2 2> /dev/null \
            | grep -v '^#' | grep -v '^$' | head -12
          echo "  user-space symbols:"
          perf report -i "$D/perf.data" --no-children --sort comm,sym --stdio -g none --percent-limit 0.7 2> /dev/null \
            | grep -v '^#' | grep -v '^$' | grep -v '\[k\]' | head -12; } > "$D/perf.top"
    fi
    printf '  N=%d: %s connected, %s held, loss %s %%, stack CPU %s %% of a core, clients %s %%, machine %s %% busy (%ss to start, hold %ss)\n' \
        "$N" "${R[$N,connected]}" "${R[$N,held]}" "${R[$N,loss_pct]}" "${R[$N,cpu_stack]}" "${R[$N,cpu_clients]}" \
        "${R[$N,busy]}" "$started" "$win"
    if [ -s "$D/perf.top" ]; then echo "  perf, 10 s of the hold (stack processes, % of samples):"; sed 's/^/    /' "$D/perf.top"; fi
    # leave the edge empty before the next step
    w=0
    while [ $w -lt 50 ]; do h=$(health); [ "${h:-1}" = 0 ] && break; sleep 0.1; w=$((w + 1)); done
}

for n in $STEPS; do
    echo "step: $n sessions..."
    step "$n"
done
kill -0 $UP 2>/dev/null || echo "note: voxmesh up exited during the run"

# ---- the table ------------------------------------------------------------------------
row() {  # LABEL TARGET FORMAT-KEY...: one value per step
    local label=$1 target=$2; shift 2
    printf '%-44s' "$label"
    for n in $STEPS; do printf ' %20s' "$(eval "echo \"$*\"")"; done
    printf '   %s\n' "$target"
}
echo
printf '%-44s' "parrot stack, WHIP sessions (N)"
for n in $STEPS; do printf ' %20s' "N=$n"; done
printf '   %s\n' "target"
row "clients connected / failed" "" '${R[$n,connected]} / ${R[$n,failed]}'
row "on the edge's /health, min/max (no answer)" "" '${R[$n,hmin]} / ${R[$n,hmax]} (${R[$n,hmiss]})'
row "all N up after (s) / then held together (s)" "" '${R[$n,started]} / ${R[$n,win]}'
row "held ${SECS} s together, < ${TARGET_LOSS} % loss each way" "$TARGET_N" '${R[$n,held_ok]}'
row "loss client->edge (codec in vs sent)" "< ${TARGET_LOSS} %" '${R[$n,up_loss_pct]} %'
row "loss edge->client (not back by hang-up)" "< ${TARGET_LOSS} %" '${R[$n,down_loss_pct]} %'
row "loss, both ways / worst session" "" '${R[$n,loss_pct]} % / ${R[$n,worst_loss_pct]} %'
row "  RFC 3550 lost at client / codec gaps" "" '${R[$n,rfc_lost]} / ${R[$n,codec_lost]}'
row "  client: late pkts / timestamp jumps" "" '${R[$n,late]} / ${R[$n,jumps]}'
row "stack CPU, % of one core (total)" "" '${R[$n,cpu_stack]}'
row "  of which in the kernel (sys)" "" '${R[$n,sys_share]} %'
row "stack CPU per session, % of one core" "" '${R[$n,cpu_stack_per]}'
row "  per session over idle ($IDLE_CPU %)" "" '${R[$n,cpu_stack_per_idle]}'
for s in $SNAMES; do
    lbl=$s; [ $s = up ] && lbl="voxmesh up (bus proxy)"
    row "  $lbl (+ runnable, waiting)" "" '${R[$n,cpu_'$s']} (+${R[$n,wait_'$s']})'
done
row "clients CPU, % of one core (total/each)" "" '${R[$n,cpu_clients]} / ${R[$n,cpu_client_per]}'
row "machine busy (steal excluded), % of $NCPU CPUs" "" '${R[$n,busy]} %'
row "  user/sys/irq+softirq/steal, % of one core" "" '${R[$n,machine_split]}'
row "  not stack/clients/observer, % of one core" "" '${R[$n,cpu_other]}'
row "stack RSS over idle, MiB (total)" "" '${R[$n,rss_stack]}'
row "stack RSS per session, KiB" "" '${R[$n,rss_per]}'
row "  edge / codec / vad / parrot / up, MiB" "" '${R[$n,rss_edge]}/${R[$n,rss_codec]}/${R[$n,rss_vad]}/${R[$n,rss_parrot]}/${R[$n,rss_up]}'
row "client RSS each, KiB" "" '${R[$n,rss_client]}'
row "edge in->out p50/p90/p99 ms (edge histogram)" "" '${R[$n,mesh_p50]}/${R[$n,mesh_p90]}/${R[$n,mesh_p99]}'
row "bus: edge in->codec out p50 ms (per-s range)" "" '${R[$n,bus_e2e]}'
row "last speech sent->back p50/p90/p99/max ms" "" '${R[$n,reply_p50]}/${R[$n,reply_p90]}/${R[$n,reply_p99]}/${R[$n,reply_max]}'
row "reply lag vs input p50/p90/p99/max ms" "" '${R[$n,lag_p50]}/${R[$n,lag_p90]}/${R[$n,lag_p99]}/${R[$n,lag_max]}'
row "  (sessions matched / unmatched)" "" '${R[$n,lag_n]} / ${R[$n,lag_unmatched]}'
row "first audio p50/p99/max ms" "" '${R[$n,first_p50]}/${R[$n,first_p99]}/${R[$n,first_max]}'
row "connect p50/max ms" "" '${R[$n,connect_p50]}/${R[$n,connect_max]}'
row "RTCP rtt p50/max ms" "" '${R[$n,rtt_p50]}/${R[$n,rtt_max]}'
row "observer (voxmesh mon) CPU, % of one core" "" '${R[$n,cpu_mon]}'
for n in $STEPS; do
    [ -n "${R[$n,others]}" ] && echo "N=$n: other processes on the machine during the hold (% of one core): ${R[$n,others]}"
done
for n in $STEPS; do
    [ -n "${R[$n,errors]}" ] && { echo "N=$n: clients that failed, by reason:"; echo "${R[$n,errors]}"; }
done

warn=$(grep -E ": (error|fatal|warning):|killed by signal|exited with status [1-9]" "$T/up.out" | grep -v "no other service subscribes")
[ -n "$warn" ] && { echo "--- the stack logged ($(echo "$warn" | wc -l) lines; first 10):"; echo "$warn" | head -n 10; }

# what the figures came from: per-client rows, the stack's log, the bus's per-second stats
keep=$TOP/$BUILD/bench-logs/edge_load
rm -rf "$keep" && mkdir -p "$keep" && cp "$T/up.out" "$keep/" 2> /dev/null
for n in $STEPS; do
    for f in rows.tsv mon.out perf.top m1; do [ -f "$T/n$n/$f" ] && cp "$T/n$n/$f" "$keep/n$n.$f"; done
done
echo "logs: $keep (nN.rows.tsv: one line per client, columns in bench/edge_load/sessions.awk)"

# ---- the verdict ------------------------------------------------------------------------
[ $ANY_CONNECTED = 1 ] || fail "no client connected in any step: the benchmark could not run"
best=0; bestn=
for n in $STEPS; do
    awk -v l="${R[$n,up_loss_pct]}" -v m="${R[$n,down_loss_pct]}" -v t=$TARGET_LOSS 'BEGIN { exit !(l < t && m < t) }' \
        && [ "${R[$n,held_ok]%% *}" -ge "$best" ] && { best=${R[$n,held_ok]%% *}; bestn=$n; }
done
lat=
[ -n "$bestn" ] && lat=" (at N=$bestn: edge in->out p50/p99 ${R[$bestn,mesh_p50]}/${R[$bestn,mesh_p99]} ms, first audio p50 ${R[$bestn,first_p50]} ms)"
if [ "$best" -ge $TARGET_N ]; then
    echo "target met: $best sessions held ${SECS} s with < ${TARGET_LOSS} % loss (target $TARGET_N)$lat"
else
    echo "target NOT met: at most ${best} sessions held ${SECS} s with < ${TARGET_LOSS} % loss; target $TARGET_N$lat"
fi
steal=$(for n in $STEPS; do echo "${R[$n,machine_split]##*/}"; done | sort -n | tail -1)
[ "${steal:-0}" -ge 10 ] && echo "note: the hypervisor stole up to ${steal} % of one core during a hold (steal time): this VM's 2 CPUs were not all ours"
exit 0
