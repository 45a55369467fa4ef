# Bad input at the edge gets a clear 4xx with a reason and frees everything:
# malformed SDP, no audio m-line, no Opus, wrong content type, oversized body,
# unknown session on DELETE/PATCH, bad ETag, bearer token; and the edge keeps
# serving (health, metrics, sessions count back to 0).
. "$(dirname "$0")/testlib.bash"

PORT=$(free_port)
"$BIN/voxmesh-edge" --listen=127.0.0.1:$PORT --bus-pub=ipc://@vm-$RUN_ID.pub --bus-sub=ipc://@vm-$RUN_ID.sub \
    --token=s3cret --log-level=warn > "$T/edge.log" 2>&1 &
PIDS+=($!)
URL=http://127.0.0.1:$PORT
for i in $(seq 1 50); do curl -s -o /dev/null "$URL/" && break; sleep 0.1; done

AUTH="Authorization: Bearer s3cret"
# expect STATUS "reason substring" curl-args...
expect() {
    local want=$1 reason=$2; shift 2
    local got
    got=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
    [ "$got" = "$want" ] || { echo "body: $(cat "$T/body")"; fail "$* -> $got, want $want"; }
    if [ -n "$reason" ]; then grep -qi -- "$reason" "$T/body" || fail "$* -> $want but the body lacks '$reason': $(cat "$T/body")"; fi
    ok "$want ${reason:+($reason) }for ${*: -1}"
}

# A Chromium-like offer without audio, and one without Opus.
cat > "$T/video_only.sdp" <<'SDP'
v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=mid:0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
a=setup:actpass
a=sendrecv
a=rtcp-mux
a=rtpmap:96 VP8/90000
SDP
sed -e 's/m=video 9 UDP\/TLS\/RTP\/SAVPF 96/m=audio 9 UDP\/TLS\/RTP\/SAVPF 0/' -e 's/a=rtpmap:96 VP8\/90000/a=rtpmap:0 PCMU\/8000/' \
    "$T/video_only.sdp" > "$T/no_opus.sdp"
sed -i 's/$/\r/' "$T/video_only.sdp" "$T/no_opus.sdp"
head -c 70000 /dev/zero | tr '\0' 'a' > "$T/huge.sdp"

expect 401 "" -X POST -H "Content-Type: application/sdp" --data-binary @"$T/no_opus.sdp" "$URL/whip"
expect 415 "application/sdp" -X POST -H "$AUTH" -H "Content-Type: text/plain" --data-binary "v=0" "$URL/whip"
expect 400 "" -X POST -H "$AUTH" -H "Content-Type: application/sdp" --data-binary "this is not sdp" "$URL/whip"
expect 400 "audio" -X POST -H "$AUTH" -H "Content-Type: application/sdp" --data-binary @"$T/video_only.sdp" "$URL/whip"
expect 400 "opus" -X POST -H "$AUTH" -H "Content-Type: application/sdp" --data-binary @"$T/no_opus.sdp" "$URL/whip"
expect 413 "" -X POST -H "$AUTH" -H "Content-Type: application/sdp" --data-binary @"$T/huge.sdp" "$URL/whip"
expect 404 "" -X DELETE -H "$AUTH" "$URL/whip/0123456789abcdef0123456789abcdef"
expect 404 "" -X PATCH -H "$AUTH" -H "Content-Type: application/trickle-ice-sdpfrag" -H 'If-Match: "x"' \
    --data-binary $'a=ice-ufrag:x\r\n' "$URL/whip/0123456789abcdef0123456789abcdef"
expect 405 "" -X PUT -H "$AUTH" "$URL/whip"
curl -s -o /dev/null -D "$T/opt.h" -X OPTIONS "$URL/whip"
grep -qi "Accept-Post: application/sdp" "$T/opt.h" || fail "OPTIONS lacks Accept-Post"
ok "OPTIONS answers CORS with Accept-Post, no token needed"

expect 200 "ok" -H "$AUTH" "$URL/health"
curl -s -H "$AUTH" "$URL/metrics" > "$T/metrics"
grep -q '^voxmesh_edge_sessions 0' "$T/metrics" || fail "sessions gauge is not 0 after refused offers"
ok "nothing left behind: voxmesh_edge_sessions 0"
grep -q "offer refused (400)" "$T/edge.log" || fail "no log line for refused offers"
ok "refusals are logged with the session id: $(grep -m1 'offer refused' "$T/edge.log" | cut -c1-110)"
