# The installed units under a real systemd (docs/deploy-systemd.md): a
# container (systemd-nspawn, this host's /usr read-only, a tmpfs root, its own
# network namespace) boots systemd as PID 1 straight into voxmesh.target,
# with `make install PREFIX=/usr/local` bound into it. Then, with the units'
# hardening really applied:
#  - the generator made the target want the graph's units, and all of them
#    become active (Type=notify: READY=1 under DynamicUser, seccomp, no caps);
#  - each service's process runs as a dynamic user, with seccomp, no
#    capabilities and no_new_privs;
#  - a question over WHIP gets the rules' answer (the agent works hardened);
#  - a service that stops pinging (SIGSTOP) is killed by the watchdog and
#    restarted; `systemctl start voxmesh-stt@1` adds a worker on the bus;
#  - a broken graph and `systemctl restart voxmesh.target`: the check unit
#    fails and no service of the stack is left running;
#  - the scaled graph (dispatch, 2 STT and 2 TTS workers) after a
#    daemon-reload: its units come up and a question is answered.
# test: alone (boots a whole systemd and the stack in a container; its watchdog
# part times a stopped service)
. "$(dirname "$0")/testlib.bash"

command -v systemd-nspawn > /dev/null || { echo "SKIP: systemd-nspawn is missing (package systemd-container)"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: systemd-nspawn needs root"; exit 77; }
L=$T/layer
# Under `make asan` the container gets the plain build: ASan's runtime does
# not start inside the units' sandbox (the check unit's `voxmesh check`
# exits 1 there), and what this test checks is the units and their
# hardening; the daemons' memory safety is what the other tests check
# under ASan.
IBUILD=$BUILD; ISAN=$MAKE_SAN
if [ -n "${VOXMESH_ASAN:-}" ]; then
    echo "note: under ASan this test installs the plain build (make build) into the container"
    IBUILD=build; ISAN=
    make -C "$TOP" --no-print-directory build BUILD=build > "$T/build.out" 2>&1 || { tail "$T/build.out"; fail "make build failed"; }
fi
make -C "$TOP" --no-print-directory install BUILD="$IBUILD" $ISAN DESTDIR="$L" PREFIX=/usr/local > "$T/install.out" 2>&1 \
    || { cat "$T/install.out"; fail "make install failed"; }
cp -a "$L/etc/voxmesh" "$T/etc-voxmesh"         # bound read-write: the test edits the graph

NSPAWN_PID=
C=                                              # the container's PID 1, as seen from here
stop_container() {
    [ -n "$NSPAWN_PID" ] || return 0
    kill -TERM "$NSPAWN_PID" 2>/dev/null        # nspawn asks the container's systemd to power off
    for _ in $(seq 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || return 0; sleep 0.2; done
    echo "note: the container did not power off within 60 s; killing it. Its console said:"
    sed 's/\x1b\[[0-9;]*m//g' "$T/boot.log" | grep -v '^\s*$' | tail -8
    [ -n "$C" ] && kill -KILL "$C" 2>/dev/null  # the container's init: its whole pid namespace goes
    kill -KILL "$NSPAWN_PID" 2>/dev/null
}
trap 'stop_container; cleanup' EXIT

# --keep-unit --register=no: no systemd on the host to ask for a scope.
# /etc/alternatives and ld.so.cache: the tmpfs /etc lacks them (libblas.so.3).
systemd-nspawn --quiet -D / --volatile=yes --register=no --keep-unit --private-network \
    --machine="vmtest$$" \
    --bind-ro="$L/usr/local:/usr/local" --bind="$T/etc-voxmesh:/etc/voxmesh" \
    --bind-ro=/etc/alternatives --bind-ro=/etc/ld.so.cache \
    -b systemd.unit=voxmesh.target systemd.firstboot=off systemd.mask=systemd-networkd-wait-online.service \
    > "$T/boot.log" 2>&1 < /dev/null &
NSPAWN_PID=$!
for _ in $(seq 100); do
    # systemd is nspawn's child (or grandchild, behind an intermediate nspawn).
    for p in $(pgrep -P "$NSPAWN_PID" 2>/dev/null); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && C=$p
        [ -n "$C" ] || C=$(pgrep -P "$p" -x systemd 2>/dev/null | head -1)
    done
    [ -n "$C" ] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$C" ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$T/boot.log" | tail -20
    echo "SKIP: systemd-nspawn cannot boot a container on this machine"; exit 77
fi
in_c() { nsenter -t "$C" -a env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }   # a clean root shell in the container

units="voxmesh-bus voxmesh-edge voxmesh-codec voxmesh-vad voxmesh-stt@0 voxmesh-llm voxmesh-tts@0"
# all_active "UNITS" SECONDS: every one of UNITS is active (is-active with
# several units succeeds when any one is).
all_active() {
    local i=0 u down
    while [ $i -lt $(($2 * 5)) ]; do
        down=
        for u in $1; do in_c systemctl is-active --quiet "$u" 2>/dev/null || { down=$u; break; }; done
        [ -z "$down" ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}
all_active "voxmesh-check $units" 120 || {
    in_c systemctl list-units 'voxmesh*' --all --no-pager; in_c journalctl -b --no-pager | grep -i voxmesh | tail -20
    fail "the stack did not come up under systemd"
}
wants=$(in_c ls /run/systemd/generator/voxmesh.target.wants | xargs)
[ "$wants" = "voxmesh-bus.service voxmesh-codec.service voxmesh-edge.service voxmesh-llm.service voxmesh-stt@0.service voxmesh-tts@0.service voxmesh-vad.service" ] \
    || fail "the generator wants: $wants"
ok "systemd (PID 1 in a container) started voxmesh.target: check, then $(echo $units | wc -w) units active (generator: $(echo $wants | wc -w) links)"

for u in $units; do
    pid=$(in_c systemctl show -p MainPID --value "$u")
    st=$(in_c cat "/proc/$pid/status")
    uid=$(echo "$st" | awk '/^Uid:/ {print $2}')
    [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] || fail "$u runs as uid $uid, not a dynamic user"
    echo "$st" | grep -q '^Seccomp:[[:space:]]*2' || fail "$u has no seccomp filter"
    echo "$st" | grep -q '^NoNewPrivs:[[:space:]]*1' || fail "$u lacks no_new_privs"
    echo "$st" | grep -q '^CapBnd:[[:space:]]*0000000000000000' || fail "$u keeps capabilities: $(echo "$st" | grep CapBnd)"
done
ok "every service runs as a dynamic user, seccomp on, no capabilities, no_new_privs"

flite -voice slt -t "Hello, what is your name?" -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/q1.wav" pad 0.5 1.5
nsenter -t "$C" -n "$BIN/voxmesh-client" --url http://127.0.0.1:8080 --in "$T/q1.wav" --tail-ms 9000 --out "$T/r1.wav" \
    > "$T/c1.json" 2> "$T/c1.err" || { cat "$T/c1.err"; fail "the WHIP client failed"; }
heard=$("$BIN/voxmesh-stt" --log-level=warn --transcribe="$T/r1.wav" | cut -f2)
for w in name yourself; do [[ " $heard " == *" $w "* ]] || fail "the hardened agent's reply: heard \"$heard\""; done
ok "WHIP into the container: asked \"Hello, what is your name?\", heard \"$heard\""

pid=$(in_c systemctl show -p MainPID --value voxmesh-codec)
in_c kill -STOP "$pid"
for _ in $(seq 100); do
    [ "$(in_c systemctl show -p NRestarts --value voxmesh-codec)" = 1 ] && in_c systemctl is-active --quiet voxmesh-codec && break
    sleep 0.2
done
in_c journalctl -b --no-pager -u voxmesh-codec | grep -q "Failed with result 'watchdog'" \
    || { in_c journalctl -b --no-pager -u voxmesh-codec | tail; fail "the watchdog did not kill a stopped codec"; }
in_c systemctl is-active --quiet voxmesh-codec || fail "the codec was not restarted after the watchdog"
ok "codec stopped with SIGSTOP: killed by the watchdog (WatchdogSec=10s) and restarted (NRestarts=1)"

in_c systemctl start voxmesh-stt@1 || fail "systemctl start voxmesh-stt@1 failed"
in_c /usr/local/bin/voxmesh mon --seconds 3 health. > "$T/mon.out" 2>&1
grep -q "pub=stt.1/" "$T/mon.out" || { cat "$T/mon.out"; fail "the new worker stt.1 is not on the bus"; }
ok "systemctl start voxmesh-stt@1: worker stt.1 on the bus ($(grep -c 'health' "$T/mon.out") health events in 3 s)"

cp "$T/etc-voxmesh/graph" "$T/graph.good"
sed '/^    codec$/d' "$T/graph.good" > "$T/etc-voxmesh/graph"
in_c systemctl restart voxmesh.target > /dev/null 2>&1
sleep 1
in_c systemctl is-failed --quiet voxmesh-check || fail "the check unit did not fail on the broken graph"
for u in $units voxmesh-stt@1; do
    in_c systemctl is-active --quiet "$u" && fail "$u still runs with a broken graph"
done
why=$(in_c journalctl -b --no-pager -u voxmesh-check -o cat | grep "but no service publishes" | tail -1)
ok "broken graph + restart of the target: the check fails, no service runs ($why)"
cp "$T/graph.good" "$T/etc-voxmesh/graph"
in_c systemctl restart voxmesh.target > /dev/null 2>&1
all_active "voxmesh-check $units" 120 || fail "the stack did not come back with the good graph"
ok "good graph again: the stack is back"

cp "$L/usr/local/share/voxmesh/graphs/agent-scaled" "$T/etc-voxmesh/graph"
in_c systemctl daemon-reload || fail "daemon-reload failed"
in_c systemctl restart voxmesh.target > /dev/null 2>&1
scaled="voxmesh-check voxmesh-bus voxmesh-edge voxmesh-codec voxmesh-vad voxmesh-dispatch voxmesh-stt@0 voxmesh-stt@1 voxmesh-llm voxmesh-tts@0 voxmesh-tts@1"
all_active "$scaled" 120 || { in_c systemctl list-units 'voxmesh*' --all --no-pager; fail "the scaled stack did not come up"; }
in_c /usr/local/bin/voxmesh mon --graph /etc/voxmesh/graph --seconds 20 worker.assign. > "$T/assign.out" 2>&1 &
MON=$!
PIDS+=($MON)
sleep 1
nsenter -t "$C" -n "$BIN/voxmesh-client" --url http://127.0.0.1:8080 --in "$T/q1.wav" --tail-ms 9000 --out "$T/r2.wav" \
    > "$T/c2.json" 2> "$T/c2.err" || { cat "$T/c2.err"; fail "the WHIP client failed on the scaled stack"; }
heard=$("$BIN/voxmesh-stt" --log-level=warn --transcribe="$T/r2.wav" | cut -f2)
for w in name yourself; do [[ " $heard " == *" $w "* ]] || fail "the scaled agent's reply: heard \"$heard\""; done
wait "$MON" 2>/dev/null    # mon ends by itself (--seconds): nothing of ours is left in the container
grep -Eo "stt\.[01]|tts\.[01]" "$T/assign.out" | sort -u | xargs > "$T/assigned"
grep -q "stt\." "$T/assigned" && grep -q "tts\." "$T/assigned" || { cat "$T/assign.out"; fail "the dispatcher assigned no STT and TTS worker"; }
ok "agent-scaled after daemon-reload: $(echo $scaled | wc -w) units active, answered (\"$heard\"), session assigned to $(cat "$T/assigned")"
