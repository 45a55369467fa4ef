/* ps_engine — see ps_engine.h. */
#include "ps_engine.h"
#include "denoise.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/feat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AHEAD_SAMPLES (PS_LOOKAHEAD_MS * 16)    /* 16 kHz */
#define AHEAD_FRAMES (AHEAD_SAMPLES / 160 + 4)  /* 10 ms frames, and the last partial ones */

struct ps_utt {
    ps_engine_t *engine;
    ps_decoder_t *ps;
    denoise_t *dn;          /* NULL: off */
    int16_t *buf;           /* denoised samples */
    size_t cap;
    bool busy;
    /* The look-ahead (ps_engine.h): the utterance's first samples, held
     * until there are AHEAD_SAMPLES of them or the utterance ends. */
    int16_t *ahead;
    size_t ahead_n;
    bool ahead_done;
    fe_t *fe;               /* a front end with the decoder's settings: the look-ahead's cepstra */
    mfcc_t **cep;           /* AHEAD_FRAMES of them */
    float prior[PS_CMN_MAX];/* the mean the utterance started with, and its weight */
    int prior_w;
};

struct ps_engine {
    ps_utt_t *slots;
    int n;
    ps_channel_t initial;   /* the model's initial cepstral mean */
};

/* The weight of a cepstral mean, in frames (10 ms): the model's initial
 * mean for a new caller; sphinxbase's own window (CMN_WIN) at most. Chosen
 * on the held-out set (docs/stt.md): 100 / 150 / 200 / 300 / 500 (the old
 * behaviour) gave 14.4 / 13.7 / 13.9 / 14.4 / 14.6 % over all four
 * conditions. */
#define PS_CMN_PRIOR_MIN 200
#define PS_CMN_PRIOR_MAX 500

_Static_assert(sizeof(mfcc_t) == sizeof(float), "PocketSphinx built with floating-point features");

static cmn_t *s_cmn(ps_utt_t *u)
{
    feat_t *f = ps_get_feat(u->ps);
    return f ? f->cmn_struct : NULL;
}

static void s_channel_get(ps_utt_t *u, ps_channel_t *ch)
{
    cmn_t *c = s_cmn(u);
    if (!c || c->veclen > PS_CMN_MAX) return;
    cmn_live_get(c, (mfcc_t *)ch->mean);
    ch->len = c->veclen;
}

static ps_decoder_t *s_load(const ps_engine_config_t *cfg)
{
    /* -logfn /dev/null: PocketSphinx logs every utterance's search
     * statistics to stderr, which would drown our own lines. */
    cmd_ln_t *c = cfg->fast
        ? cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", cfg->hmm, "-dict", cfg->dict, "-lm", cfg->lm, "-logfn",
                      "/dev/null", "-ds", "2", "-topn", "2", "-maxwpf", "5", "-maxhmmpf", "3000", "-pl_window", "5",
                      "-fwdflat", "no", "-bestpath", "no", NULL)
        : cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", cfg->hmm, "-dict", cfg->dict, "-lm", cfg->lm, "-logfn",
                      "/dev/null", NULL);
    if (!c) return NULL;
    ps_decoder_t *ps = ps_init(c);
    cmd_ln_free_r(c);   /* the decoder keeps its own reference */
    return ps;
}

