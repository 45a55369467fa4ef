# `make install` and the systemd units (docs/deploy-systemd.md):
#  1. into DESTDIR=$T/root PREFIX=/usr: the files are there, the installed
#     binaries answer --describe, the installed graph names the installed
#     rules and STT text and passes `voxmesh check` with the installed
#     binaries, `systemd-analyze verify --root` passes every unit and fails
#     a unit whose binary is missing, the generator's `voxmesh units` wants
#     what the graph says, and the check unit's commands fail on a broken
#     graph (and on a graph naming a service without a unit);
#  2. into PREFIX=$T/p (real paths): the units' own ExecStart= commands
#     (check, conf, bus, every service, a worker instance) bring the agent up
#     from the generated configs: READY=1 and WATCHDOG=1 from every process
#     on its NOTIFY_SOCKET, and a question over WHIP gets the rules' answer.
# systemd is not PID 1 here: the units' hardening itself is not exercised.
. "$(dirname "$0")/testlib.bash"

command -v systemd-analyze > /dev/null || fail "systemd-analyze is missing (package systemd)"
R=$T/root
U=$R/usr/lib/systemd/system
make -C "$TOP" --no-print-directory install BUILD="$BUILD" $MAKE_SAN DESTDIR="$R" PREFIX=/usr > "$T/install.out" 2>&1 \
    || { cat "$T/install.out"; fail "make install failed"; }

units="voxmesh-bus.service voxmesh-check.service voxmesh-edge.service voxmesh-codec.service voxmesh-vad.service
       voxmesh-dispatch.service voxmesh-llm.service voxmesh-stt@.service voxmesh-tts@.service voxmesh.target"
daemons="edge codec vad dispatch stt llm tts parrot greeter"
for f in usr/bin/voxmesh usr/bin/voxmesh-client $(for d in $daemons; do echo usr/bin/voxmesh-$d; done) \
         $(for u in $units; do echo usr/lib/systemd/system/$u; done) usr/lib/systemd/system-generators/voxmesh-generator \
         usr/share/voxmesh/graphs/agent usr/share/voxmesh/graphs/agent-scaled usr/share/voxmesh/graphs/parrot usr/share/voxmesh/graphs/greeter \
         usr/share/voxmesh/rules/agent.rules usr/share/voxmesh/stt/agent.txt etc/voxmesh/graph; do
    [ -s "$R/$f" ] || fail "make install did not install /$f"
done
for f in usr/bin/voxmesh usr/lib/systemd/system-generators/voxmesh-generator; do
    [ -x "$R/$f" ] || fail "/$f is not executable"
done
if grep -rn '@BINDIR@\|@SYSCONFDIR@\|@UNITDIR@' "$U" "$R/usr/lib/systemd/system-generators" > "$T/subst.out"; then
    cat "$T/subst.out"; fail "a placeholder was left in an installed unit"
fi
grep -q '^ExecStart=/usr/bin/voxmesh-stt ' "$U/voxmesh-stt@.service" || fail "the stt unit does not run /usr/bin/voxmesh-stt"
ok "make install DESTDIR PREFIX=/usr: $(find "$R" -type f | wc -l) files, paths filled in"

for d in $daemons; do
    "$R/usr/bin/voxmesh-$d" --describe > "$T/describe.out" 2>&1 || { cat "$T/describe.out"; fail "installed voxmesh-$d --describe failed"; }
    grep -q "^service = $d" "$T/describe.out" || { cat "$T/describe.out"; fail "installed voxmesh-$d --describe says no service"; }
done
ok "the installed daemons answer --describe ($daemons)"

