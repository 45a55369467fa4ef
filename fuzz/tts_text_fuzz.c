/* tts_text_fuzz — libFuzzer target for what voxmesh-tts does with text and
 * bytes it did not make: the LLM's sentences (split into pieces, mapped to
 * ASCII for flite, cut into the words heard at a barge-in) and a
 * provider's PCM stream (joined across reads of any size).
 *
 * The TTS modules live in services/tts/, which fuzz targets are not linked
 * with, so the ones needed are compiled in here.
 *
 * Checked beyond "no crash, no leak": pieces are non-empty, at most the
 * limit, inside the text and in order; flite's text is printable ASCII and
 * no longer than the input; the heard text is a prefix of the sentence;
 * the chunker gives back every whole sample, unchanged. */
#include "../services/tts/chunker.c"
#include "../services/tts/engine_flite.c"
#include "../services/tts/split.c"
#include "../services/tts/spoken.c"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text;
    size_t len, max, at;
} s_split_t;

static int s_piece(const char *piece, size_t len, void *arg)
{
    s_split_t *s = arg;
    if (len == 0 || len > s->max || piece < s->text + s->at || piece + len > s->text + s->len) abort();
    s->at = (size_t)(piece - s->text) + len;
    return 0;
}

static void s_check_chunker(const uint8_t *data, size_t size)
{
    tts_chunker_t *c = tts_chunker_new(1 + (size ? data[0] % 64 : 0), 200);   /* room for a piece and a chunk */
    if (!c) abort();
    int16_t *out = malloc(size / 2 * sizeof *out + 2);
    size_t got = 0, at = 0, k = 0;
    const int16_t *p;
    size_t n;
    while (at < size) {
        size_t piece = 1 + data[k++ % size] % 97;
        if (piece > size - at) piece = size - at;
        if (tts_chunker_put_bytes(c, data + at, piece) < 0) abort();
        at += piece;
        while ((n = tts_chunker_take(c, &p, false)) > 0) {
            memcpy(out + got, p, n * sizeof *p);
            got += n;
        }
    }
    while ((n = tts_chunker_take(c, &p, true)) > 0) {
        memcpy(out + got, p, n * sizeof *p);
        got += n;
    }
    if (got != size / 2 || tts_chunker_odd(c) != (size % 2 == 1)) abort();
    for (size_t i = 0; i < got; i++)
        if ((uint16_t)out[i] != (uint16_t)(data[2 * i] | data[2 * i + 1] << 8)) abort();
    free(out);
    tts_chunker_destroy(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_check_chunker(data, size);
    if (size < 1) return 0;
    size_t max = 8 + data[0];
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t len = strlen(text);

    s_split_t sp = { text, len, max, 0 };
    tts_split(text, len, max, s_piece, &sp);

    char *ascii = engine_flite_text(text);
    if (!ascii || strlen(ascii) > len) abort();
    for (const char *c = ascii; *c; c++)
        if (*c < 0x20 || *c > 0x7E) abort();
    free(ascii);

    tts_spoken_t *s = tts_spoken_new(1000, 4);
    tts_spoken_begin(s, text);
    tts_spoken_audio(s, len * 10 + 1, 0);
    for (int64_t t = 0; t <= (int64_t)(len * 10 + 1) * 1000; t += 1 + (int64_t)len * 1000) {
        char *heard = tts_spoken_heard(s, t, 10);
        if (!heard || strncmp(heard, text, strlen(heard))) abort();
        free(heard);
    }
    tts_spoken_destroy(&s);
    free(text);
    return 0;
}
