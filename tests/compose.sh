# The container deployment (deploy/Dockerfile, deploy/docker-compose.yml;
# docs/deploy-compose.md), without a Docker engine:
#  - the compose file is `voxmesh compose deploy/graphs/agent-scaled`, byte for byte,
#    and a changed graph makes that comparison fail;
#  - every service it names is a binary of ours that answers --describe with
#    the options the file gives it, reaches the bus container over tcp, and
#    names itself uniquely per container; its files and programs are in the
#    image the Dockerfile makes (tests/compose_check.py replays it);
#  - the Dockerfile builds with scripts/setup.sh (the README's set-up) and
#    make, and its runtime stage has the libraries and the models;
#  - the checker itself fails on broken files.
. "$(dirname "$0")/testlib.bash"
cd "$TOP" || fail "no source tree"

python3 -c 'import yaml' 2>/dev/null || fail "python3 with PyYAML (python3-yaml, scripts/setup.sh) is needed"
GRAPH=deploy/graphs/agent-scaled
COMPOSE=deploy/docker-compose.yml

# ---- the compose file is the graph's -----------------------------------------
"$BIN/voxmesh" compose "$GRAPH" > "$T/agent.yml" 2> "$T/compose.err" || { cat "$T/compose.err"; fail "voxmesh compose $GRAPH failed"; }
diff -u "$COMPOSE" "$T/agent.yml" > "$T/diff" || { cat "$T/diff"; fail "$COMPOSE is not the output of 'voxmesh compose $GRAPH': regenerate it (build/bin/voxmesh compose -o $COMPOSE $GRAPH)"; }
ok "$COMPOSE is 'voxmesh compose $GRAPH' ($(grep -c '^  [a-z]*:$' "$COMPOSE") containers)"

# The same graph elsewhere gives the same file; a changed one does not.
mkdir -p "$T/tree/deploy/graphs"
cp "$GRAPH" "$T/tree/$GRAPH"
(cd "$T/tree" && "$BIN/voxmesh" compose "$GRAPH" 2>/dev/null) > "$T/same.yml" || fail "compose in a copy of the tree failed"
cmp -s "$COMPOSE" "$T/same.yml" || fail "the compose file depends on where the tree is"
# (stt gets replicas = 3, replacing any replicas it has; the tts voice changes)
awk '/^    [A-Za-z]/ { in_stt = ($0 == "    stt") } in_stt && /^        replicas *=/ { next }
     { print } $0 == "    stt" { print "        replicas = 3" }' "$GRAPH" | sed 's/voice = slt/voice = kal/' > "$T/tree/$GRAPH"
grep -q "replicas = 3" "$T/tree/$GRAPH" && grep -q "voice = kal" "$T/tree/$GRAPH" || fail "could not change the graph copy"
(cd "$T/tree" && "$BIN/voxmesh" compose "$GRAPH" 2>/dev/null) > "$T/changed.yml" || fail "compose of the changed graph failed"
if diff -u "$COMPOSE" "$T/changed.yml" > "$T/diff2"; then fail "a changed graph (stt replicas, tts voice) gives the same compose file"; fi
grep -q '^+      replicas: 3$' "$T/diff2" && grep -q '^+.*"--voice=kal"' "$T/diff2" \
    || { cat "$T/diff2"; fail "the diff of the changed graph does not show its changes"; }
ok "a changed graph fails the comparison: $(grep -c '^[-+] ' "$T/diff2") lines differ (replicas: 3, --voice=kal)"

# A graph that does not pass the check gets no compose file.
sed 's/^    vad$/    vadx/' "$GRAPH" > "$T/tree/$GRAPH"
sed -i 's/^    codec$/    parrot/' "$T/tree/$GRAPH"
printf 'bus\n    pub = ipc://@x.pub\n    sub = ipc://@x.sub\nservices\n    vad\n' > "$T/tree/deploy/graphs/broken"
if (cd "$T/tree" && "$BIN/voxmesh" compose deploy/graphs/broken > "$T/broken.yml" 2> "$T/broken.err"); then
    fail "a graph whose vad is fed by nobody got a compose file"
fi
grep -q "does not pass .voxmesh check." "$T/broken.err" || { cat "$T/broken.err"; fail "no reason given for the broken graph"; }
[ ! -s "$T/broken.yml" ] || fail "a compose file was printed for the broken graph"
ok "a graph that fails 'voxmesh check' gets no compose file"

# ---- the compose files and the image, structurally ---------------------------
# The shipped agent stack, the other shipped graphs, and the changed agent
# (replicas) must all pass: the generator is not tuned to one graph.
for g in parrot greeter; do
    "$BIN/voxmesh" compose "deploy/graphs/$g" > "$T/$g.yml" 2>/dev/null || fail "voxmesh compose deploy/graphs/$g failed"
done
cp "$T/changed.yml" "$T/changed-agent.yml"
python3 tests/compose_check.py "$TOP" deploy/Dockerfile "$COMPOSE" "$T/parrot.yml" "$T/greeter.yml" "$T/changed-agent.yml" > "$T/check.out" 2>&1 \
    || { cat "$T/check.out"; fail "structural check"; }
ok "structure: every program is in the image and answers --describe with its options; bus over tcp; names per container; ports; files (agent, parrot, greeter, agent with replicas)"

