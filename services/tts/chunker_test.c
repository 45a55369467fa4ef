/* chunker_test — PCM bytes split anywhere (odd counts, one byte at a time)
 * come out as the same samples in chunks of the asked size. */
#include "chunker.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N 1000

/* Feeds `bytes` in pieces of the sizes in `sizes` (cycled) and collects the
 * chunks; returns frames collected, checks every chunk but the last is full. */
static size_t s_run(const uint8_t *bytes, size_t len, const size_t *sizes, size_t nsizes, size_t chunk,
                    int16_t *out, bool *sizes_ok)
{
    tts_chunker_t *c = tts_chunker_new(chunk, 0);
    size_t got = 0, at = 0, k = 0;
    *sizes_ok = true;
    const int16_t *p;
    size_t n;
    while (at < len) {
        size_t piece = sizes[k++ % nsizes];
        if (piece > len - at) piece = len - at;
        tts_chunker_put_bytes(c, bytes + at, piece);
        at += piece;
        while ((n = tts_chunker_take(c, &p, false)) > 0) {
            if (n != chunk) *sizes_ok = false;
            memcpy(out + got, p, n * sizeof *p);
            got += n;
        }
    }
    while ((n = tts_chunker_take(c, &p, true)) > 0) {
        if (n > chunk) *sizes_ok = false;
        memcpy(out + got, p, n * sizeof *p);
        got += n;
    }
    tts_chunker_destroy(&c);
    return got;
}

int main(void)
{
    int16_t ref[N];
    uint8_t bytes[2 * N];
    for (int i = 0; i < N; i++) {
        ref[i] = (int16_t)((i * 7919) % 65536 - 32768);     /* both bytes vary, negative values too */
        bytes[2 * i] = (uint8_t)((uint16_t)ref[i] & 0xFF);
        bytes[2 * i + 1] = (uint8_t)((uint16_t)ref[i] >> 8);
    }
    static const size_t one[] = { 1 }, odd[] = { 3, 1, 7, 5, 333 }, mixed[] = { 1, 2, 999, 4, 1, 17 };
    const struct { const size_t *sizes; size_t n; const char *name; } cases[] = {
        { one, 1, "one byte at a time" }, { odd, 5, "odd-sized pieces" }, { mixed, 6, "mixed pieces" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int16_t out[N + 16];
        bool sizes_ok;
        size_t got = s_run(bytes, sizeof bytes, cases[i].sizes, cases[i].n, 160, out, &sizes_ok);
        CHECK(got == N && !memcmp(out, ref, sizeof ref), "%s: the same %d samples (%zu)", cases[i].name, N, got);
        CHECK(sizes_ok, "%s: chunks of 160 frames, the last shorter", cases[i].name);
    }

    /* Every split point of a short stream into two pieces. */
    bool all = true;
    for (size_t cut = 0; cut <= 20; cut++) {
        tts_chunker_t *c = tts_chunker_new(4, 0);
        tts_chunker_put_bytes(c, bytes, cut);
        tts_chunker_put_bytes(c, bytes + cut, 20 - cut);
        int16_t out[10];
        size_t got = 0, n;
        const int16_t *p;
        while ((n = tts_chunker_take(c, &p, true)) > 0) {
            memcpy(out + got, p, n * sizeof *p);
            got += n;
        }
        if (got != 10 || memcmp(out, ref, sizeof out) || tts_chunker_odd(c)) all = false;
        tts_chunker_destroy(&c);
    }
    CHECK(all, "a 20-byte stream split at every byte position gives the same 10 samples");

    /* A truncated stream: the odd byte is reported, never made a sample. */
    tts_chunker_t *c = tts_chunker_new(4, 0);
    tts_chunker_put_bytes(c, bytes, 5);
    const int16_t *p;
    size_t n = tts_chunker_take(c, &p, true);
    CHECK(n == 2 && tts_chunker_odd(c), "5 bytes: 2 samples and an odd byte held (%zu)", n);
    tts_chunker_reset(c);
    CHECK(!tts_chunker_odd(c) && tts_chunker_frames(c) == 0, "reset forgets it");

    /* Bounded: more than max_frames held is refused. */
    tts_chunker_destroy(&c);
    c = tts_chunker_new(4, 8);
    CHECK(tts_chunker_put(c, ref, 8) == 0 && tts_chunker_put(c, ref, 1) == -ENOSPC,
          "at most max_frames held (-ENOSPC beyond)");
    CHECK(tts_chunker_take(c, &p, false) == 4 && tts_chunker_put(c, ref, 4) == 0 && tts_chunker_frames(c) == 8,
          "taking a chunk makes room again");
    tts_chunker_destroy(&c);
    CHECK(tts_chunker_new(0, 0) == NULL, "a chunk of 0 frames is refused");
    return TEST_DONE();
}
