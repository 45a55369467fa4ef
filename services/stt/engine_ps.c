/* engine_ps — see engine_ps.h. */
#include "engine_ps.h"

#include <stdlib.h>

typedef struct {
    ps_utt_t *u;
    ps_channel_t *ch;          /* the caller's: updated at the end */
} s_utt_t;

static void *s_caller_new(void *impl)
{
    (void)impl;
    return calloc(1, sizeof(ps_channel_t));   /* len 0: the model's initial mean */
}

static void s_caller_free(void *impl, void *caller)
{
    (void)impl;
    free(caller);
}

static stt_utt_t *s_start(void *impl, void *caller, const char *session, uint64_t utterance)
{
    (void)session; (void)utterance;
    s_utt_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->ch = caller;
    if (!(w->u = ps_utt_start(impl, w->ch))) {
        free(w);
        return NULL;
    }
    return (stt_utt_t *)w;
}

static int s_feed(stt_utt_t *u, const int16_t *x, size_t n)
{
    return ps_utt_feed(((s_utt_t *)u)->u, x, n);
}

static const char *s_partial(stt_utt_t *u)
{
    return ps_utt_partial(((s_utt_t *)u)->u);
}

/* Only the last piece is left to decode: the result comes at once. */
static void s_finish(stt_utt_t *u, stt_result_fn *fn, void *arg)
{
    s_utt_t *w = (s_utt_t *)u;
    char text[STT_TEXT_MAX];
    int rc = ps_utt_finish(&w->u, text, sizeof text, w->ch);
    free(w);
    if (rc < 0) fn(arg, NULL, 0, "the decoder failed");
    else fn(arg, text, 0, NULL);   /* PocketSphinx's scores are not probabilities: no confidence */
}

static void s_cancel(stt_utt_t *u)
{
    s_utt_t *w = (s_utt_t *)u;
    if (!w) return;
    ps_utt_abandon(&w->u);
    free(w);
}

static int s_busy(void *impl)
{
    return ps_engine_size(impl) - ps_engine_free_decoders(impl);
}

static void s_destroy(void *impl)
{
    ps_engine_t *pool = impl;
    ps_engine_destroy(&pool);
}

stt_engine_t engine_ps(ps_engine_t *pool)
{
    return (stt_engine_t){
        .name = "pocketsphinx", .busy_metric = "voxmesh_stt_decoders_busy", .busy_help = "Decoders in use",
        .caller_new = s_caller_new, .caller_free = s_caller_free, .start = s_start, .feed = s_feed,
        .partial = s_partial, .finish = s_finish, .cancel = s_cancel, .busy = s_busy, .destroy = s_destroy,
        .impl = pool,
    };
}
