/* pacer — see pacer.h and docs/edge.md. */
#include "pacer.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t len;
    uint32_t duration_us;
    int64_t origin_ts_us;
} s_frame_t;

struct pacer {
    GSource *source;
    pacer_send_fn *send;
    void *arg;
    GQueue queue;            /* s_frame_t * */
    uint64_t queued_us;
    uint64_t limit_us;
    int64_t next_us;         /* deadline of the next slot (monotonic); 0: idle */
    uint32_t last_duration_us;
    int64_t last_origin_us;  /* of the frame sent last */
    uint64_t dropped;
};

typedef struct {
    GSource base;
    pacer_t *pacer;
} s_source_t;

static void s_frame_free(s_frame_t *f)
{
    if (!f) return;
    free(f->data);
    free(f);
}

/* Sends the head of the queue, `gaps` empty slots after the previous one. */
static void s_send_head(pacer_t *self, unsigned gaps)
{
    s_frame_t *f = g_queue_pop_head(&self->queue);
    self->queued_us -= f->duration_us;
    self->last_duration_us = f->duration_us;
    self->last_origin_us = f->origin_ts_us;
    self->send(self->arg, f->data, f->len, f->duration_us, f->origin_ts_us, gaps);
    s_frame_free(f);
}

/* A live stream may queue this much before the pacer catches up, and then
 * drains to one frame: a little queue keeps the output on the steady clock
 * (the caller's jitter buffer stays calm), a bounded one keeps it from
 * growing into lasting latency. */
#define PACER_LIVE_QUEUE_MAX_US 60000

/* True when the queue is real-time audio that fell behind rather than audio
 * made faster than real time: since the frame sent last, its frames were
 * captured (origin timestamps) over at least half the time they take to play.
 * A delayed bunch of a live stream left queued would stay queued for good —
 * every later frame arrives as one leaves — and add its delay to the rest of
 * the call. A TTS reply's frames share their origin (the utterance they
 * answer): they are paced, however many. */
static bool s_live(const pacer_t *self)
{
    const s_frame_t *tail = self->queue.tail ? self->queue.tail->data : NULL;
    if (!tail || self->last_origin_us <= 0 || tail->origin_ts_us <= 0) return false;
    int64_t captured = tail->origin_ts_us - self->last_origin_us;
    return captured > 0 && captured * 2 >= (int64_t)self->queued_us;
}

static void s_catch_up(pacer_t *self, int64_t now)
{
    if (self->queued_us <= PACER_LIVE_QUEUE_MAX_US || !s_live(self)) return;
    while (self->queued_us > self->last_duration_us && g_queue_get_length(&self->queue) > 1) {
        s_send_head(self, 0);
        self->next_us = now + self->last_duration_us;
    }
}

static void s_arm(pacer_t *self)
{
    g_source_set_ready_time(self->source, g_queue_is_empty(&self->queue) ? -1 : self->next_us);
}

static gboolean s_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb; (void)data;
    pacer_t *self = ((s_source_t *)source)->pacer;
    int64_t now = g_get_monotonic_time();
    /* Catch up if the loop was late, but never send two frames for one slot
     * unless the slot really passed. */
    while (!g_queue_is_empty(&self->queue) && now >= self->next_us) {
        s_send_head(self, 0);
        self->next_us += self->last_duration_us;
    }
    s_catch_up(self, now);
    s_arm(self);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs s_funcs = { NULL, NULL, s_dispatch, NULL, NULL, NULL };

pacer_t *pacer_new(GMainContext *ctx, uint32_t limit_ms, pacer_send_fn *send, void *arg)
{
    pacer_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    g_queue_init(&self->queue);
    self->send = send;
    self->arg = arg;
    self->limit_us = (uint64_t)limit_ms * 1000;
    self->source = g_source_new(&s_funcs, sizeof(s_source_t));
    ((s_source_t *)self->source)->pacer = self;
    g_source_set_priority(self->source, G_PRIORITY_HIGH);   /* audio first */
    g_source_set_ready_time(self->source, -1);
    g_source_attach(self->source, ctx);
    return self;
}

void pacer_destroy(pacer_t **self_p)
{
    if (!self_p || !*self_p) return;
    pacer_t *self = *self_p;
    g_source_destroy(self->source);
    g_source_unref(self->source);
    g_queue_clear_full(&self->queue, (GDestroyNotify)s_frame_free);
    free(self);
    *self_p = NULL;
}

void pacer_push(pacer_t *self, const uint8_t *data, size_t len, uint32_t duration_us, int64_t origin_ts_us)
{
    if (!self || !data || len == 0) return;
    if (duration_us == 0 || duration_us > 120000) duration_us = 20000;
    s_frame_t *f = malloc(sizeof *f);
    if (!f) return;
    f->data = malloc(len);
    if (!f->data) {
        free(f);
        return;
    }
    memcpy(f->data, data, len);
    f->len = len;
    f->duration_us = duration_us;
    f->origin_ts_us = origin_ts_us;
    g_queue_push_tail(&self->queue, f);
    self->queued_us += duration_us;
    while (self->queued_us > self->limit_us && g_queue_get_length(&self->queue) > 1) {
        s_frame_t *old = g_queue_pop_head(&self->queue);
        self->queued_us -= old->duration_us;
        self->dropped++;
        s_frame_free(old);
    }

    int64_t now = g_get_monotonic_time();
    if (g_queue_get_length(&self->queue) == 1 && now >= self->next_us) {
        /* Nothing waiting and the slot is open: send now, no added delay. */
        unsigned gaps = 0;
        int64_t late = now - self->next_us;
        if (self->next_us == 0) {
            self->next_us = now;                    /* the first frame */
        } else if (self->last_duration_us && late >= self->last_duration_us) {
            /* Whole slots went by empty (an underrun): the schedule starts
             * over from now. They are a gap in the audio only if the source
             * paused: a frame captured one frame after the last one sent is
             * the same stream, merely delivered late, and its timestamp must
             * not jump (each jump would add its length to the rest of the
             * call). Less late than a frame is jitter: the schedule stays, so
             * the frames behind this one are not held back. */
            int64_t captured = origin_ts_us - self->last_origin_us;
            bool continuous = self->last_origin_us > 0 && origin_ts_us > 0
                              && captured * 2 >= self->last_duration_us && captured <= self->last_duration_us * 3 / 2;
            gaps = continuous ? 0 : (unsigned)(late / self->last_duration_us);
            self->next_us = now;
        }
        s_send_head(self, gaps);
        self->next_us += self->last_duration_us;
    }
    s_catch_up(self, now);
    s_arm(self);
}

size_t pacer_flush(pacer_t *self)
{
    size_t n = g_queue_get_length(&self->queue);
    g_queue_clear_full(&self->queue, (GDestroyNotify)s_frame_free);
    g_queue_init(&self->queue);
    self->queued_us = 0;
    s_arm(self);
    return n;
}

uint32_t pacer_queued_ms(const pacer_t *self) { return (uint32_t)(self->queued_us / 1000); }
uint64_t pacer_dropped(const pacer_t *self) { return self->dropped; }

