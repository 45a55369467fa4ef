# histq.awk: quantiles of a Prometheus histogram between two scrapes.
#   awk -v name=voxmesh_edge_mesh_latency_seconds -f histq.awk BEFORE AFTER
# Prints "count p50 p90 p99 over": the quantiles in milliseconds, one decimal
# (linear interpolation inside a bucket, as Prometheus' histogram_quantile
# does; a quantile in the +Inf bucket is printed as ">BOUND", the last finite
# bound, and `over` counts those observations). Unlabelled series only.
function bound(line,   b) {
    b = line
    sub(/.*le="/, "", b); sub(/".*/, "", b)
    return b
}
$1 ~ "^" name "_bucket\\{le=\"" {
    b = bound($1)
    if (FILENAME == ARGV[1]) before[b] = $2
    else { after[b] = $2; if (!(b in seen)) { seen[b] = 1; order[++n] = b } }
}
END {
    total = 0
    for (i = 1; i <= n; i++) {
        le[i] = order[i]
        c[i] = after[le[i]] - before[le[i]] + 0
    }
    if (n == 0) { print "0 nan nan nan 0"; exit }
    total = c[n]
    if (total <= 0) { print "0 nan nan nan 0"; exit }
    over = total - (n > 1 ? c[n - 1] : 0)
    split("0.5 0.9 0.99", qs, " ")
    out = total
    for (k = 1; k <= 3; k++) {
        rank = qs[k] * total
        v = "nan"
        for (i = 1; i <= n; i++) {
            if (c[i] >= rank) {
                if (le[i] == "+Inf") { v = ">" (i > 1 ? le[i - 1] : 0) * 1000; break }
                lo = (i > 1 ? le[i - 1] : 0); clo = (i > 1 ? c[i - 1] : 0)
                hi = le[i]
                v = sprintf("%.1f", (c[i] > clo ? lo + (hi - lo) * (rank - clo) / (c[i] - clo) : hi) * 1000)
                break
            }
        }
        out = out " " v
    }
    print out, over
}
