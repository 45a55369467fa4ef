/* wer — see wer.h. */
#include "wer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define WER_MAX_WORDS 256

static size_t s_split(const char *in, char *buf, size_t size, char **words)
{
    size_t n = 0, o = 0;
    int in_word = 0;
    for (const char *p = in; *p && o + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c == '\'') {
            if (!in_word) {
                if (n == WER_MAX_WORDS) break;
                words[n++] = buf + o;
                in_word = 1;
            }
            buf[o++] = (char)tolower(c);
        } else if (in_word) {
            buf[o++] = 0;
            in_word = 0;
        }
    }
    buf[o] = 0;
    return n;
}

size_t wer_add(const char *reference, const char *hypothesis, size_t *errors, size_t *words)
{
    static char rb[4096], hb[4096];
    char *r[WER_MAX_WORDS], *h[WER_MAX_WORDS];
    size_t nr = s_split(reference ? reference : "", rb, sizeof rb, r);
    size_t nh = s_split(hypothesis ? hypothesis : "", hb, sizeof hb, h);
    static size_t d[WER_MAX_WORDS + 1][WER_MAX_WORDS + 1];
    for (size_t i = 0; i <= nr; i++) d[i][0] = i;
    for (size_t j = 0; j <= nh; j++) d[0][j] = j;
    for (size_t i = 1; i <= nr; i++)
        for (size_t j = 1; j <= nh; j++) {
            size_t sub = d[i - 1][j - 1] + (strcmp(r[i - 1], h[j - 1]) != 0);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    if (errors) *errors += d[nr][nh];
    if (words) *words += nr;
    return d[nr][nh];
}