# The installed graphs name the installed files, and those exist.
if grep -n '= *deploy/' "$R"/usr/share/voxmesh/graphs/* "$R/etc/voxmesh/graph"; then fail "an installed graph still names deploy/..."; fi
for p in $(sed -n 's|^ *[a-z-]* *= *\(/usr/share/voxmesh/[^ ]*\)$|\1|p' "$R/etc/voxmesh/graph"); do
    [ -s "$R$p" ] || fail "the installed graph names $p, which was not installed"
    n=$((${n:-0} + 1))
done
[ "${n:-0}" -ge 2 ] || fail "the installed graph names no installed rules/STT text (found ${n:-0} paths)"
cmp -s "$R/etc/voxmesh/graph" "$R/usr/share/voxmesh/graphs/agent" || fail "/etc/voxmesh/graph is not the agent graph"
(unset VOXMESH_BIN_DIR; PATH=/usr/bin:/bin "$R/usr/bin/voxmesh" check "$R/etc/voxmesh/graph") > "$T/check.out" 2>&1 \
    || { cat "$T/check.out"; fail "the installed graph does not pass check with the installed binaries"; }
ok "installed graph: $n paths into /usr/share/voxmesh; $(tail -1 "$T/check.out" | sed "s|$R||")"

# systemd-analyze verify: --root resolves ExecStart= inside the tree. The
# tree lacks systemd's own units (sysinit.target, system.slice...), so the
# verify root is the installed tree (hard links) plus the host's.
V=$T/vroot
cp -al "$R" "$V"
cp -n /lib/systemd/system/*.target /lib/systemd/system/*.slice /lib/systemd/system/*.socket "$V/usr/lib/systemd/system/" 2>/dev/null
verify() { systemd-analyze verify --man=no --generators=no --root="$V" "$V/usr/lib/systemd/system/$1"; }
for u in $units; do
    verify "$u" > "$T/verify.out" 2>&1 || { cat "$T/verify.out"; fail "systemd-analyze verify $u failed"; }
    [ -s "$T/verify.out" ] && { cat "$T/verify.out"; fail "systemd-analyze verify $u complained"; }
done
ok "systemd-analyze verify --root: all $(echo $units | wc -w) units pass"
for b in voxmesh-vad voxmesh-stt; do
    u=$b.service; [ $b = voxmesh-stt ] && u=voxmesh-stt@.service
    rm "$V/usr/bin/$b"
    if verify "$u" > "$T/verify.out" 2>&1; then fail "verify passed $u without its binary"; fi
    grep -q "/usr/bin/$b is not executable" "$T/verify.out" || { cat "$T/verify.out"; fail "verify did not name the missing $b"; }
    cp -a "$R/usr/bin/$b" "$V/usr/bin/$b"
done
ok "verify fails a unit whose binary is missing: $(head -1 "$T/verify.out")"

# What the generator links into voxmesh.target.wants: the graph's services.
GEN="$R/usr/bin/voxmesh units --unit-dir $U"
$GEN "$R/etc/voxmesh/graph" "$T/wants" > "$T/units.out" 2>&1 || { cat "$T/units.out"; fail "voxmesh units failed on the installed graph"; }
want="voxmesh-bus.service voxmesh-codec.service voxmesh-edge.service voxmesh-llm.service voxmesh-stt@0.service voxmesh-tts@0.service voxmesh-vad.service"
[ "$(ls "$T/wants" | xargs)" = "$want" ] || fail "the generator wants $(ls "$T/wants" | xargs), not $want"
[ "$(readlink "$T/wants/voxmesh-stt@0.service")" = "$U/voxmesh-stt@.service" ] || fail "stt@0 does not link to the template"
sed -e 's/^    stt$/    stt\n        replicas = 2/' -e 's/^    tts$/    tts\n        remote = true/' "$R/etc/voxmesh/graph" > "$T/g2"
printf '    external = true\n' > "$T/ext"; sed -i "/^    sub = /r $T/ext" "$T/g2"
$GEN "$T/g2" "$T/wants2" > "$T/units2.out" 2>&1 || { cat "$T/units2.out"; fail "voxmesh units failed on 2 stt replicas"; }
want2="voxmesh-codec.service voxmesh-edge.service voxmesh-llm.service voxmesh-stt@0.service voxmesh-stt@1.service voxmesh-vad.service"
[ "$(ls "$T/wants2" | xargs)" = "$want2" ] || fail "2 stt replicas, remote tts, external bus: wants $(ls "$T/wants2" | xargs), not $want2"
$GEN "$R/usr/share/voxmesh/graphs/agent-scaled" "$T/wants3" > "$T/units3.out" 2>&1 || { cat "$T/units3.out"; fail "voxmesh units failed on agent-scaled"; }
want3="voxmesh-bus.service voxmesh-codec.service voxmesh-dispatch.service voxmesh-edge.service voxmesh-llm.service voxmesh-stt@0.service voxmesh-stt@1.service voxmesh-tts@0.service voxmesh-tts@1.service voxmesh-vad.service"
[ "$(ls "$T/wants3" | xargs)" = "$want3" ] || fail "agent-scaled: wants $(ls "$T/wants3" | xargs), not $want3"
# The installed generator script itself, its paths moved into the tree.
sed -e "s|/usr/|$R/usr/|g; s|/etc/|$R/etc/|g" "$R/usr/lib/systemd/system-generators/voxmesh-generator" > "$T/gen.sh"
mkdir "$T/gen"; sh "$T/gen.sh" "$T/gen" "$T/gen.early" "$T/gen.late" || fail "the generator failed"
[ "$(ls "$T/gen/voxmesh.target.wants" | xargs)" = "$want" ] || fail "the generator script linked $(ls "$T/gen/voxmesh.target.wants" | xargs)"
ok "generator: the graph's units ($(echo $want | wc -w)); agent-scaled: $(echo $want3 | wc -w) with dispatch and 2+2 workers; 2 stt replicas, remote tts, external bus: $want2"

# The check unit's commands, as installed, with the tree's paths.
# unit_cmds UNIT_FILE ROOT RUNDIR [INSTANCE]: its ExecStart= lines, runnable here.
unit_cmds() {
    sed -n 's/^ExecStart=//p' "$1" | sed -e "s|/run/voxmesh/|$3/|g" -e "s|%i|${4:-0}|g" \
        | if [ -n "$2" ]; then sed -e "s|/usr/|$2/usr/|g" -e "s|/etc/|$2/etc/|g"; else cat; fi
}
run_check_unit() {  # UNITDIR ROOT RUNDIR: the check unit's commands in order, as systemd runs them (up to the first failure)
    local line
    while read -r line; do
        # shellcheck disable=SC2086
        $line || return 1
    done < <(unit_cmds "$1/voxmesh-check.service" "$2" "$3")
}
run_check_unit "$U" "$R" "$T/rv" > "$T/cu.out" 2>&1 || { cat "$T/cu.out"; fail "the check unit's commands fail on the installed graph"; }
for s in edge codec vad stt llm tts; do grep -q "^bus-pub = ipc://@voxmesh-agent.pub" "$T/rv/conf/$s.conf" || fail "no $s.conf with the bus"; done
grep -qx 'rules = /usr/share/voxmesh/rules/agent.rules' "$T/rv/conf/llm.conf" || fail "llm.conf does not name the installed rules"
ok "check unit: $(grep -c . "$T/cu.out") lines, $(ls "$T/rv/conf" | wc -l) configs ($(grep -m1 'config files' "$T/cu.out" | sed "s|$R||g"))"
cp "$R/etc/voxmesh/graph" "$T/graph.good"
sed '/^    codec$/d' "$T/graph.good" > "$R/etc/voxmesh/graph"             # nobody feeds the vad any more
if run_check_unit "$U" "$R" "$T/rv2" > "$T/cu2.out" 2>&1; then fail "the check unit passed a graph without codec"; fi
grep -q "FAILED" "$T/cu2.out" || { cat "$T/cu2.out"; fail "the check unit did not say why"; }
[ -e "$T/rv2/conf" ] && fail "the check unit wrote configs for a graph that fails the check"
ok "broken graph: the check unit fails ($(grep -m1 "subscribes" "$T/cu2.out" | sed "s|$R||g"))"
cp "$R/usr/share/voxmesh/graphs/parrot" "$R/etc/voxmesh/graph"       # checks, but parrot has no unit
if run_check_unit "$U" "$R" "$T/rv3" > "$T/cu3.out" 2>&1; then fail "the check unit passed a graph whose parrot has no unit"; fi
grep -q "service 'parrot' has no systemd unit" "$T/cu3.out" || { cat "$T/cu3.out"; fail "no word about parrot's unit"; }
ok "a service without a unit: the check unit fails (service 'parrot' has no systemd unit)"
cp "$T/graph.good" "$R/etc/voxmesh/graph"

# 2. Real paths: the units' commands run the stack.
P=$T/p
make -C "$TOP" --no-print-directory install BUILD="$BUILD" $MAKE_SAN PREFIX="$P" SYSCONFDIR="$P/etc" > "$T/install2.out" 2>&1 \
    || { cat "$T/install2.out"; fail "make install PREFIX=$P failed"; }
port=$(make_graph "$P/etc/voxmesh/graph" "$T/g3") && cp "$T/g3" "$P/etc/voxmesh/graph"
run_check_unit "$P/lib/systemd/system" "" "$T/rr" > "$T/cu4.out" 2>&1 || { cat "$T/cu4.out"; fail "the check unit's commands fail with PREFIX=$P"; }

cat > "$T/notify.py" <<'PY'
import os, socket, sys, select
out = open(sys.argv[1], "a", buffering=1)
socks = {}
for name in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(os.path.join(os.path.dirname(sys.argv[1]), "n-" + name))
    socks[s] = name
open(sys.argv[1] + ".bound", "w").write("bound\n")
while True:
    for s in select.select(list(socks), [], [])[0]:
        out.write("%s %s\n" % (socks[s], s.recv(4096).decode().replace("\n", " ")))
PY
procs="bus edge codec vad stt@1 llm tts@0"
mkdir "$T/nfy"
python3 "$T/notify.py" "$T/nfy/log" $procs &
PIDS+=($!)
wait_for "$T/nfy/log.bound" "bound" 5 || fail "the notify listener did not start"
for p in $procs; do
    unit=voxmesh-${p%@*}.service; [ "$p" != "${p%@*}" ] && unit=voxmesh-${p%@*}@.service
    inst=${p#*@}
    cmd=$(unit_cmds "$P/lib/systemd/system/$unit" "" "$T/rr" "$inst")
    # shellcheck disable=SC2086
    NOTIFY_SOCKET=$T/nfy/n-$p WATCHDOG_USEC=2000000 $cmd > "$T/$p.log" 2>&1 &
    PIDS+=($!)
done
for p in $procs; do
    wait_for "$T/nfy/log" "^$p READY=1" 60 || { tail -5 "$T/$p.log"; fail "$p did not report READY=1"; }
done
for p in $procs; do
    wait_for "$T/nfy/log" "^$p WATCHDOG=1" 10 || { tail -5 "$T/$p.log"; fail "$p sent no WATCHDOG=1"; }
done
grep -q "stt.1 ready" "$T/nfy/log" || fail "the stt@1 instance is not named stt.1: $(grep '^stt' "$T/nfy/log" | head -2)"
ok "the units' commands: READY=1 and WATCHDOG=1 from $procs"

flite -voice slt -t "Hello, what is your name?" -o "$T/say.wav" && sox "$T/say.wav" -r 48000 "$T/q1.wav" pad 0.5 1.5
"$P/bin/voxmesh-client" --url "http://127.0.0.1:$port" --in "$T/q1.wav" --tail-ms 9000 --out "$T/r1.wav" > "$T/c1.json" 2> "$T/c1.err" \
    || { cat "$T/c1.err"; fail "the WHIP client failed"; }
heard=$("$BIN/voxmesh-stt" --log-level=warn --transcribe="$T/r1.wav" | cut -f2)
for w in name yourself; do [[ " $heard " == *" $w "* ]] || fail "the reply does not say what the rules promise: heard \"$heard\""; done
ok "WHIP through the units' stack: asked \"Hello, what is your name?\", heard \"$heard\""
