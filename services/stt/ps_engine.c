/* ps_engine — see ps_engine.h. */
#include "ps_engine.h"
#include "denoise.h"

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ps_utt {
    ps_engine_t *engine;
    ps_decoder_t *ps;
    denoise_t *dn;          /* NULL: off */
    int16_t *buf;           /* denoised samples */
    size_t cap;
    bool busy;
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
        e->slots[i].ps = s_load(cfg);
        if (cfg->denoise) e->slots[i].dn = denoise_new();
        if (!e->slots[i].ps || (cfg->denoise && !e->slots[i].dn)) {
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
        }
        if (ps_start_utt(u->ps) < 0) return NULL;
        if (u->dn) denoise_reset(u->dn);
        u->busy = true;
        return u;
    }
    return NULL;
}

int ps_utt_feed(ps_utt_t *u, const int16_t *samples, size_t n)
{
    if (!u->dn) return ps_process_raw(u->ps, samples, n, FALSE, FALSE) < 0 ? -1 : 0;
    if (u->cap < n + 2 * DENOISE_HOP) {
        int16_t *b = realloc(u->buf, (n + 2 * DENOISE_HOP) * sizeof *b);
        if (!b) return -1;
        u->buf = b;
        u->cap = n + 2 * DENOISE_HOP;
    }
    size_t m = denoise_process(u->dn, samples, n, u->buf);
    return m && ps_process_raw(u->ps, u->buf, m, FALSE, FALSE) < 0 ? -1 : 0;
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
        if (m) ps_process_raw(u->ps, u->buf, m, FALSE, FALSE);
    }
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
