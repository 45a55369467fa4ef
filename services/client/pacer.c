/* pacer — see pacer.h. */
#include "pacer.h"

void pacer_init(pacer_t *p, int64_t start_us, uint32_t rate)
{
    p->start_us = start_us;
    p->samples = 0;
    p->rate = rate ? rate : 48000;
}

int64_t pacer_next_us(const pacer_t *p)
{
    /* exact: no rounding error builds up however long the stream runs */
    return p->start_us + (int64_t)(p->samples * 1000000u / p->rate);
}

bool pacer_due(const pacer_t *p, int64_t now_us)
{
    return now_us >= pacer_next_us(p);
}

void pacer_advance(pacer_t *p, uint64_t samples)
{
    p->samples += samples;
}

void pacer_seek(pacer_t *p, uint64_t samples)
{
    p->samples = samples;
}

static gboolean s_dispatch(GSource *src, GSourceFunc fn, gpointer data)
{
    g_source_set_ready_time(src, -1);   /* the callback re-arms it */
    return fn ? fn(data) : G_SOURCE_REMOVE;
}

static GSourceFuncs s_funcs = { NULL, NULL, s_dispatch, NULL, NULL, NULL };

GSource *pacer_source_new(GSourceFunc fn, void *data)
{
    GSource *src = g_source_new(&s_funcs, sizeof(GSource));
    g_source_set_callback(src, fn, data, NULL);
    g_source_set_priority(src, G_PRIORITY_HIGH);
    g_source_set_ready_time(src, -1);
    return src;
}

void pacer_source_wake(GSource *src, int64_t at_us)
{
    g_source_set_ready_time(src, at_us);
}