# The checker fails on what it must catch (so the pass above means something).
expect_problem() {  # NAME FILE PATTERN [DOCKERFILE]
    if python3 tests/compose_check.py "$TOP" "${4:-deploy/Dockerfile}" "$2" > "$T/m.out" 2>&1; then
        fail "the checker passed a broken file ($1)"
    fi
    grep -q -- "$3" "$T/m.out" || { cat "$T/m.out"; fail "the checker did not say '$3' ($1)"; }
}
sed '0,/--bus-sub=tcp:\/\/bus:5561/s//--bus-sub=tcp:\/\/bus:5599/' "$COMPOSE" > "$T/m1.yml"
expect_problem "wrong bus port" "$T/m1.yml" "but the bus container serves"
sed 's/"voxmesh-tts"/"voxmesh-tss"/' "$COMPOSE" > "$T/m2.yml"
expect_problem "unknown program" "$T/m2.yml" "program voxmesh-tss is not in the image"
sed 's/--decoders=2/--decoderz=2/' "$COMPOSE" > "$T/m3.yml"
expect_problem "unknown option" "$T/m3.yml" "unknown option --decoderz"
sed 's/--name=stt\.\$\$HOSTNAME/--name=stt/' "$COMPOSE" > "$T/m4.yml"
expect_problem "fixed instance name" "$T/m4.yml" "does not name itself stt.HOSTNAME"
sed 's/"127.0.0.1:8080:8080"/"127.0.0.1:8081:8081"/' "$COMPOSE" > "$T/m5.yml"
expect_problem "port not published" "$T/m5.yml" "listens on 8080 but does not publish it"
grep -v '^COPY deploy/' deploy/Dockerfile > "$T/Dockerfile.nodeploy"
expect_problem "deploy/ not copied" "$COMPOSE" "deploy/rules/agent.rules is not in the image" "$T/Dockerfile.nodeploy"
sed 's|RUN scripts/setup.sh --server|RUN apt-get update \&\& apt-get install -y build-essential|' deploy/Dockerfile > "$T/Dockerfile.nosetup"
expect_problem "no setup.sh" "$COMPOSE" "does not run scripts/setup.sh" "$T/Dockerfile.nosetup"
sed 's/ pocketsphinx-en-us / /' deploy/Dockerfile > "$T/Dockerfile.nomodel"
expect_problem "no model" "$COMPOSE" "does not install pocketsphinx-en-us" "$T/Dockerfile.nomodel"
sed 's|^COPY --from=build /src/build/bin/ /usr/local/bin/|COPY --from=build /src/build/bin/voxmesh /usr/local/bin/|' deploy/Dockerfile > "$T/Dockerfile.onebin"
expect_problem "binaries not copied" "$COMPOSE" "program voxmesh-edge is not in the image" "$T/Dockerfile.onebin"
ok "the checker catches: a wrong bus port, an unknown program or option, a fixed name, an unpublished port, deploy/ or the binaries not copied, no setup.sh, no model"

# ---- the runtime stage's packages -----------------------------------------------
# The image installs what deploy/runtime-packages.sh lists (run in the build
# stage) plus pocketsphinx-en-us. Here, on the same Debian: the list must come
# out, and hold the packages of the libraries the speech services load.
deploy/runtime-packages.sh "$BIN"/* > "$T/packages" 2> "$T/packages.err" || { cat "$T/packages.err"; fail "deploy/runtime-packages.sh failed"; }
for spec in voxmesh-tts:libflite_cmu_us_slt voxmesh-tts:libflite.so voxmesh-stt:libpocketsphinx voxmesh-edge:libnice voxmesh:libzmq; do
    bin=${spec%%:*} lib=${spec#*:}
    path=$(ldd "$BIN/$bin" | awk -v l="$lib" 'index($1, l) == 1 && $2 == "=>" { print $3; exit }')
    [ -n "$path" ] || fail "$bin does not load $lib"
    pkg=$( (dpkg-query -S "$path" || dpkg-query -S "/usr$path") 2>/dev/null | head -n 1 | cut -d: -f1)
    grep -qx "$pkg" "$T/packages" || fail "$lib ($pkg) of $bin is not among the runtime packages"
done
# The STT's default model files belong to the package the runtime stage adds.
for f in $("$BIN/voxmesh-stt" --help 2>&1 | grep -oE '/usr/share/pocketsphinx/[^] ]+' | sort -u); do
    pkg=$(dpkg-query -S "$f" 2>/dev/null | head -n 1 | cut -d: -f1)
    [ "$pkg" = pocketsphinx-en-us ] || fail "the STT model $f comes from '$pkg', not pocketsphinx-en-us"
done
ok "runtime packages: $(wc -l < "$T/packages") ($(grep -cE '^lib(flite|pocketsphinx|zmq|nice)' "$T/packages") of them flite, pocketsphinx, zmq, nice); the STT model is pocketsphinx-en-us"

# The set-up the build stage runs leaves out only the browser and bench parts.
grep -q 'chromium janus' scripts/setup.sh && grep -q -- '--server' scripts/setup.sh || fail "setup.sh has no --server set"
sh scripts/setup.sh --bogus > /dev/null 2>&1 && fail "setup.sh accepted a bad argument"

# ---- docker compose's own validation, when the client has it ---------------------
# `docker compose config` only parses (no engine). Not installed here; used
# when it is, and never with network access.
if docker compose version > /dev/null 2>&1; then
    timeout 60 docker compose -f "$COMPOSE" config -q > "$T/dc.out" 2>&1 || { cat "$T/dc.out"; fail "docker compose config rejects $COMPOSE"; }
    ok "docker compose config accepts $COMPOSE"
else
    echo "note: no 'docker compose' plugin here: its own validation not run"
fi
echo "compose: all ok"
