# sessions.awk: aggregates one load step's per-client rows (tab-separated,
# written by bench/edge_load.sh; "null" = not measured):
#   idx rc connect_ms first_audio_ms reply_latency_ms sent received rfc_lost
#   rtt_ms jitter_ms codec_in codec_lost ts_jumps late cmp_lag_ms cmp_window_peak
# with -v expected=PACKETS (packets in the input file). Prints KEY=VALUE lines.
# Loss per direction, per session:
#   client->edge: packets the client sent that the codec never got (its
#                 session-end log line), over packets sent;
#   edge->client: packets the client sent that never came back (parrot echoes
#                 every one, concealment included), over packets sent.
# A session is "held" when it connected, sent the whole input, and lost under
# 1 % in each direction. A compared session's lag counts only when its reply
# matched the input (window peak >= 0.5); the others are counted as unmatched
# (their reply is further behind than --compare's 1 s lag window, or garbled).
function isnum(v) { return v != "" && v != "null" && v == v + 0 }
function add(arr, key, v) { if (isnum(v)) arr[key, ++arr[key, 0]] = v + 0 }
# p(arr, key, q): nearest-rank quantile (q in 0..1), "-" when empty.
function p(arr, key, q,   n, i, j, t, a, r) {
    n = arr[key, 0] + 0
    if (n == 0) return "-"
    for (i = 1; i <= n; i++) a[i] = arr[key, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    r = int(q * n + 0.999999); if (r < 1) r = 1; if (r > n) r = n
    return a[r]
}
function f1(v) { return v == "-" ? v : sprintf("%.1f", v) }
BEGIN { FS = "\t" }
{
    n++
    if ($2 != 0 || !isnum($6)) { failed++; next }
    connected++
    sent = $6 + 0; recv = isnum($7) ? $7 + 0 : 0
    up_sent += sent
    if (isnum($11)) {
        cin = $11 + 0
        ul = sent > cin ? sent - cin : 0
        up_known++
    } else { ul = 0; up_unknown++ }
    dl = sent > recv ? sent - recv : 0
    up_lost += ul; down_lost += dl
    if (isnum($8)) rfc_lost += $8
    if (isnum($12)) codec_lost += $12
    if (isnum($13)) jumps += $13
    if (isnum($14)) late += $14
    lu = sent ? ul / sent : 1; ld = sent ? dl / sent : 1
    if (lu > worst) worst = lu
    if (ld > worst) worst = ld
    if (sent >= expected * 0.99 && lu < 0.01 && ld < 0.01 && isnum($11)) held++
    add(v, "connect", $3); add(v, "first", $4); add(v, "reply", $5)
    add(v, "rtt", $9); add(v, "jitter", $10); add(v, "peak", $16)
    if (isnum($16)) { if ($16 >= 0.5) add(v, "lag", $15); else unmatched++ }
}
END {
    print "n=" n + 0
    print "connected=" connected + 0
    print "failed=" failed + 0
    print "held=" held + 0
    print "up_unknown=" up_unknown + 0
    printf "up_loss_pct=%.3f\n", up_sent ? 100 * up_lost / up_sent : 0
    printf "down_loss_pct=%.3f\n", up_sent ? 100 * down_lost / up_sent : 0
    printf "loss_pct=%.3f\n", up_sent ? 100 * (up_lost + down_lost) / (2 * up_sent) : 0
    printf "worst_loss_pct=%.2f\n", 100 * worst
    print "up_lost=" up_lost + 0
    print "down_lost=" down_lost + 0
    print "rfc_lost=" rfc_lost + 0
    print "codec_lost=" codec_lost + 0
    print "sent=" up_sent + 0
    print "jumps=" jumps + 0
    print "late=" late + 0
    split("connect first reply rtt jitter lag", keys, " ")
    for (k = 1; k <= 6; k++) {
        key = keys[k]
        printf "%s_n=%d\n%s_p50=%s\n%s_p90=%s\n%s_p99=%s\n%s_max=%s\n", key, v[key, 0] + 0,
            key, f1(p(v, key, 0.5)), key, f1(p(v, key, 0.9)), key, f1(p(v, key, 0.99)), key, f1(p(v, key, 1))
    }
    print "peak_min=" p(v, "peak", 0)
    print "lag_unmatched=" unmatched + 0
}