ps_engine_t *ps_engine_new(const ps_engine_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg || !cfg->hmm || !cfg->dict || !cfg->lm || cfg->decoders < 1) {
        snprintf(err, errlen, "the recogniser needs a model, a dictionary, a language model and >= 1 decoder");
        return NULL;
    }
    ps_engine_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->slots = calloc((size_t)cfg->decoders, sizeof *e->slots);
    if (!e->slots) {
        free(e);
        return NULL;
    }
    for (int i = 0; i < cfg->decoders; i++) {
        e->slots[i].engine = e;
        ps_utt_t *u = &e->slots[i];
        u->ps = s_load(cfg);
        if (cfg->denoise) u->dn = denoise_new();
        if (u->ps) u->fe = fe_init_auto_r(ps_get_config(u->ps));
        if (u->fe) u->cep = (mfcc_t **)ckd_calloc_2d(AHEAD_FRAMES, (size_t)fe_get_output_size(u->fe), sizeof(mfcc_t));
        u->ahead = malloc(AHEAD_SAMPLES * sizeof *u->ahead);
        if (!u->ps || (cfg->denoise && !u->dn) || !u->fe || !u->cep || !u->ahead) {
            snprintf(err, errlen, "PocketSphinx could not load model %s, dictionary %s, language model %s",
                     cfg->hmm, cfg->dict, cfg->lm);
            e->n = i + 1;
            ps_engine_destroy(&e);
            return NULL;
        }
    }
    e->n = cfg->decoders;
    s_channel_get(&e->slots[0], &e->initial);
    return e;
}

void ps_engine_destroy(ps_engine_t **self_p)
{
    if (!self_p || !*self_p) return;
    ps_engine_t *e = *self_p;
    for (int i = 0; i < e->n; i++) {
        ps_free(e->slots[i].ps);
        denoise_destroy(&e->slots[i].dn);
        free(e->slots[i].buf);
        free(e->slots[i].ahead);
        if (e->slots[i].cep) ckd_free_2d(e->slots[i].cep);
        if (e->slots[i].fe) fe_free(e->slots[i].fe);
    }
    free(e->slots);
    free(e);
    *self_p = NULL;
}

int ps_engine_free_decoders(const ps_engine_t *e)
{
    int n = 0;
    for (int i = 0; i < e->n; i++) n += !e->slots[i].busy;
    return n;
}

int ps_engine_size(const ps_engine_t *e) { return e->n; }

ps_utt_t *ps_utt_start(ps_engine_t *e, const ps_channel_t *ch)
{
    for (int i = 0; i < e->n; i++) {
        ps_utt_t *u = &e->slots[i];
        if (u->busy) continue;
        const ps_channel_t *use = ch && ch->len ? ch : &e->initial;
        cmn_t *c = s_cmn(u);
        if (c && use->len == c->veclen) {
            /* The mean weighs what it rests on: the model's initial mean
             * counts as PS_CMN_PRIOR_MIN frames, a caller's as that plus
             * what has been heard of them, up to sphinxbase's window
             * (cmn_live_set would give any mean the full window, so a new
             * caller's first utterances were normalised by the model's
             * mean long after their own was known: docs/stt.md). */
            cmn_live_set(c, (const mfcc_t *)use->mean);
            int w = PS_CMN_PRIOR_MIN + (use == ch ? ch->heard : 0);
            if (w > PS_CMN_PRIOR_MAX) w = PS_CMN_PRIOR_MAX;
            for (int k = 0; k < c->veclen; k++) c->sum[k] = use->mean[k] * (mfcc_t)w;
            c->nframe = w;
            memcpy(u->prior, use->mean, (size_t)c->veclen * sizeof *u->prior);
            u->prior_w = w;
        } else {
            u->prior_w = 0;
        }
        if (ps_start_utt(u->ps) < 0) return NULL;
        u->ahead_n = 0;
        u->ahead_done = false;
        if (u->dn) denoise_reset(u->dn);
        u->busy = true;
        return u;
    }
    return NULL;
}

/* The look-ahead's end: the held samples' cepstral mean joins the one the
 * utterance started with (weighted by their frames and its weight; frames
 * of negative c0, near silence, left out as sphinxbase's live CMN leaves
 * them), the decoder normalises by that from the first frame on, and the
 * held samples are decoded. The decoder adds those frames to the running
 * sum itself, so the sum is left as it was: at the utterance's end the mean
 * is what sphinxbase alone would have made of the same frames. */
