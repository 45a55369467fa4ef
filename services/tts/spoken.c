/* spoken — see spoken.h. */
#include "spoken.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Audio that plays without a pause: published while the audio before it
 * was still playing. A new span starts after each underrun. */
typedef struct {
    int64_t start_us;    /* when its first frame plays */
    size_t frame0;       /* its first frame, counted from the turn's start */
    size_t frames;
} s_span_t;

typedef struct {
    char *text;
    size_t frame0, frames;
    bool complete;
} s_piece_t;

#define SPANS_MAX 64

struct tts_spoken {
    uint32_t rate;
    s_piece_t *pieces;
    size_t npieces, max_pieces;
    s_span_t spans[SPANS_MAX];
    size_t nspans;
    size_t frames;       /* published */
};

tts_spoken_t *tts_spoken_new(uint32_t rate, size_t max_pieces)
{
    if (rate == 0 || max_pieces == 0) return NULL;
    tts_spoken_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->pieces = calloc(max_pieces, sizeof *self->pieces);
    if (!self->pieces) {
        free(self);
        return NULL;
    }
    self->rate = rate;
    self->max_pieces = max_pieces;
    return self;
}

void tts_spoken_reset(tts_spoken_t *self)
{
    for (size_t i = 0; i < self->npieces; i++) free(self->pieces[i].text);
    self->npieces = 0;
    self->nspans = 0;
    self->frames = 0;
}

void tts_spoken_destroy(tts_spoken_t **self_p)
{
    if (!self_p || !*self_p) return;
    tts_spoken_reset(*self_p);
    free((*self_p)->pieces);
    free(*self_p);
    *self_p = NULL;
}

int tts_spoken_begin(tts_spoken_t *self, const char *text)
{
    if (self->npieces > 0) self->pieces[self->npieces - 1].complete = true;
    if (self->npieces == self->max_pieces) return -ENOSPC;
    char *copy = strdup(text ? text : "");
    if (!copy) return -ENOMEM;
    self->pieces[self->npieces++] = (s_piece_t){ .text = copy, .frame0 = self->frames };
    return 0;
}

static int64_t s_us(const tts_spoken_t *self, size_t frames)
{
    return (int64_t)((double)frames * 1e6 / self->rate);
}

static int64_t s_span_end(const tts_spoken_t *self, const s_span_t *s)
{
    return s->start_us + s_us(self, s->frames);
}

void tts_spoken_audio(tts_spoken_t *self, size_t frames, int64_t now_us)
{
    if (frames == 0) return;
    s_span_t *last = self->nspans ? &self->spans[self->nspans - 1] : NULL;
    /* Still playing (or a span table full of underruns: then the pause is
     * ignored, which errs towards "heard"). */
    if (last && (now_us <= s_span_end(self, last) || self->nspans == SPANS_MAX)) {
        last->frames += frames;
    } else {
        self->spans[self->nspans++] = (s_span_t){ .start_us = now_us, .frame0 = self->frames, .frames = frames };
    }
    self->frames += frames;
    if (self->npieces > 0 && !self->pieces[self->npieces - 1].complete)
        self->pieces[self->npieces - 1].frames += frames;
}

void tts_spoken_end(tts_spoken_t *self)
{
    if (self->npieces > 0) self->pieces[self->npieces - 1].complete = true;
}

size_t tts_spoken_played(const tts_spoken_t *self, int64_t t_us)
{
    size_t played = 0;
    for (size_t i = 0; i < self->nspans; i++) {
        const s_span_t *s = &self->spans[i];
        if (t_us <= s->start_us) break;
        double f = (double)(t_us - s->start_us) * self->rate / 1e6;
        played = s->frame0 + (f >= (double)s->frames ? s->frames : (size_t)f);
    }
    return played;
}

int64_t tts_spoken_play_end(const tts_spoken_t *self)
{
    return self->nspans ? s_span_end(self, &self->spans[self->nspans - 1]) : 0;
}

size_t tts_spoken_frames(const tts_spoken_t *self)
{
    return self->frames;
}

/* ---- the text ---------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom;
} s_text_t;

static void s_append(s_text_t *t, const char *s, size_t n)
{
    if (t->oom || n == 0) return;
    size_t need = t->len + n + 2;
    if (need > t->cap) {
        size_t cap = need * 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->oom = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    if (t->len > 0) t->buf[t->len++] = ' ';
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* Characters, not bytes: a UTF-8 continuation byte adds no length. */
static size_t s_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* The words of `text` whose middle falls within the first `fraction` of it
 * (by characters), as one prefix of the text. */
static void s_append_prefix(s_text_t *t, const char *text, double fraction)
{
    size_t n = strlen(text);
    double total = (double)s_chars(text, n);
    if (total == 0 || fraction <= 0) return;
    double heard = fraction * total;
    size_t cut = 0;           /* bytes of text heard */
    size_t i = 0;
    while (i < n) {
        while (i < n && isspace((unsigned char)text[i])) i++;
        size_t w0 = i;
        while (i < n && !isspace((unsigned char)text[i])) i++;
        if (i == w0) break;
        double mid = (double)s_chars(text, w0) + (double)s_chars(text + w0, i - w0) / 2;
        if (mid > heard) break;
        cut = i;
    }
    s_append(t, text, cut);
}

char *tts_spoken_heard(const tts_spoken_t *self, int64_t t_us, double frames_per_char)
{
    s_text_t t = { 0 };
    t.buf = calloc(1, 1);
    if (!t.buf) return NULL;
    t.cap = 1;
    size_t played = tts_spoken_played(self, t_us);
    for (size_t i = 0; i < self->npieces; i++) {
        const s_piece_t *p = &self->pieces[i];
        if (p->complete && p->frames == 0) continue;       /* failed: nothing of it was heard */
        if (p->complete && p->frame0 + p->frames <= played) {
            s_append(&t, p->text, strlen(p->text));
            continue;
        }
        if (played <= p->frame0) break;
        /* The piece playing at the cut. Its length is known when its audio
         * is complete; else at least what was published, and what its
         * characters usually take. */
        double len = (double)p->frames;
        if (!p->complete) {
            double guess = frames_per_char * (double)s_chars(p->text, strlen(p->text));
            if (guess > len) len = guess;
        }
        if (len > 0) s_append_prefix(&t, p->text, (double)(played - p->frame0) / len);
        break;
    }
    if (t.oom) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
