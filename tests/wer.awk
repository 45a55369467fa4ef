# Word error rate of hypothesis lines against reference lines, pair by pair:
# input lines "REF<TAB>HYP"; words lower-cased, punctuation dropped.
# Prints "errors words". Used by tests/stt.sh and bench.
function norm(s) { s = tolower(s); gsub(/[^a-z0-9' ]/, " ", s); return s }
{
    split($0, f, "\t")
    nr = split(norm(f[1]), r, " "); nh = split(norm(f[2]), h, " ")
    for (i = 0; i <= nr; i++) d[i, 0] = i
    for (j = 0; j <= nh; j++) d[0, j] = j
    for (i = 1; i <= nr; i++)
        for (j = 1; j <= nh; j++) {
            c = d[i-1, j-1] + (r[i] != h[j]); x = d[i-1, j] + 1; y = d[i, j-1] + 1
            d[i, j] = c < x ? (c < y ? c : y) : (x < y ? x : y)
        }
    errors += d[nr, nh]; words += nr
}
END { printf "%d %d\n", errors, words }