static int s_ahead_end(ps_utt_t *u)
{
    u->ahead_done = true;
    cmn_t *c = s_cmn(u);
    int ncep = fe_get_output_size(u->fe);
    if (c && u->prior_w > 0 && ncep == c->veclen && u->ahead_n) {
        const int16 *p = u->ahead;
        size_t left = u->ahead_n;
        int32 nf = AHEAD_FRAMES - 1, last = 0;
        fe_start_utt(u->fe);
        fe_process_frames(u->fe, &p, &left, u->cep, &nf, NULL);
        fe_end_utt(u->fe, u->cep[nf], &last);
        nf += last;
        double sum[PS_CMN_MAX] = { 0 };
        int n = 0;
        for (int32 f = 0; f < nf; f++) {
            if (u->cep[f][0] < 0) continue;
            for (int k = 0; k < ncep; k++) sum[k] += u->cep[f][k];
            n++;
        }
        if (n)
            for (int k = 0; k < ncep; k++)
                c->cmn_mean[k] = (mfcc_t)((u->prior[k] * u->prior_w + sum[k]) / (u->prior_w + n));
    }
    return u->ahead_n && ps_process_raw(u->ps, u->ahead, u->ahead_n, FALSE, FALSE) < 0 ? -1 : 0;
}

/* Samples after the denoiser: held while the look-ahead lasts, then decoded. */
static int s_decode(ps_utt_t *u, const int16_t *x, size_t n)
{
    if (!u->ahead_done) {
        size_t take = AHEAD_SAMPLES - u->ahead_n < n ? AHEAD_SAMPLES - u->ahead_n : n;
        memcpy(u->ahead + u->ahead_n, x, take * sizeof *x);
        u->ahead_n += take, x += take, n -= take;
        if (u->ahead_n < AHEAD_SAMPLES) return 0;
        if (s_ahead_end(u) < 0) return -1;
    }
    return n && ps_process_raw(u->ps, x, n, FALSE, FALSE) < 0 ? -1 : 0;
}

int ps_utt_feed(ps_utt_t *u, const int16_t *samples, size_t n)
{
    if (!u->dn) return s_decode(u, samples, n);
    if (u->cap < n + 2 * DENOISE_HOP) {
        int16_t *b = realloc(u->buf, (n + 2 * DENOISE_HOP) * sizeof *b);
        if (!b) return -1;
        u->buf = b;
        u->cap = n + 2 * DENOISE_HOP;
    }
    size_t m = denoise_process(u->dn, samples, n, u->buf);
    return s_decode(u, u->buf, m);
}

const char *ps_utt_partial(ps_utt_t *u)
{
    int32 score;
    const char *h = ps_get_hyp(u->ps, &score);
    return h ? h : "";
}

int ps_utt_finish(ps_utt_t **up, char *text, size_t size, ps_channel_t *ch)
{
    ps_utt_t *u = *up;
    *up = NULL;
    if (u->dn && u->cap >= 2 * DENOISE_HOP) {
        size_t m = denoise_flush(u->dn, u->buf);
        s_decode(u, u->buf, m);
    }
    if (!u->ahead_done) s_ahead_end(u);   /* an utterance shorter than the look-ahead */
    int rc = ps_end_utt(u->ps);
    if (ch) {
        s_channel_get(u, ch);
        int n = ps_get_n_frames(u->ps);
        ch->heard = ch->heard > PS_CMN_PRIOR_MAX - n ? PS_CMN_PRIOR_MAX : ch->heard + n;
    }
    int32 score;
    const char *h = rc < 0 ? NULL : ps_get_hyp(u->ps, &score);
    snprintf(text, size, "%s", h ? h : "");
    u->busy = false;
    return rc < 0 ? -1 : 0;
}

void ps_utt_abandon(ps_utt_t **up)
{
    if (!up || !*up) return;
    ps_utt_t *u = *up;
    *up = NULL;
    ps_end_utt(u->ps);
    u->busy = false;
}
