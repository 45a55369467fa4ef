/* pacer — see pacer.h and docs/edge.md. */
#include "pacer.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *data;
    size_t len;
    uint32_t duration_us;
    int64_t origin_ts_us;
    bool live;               /* held to its capture time; else on the steady slot */
} s_frame_t;

struct pacer {
    GSource *source;
    pacer_send_fn *send;
    void *arg;
    GQueue queue;            /* s_frame_t * */
    uint64_t queued_us;
    uint64_t limit_us;
    int64_t jitter_us;       /* how much delay spread a live frame may absorb */
    int64_t next_us;         /* deadline of the next slot (monotonic); 0: idle */
    uint32_t last_duration_us;
    int64_t last_origin_us;  /* of the frame sent last */
    int64_t pushed_origin_us;/* of the frame pushed last */
    /* Least delay (arrival - origin, in wall-clock µs) in the current and the
     * previous window: the pipeline's floor, which live frames are held to. */
    int64_t floor_cur, floor_prev, floor_since_us;
    uint64_t dropped;
};

#define PACER_FLOOR_WINDOW_US 2000000
/* A frame within this of its slot is on time: GLib's main loop wakes with
 * millisecond granularity anyway, and a real-time stream pushed a few
 * microseconds before its slot must not wait a whole loop iteration. */
#define PACER_SLACK_US 1000
#define PACER_NO_FLOOR INT64_MAX

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

/* Takes one arrival delay into the floor: the least over the last two to
 * four seconds. */
static void s_floor_update(pacer_t *self, int64_t now, int64_t delay)
{
    if (now - self->floor_since_us >= PACER_FLOOR_WINDOW_US) {
        self->floor_prev = self->floor_cur;
        self->floor_cur = PACER_NO_FLOOR;
        self->floor_since_us = now;
    }
    if (delay < self->floor_cur) self->floor_cur = delay;
}

/* A frame of a live stream: captured one to three frame durations after the
 * frame pushed before it (a lost frame or two upstream stays live). A TTS
 * reply's frames share one origin, and a stream that paused restarts with a
 * jump: those are paced on the steady slot instead. */
static bool s_is_live(const pacer_t *self, int64_t origin, uint32_t duration_us)
{
    if (origin <= 0 || self->pushed_origin_us <= 0) return false;
    int64_t step = origin - self->pushed_origin_us;
    return step * 2 >= duration_us && step <= (int64_t)duration_us * 3;
}

/* When a live frame is due (monotonic): its capture time + the current
 * floor + the allowance. Computed when asked, so a floor that fell since the
 * frame came (a delayed bunch: its last frame has the least delay) lets the
 * frames before it go at once. */
static int64_t s_live_due(const pacer_t *self, const s_frame_t *f)
{
    int64_t floor = self->floor_cur < self->floor_prev ? self->floor_cur : self->floor_prev;
    if (floor == PACER_NO_FLOOR) return 1;
    int64_t due = f->origin_ts_us + floor + self->jitter_us + (g_get_monotonic_time() - g_get_real_time());
    return due > 0 ? due : 1;
}

static int64_t s_head_due(const pacer_t *self)
{
    const s_frame_t *f = g_queue_peek_head((GQueue *)&self->queue);
    if (!f) return -1;
    return f->live ? s_live_due(self, f) : self->next_us;
}

static void s_arm(pacer_t *self)
{
    g_source_set_ready_time(self->source, s_head_due(self));
}

/* Sends every frame that is due at `now`. A live frame leaves at its own
 * time; a paced one in its slot, and the slots after a late wake-up are
 * caught up, never two frames for one slot that did not pass. */
static void s_send_due(pacer_t *self, int64_t now)
{
    s_frame_t *f;
    while ((f = g_queue_peek_head(&self->queue))) {
        if (f->live) {
            if (now < s_live_due(self, f)) break;
            int64_t step = self->last_origin_us > 0 ? f->origin_ts_us - self->last_origin_us : 0;
            unsigned gaps = self->last_duration_us && step > (int64_t)self->last_duration_us * 3 / 2
                                ? (unsigned)((step + self->last_duration_us / 2) / self->last_duration_us) - 1 : 0;
            s_send_head(self, gaps);
            self->next_us = now + self->last_duration_us;
            continue;
        }
        if (now + PACER_SLACK_US < self->next_us) break;
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
             * call). */
            int64_t captured = f->origin_ts_us - self->last_origin_us;
            bool continuous = self->last_origin_us > 0 && f->origin_ts_us > 0
                              && captured * 2 >= self->last_duration_us && captured <= self->last_duration_us * 3 / 2;
            /* Frames queued behind this one are a burst being paced: the
             * underrun was before the burst, not inside it. */
            gaps = continuous ? 0 : (unsigned)(late / self->last_duration_us);
            self->next_us = now;
        }
        s_send_head(self, gaps);
        self->next_us += self->last_duration_us;
    }
}

static gboolean s_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb; (void)data;
    pacer_t *self = ((s_source_t *)source)->pacer;
    s_send_due(self, g_get_monotonic_time());
    s_arm(self);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs s_funcs = { NULL, NULL, s_dispatch, NULL, NULL, NULL };

pacer_t *pacer_new(GMainContext *ctx, uint32_t limit_ms, uint32_t jitter_ms, pacer_send_fn *send, void *arg)
{
    pacer_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    g_queue_init(&self->queue);
    self->send = send;
    self->arg = arg;
    self->limit_us = (uint64_t)limit_ms * 1000;
    self->jitter_us = (int64_t)jitter_ms * 1000;
    self->floor_cur = self->floor_prev = PACER_NO_FLOOR;
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
    int64_t now = g_get_monotonic_time();
    /* Live audio is held to its capture time plus the pipeline's least delay
     * plus the jitter allowance: arrivals that spread less than that leave
     * on the caller's own capture clock, perfectly smooth, and a late one
     * cannot push the frames behind it later (the schedule is the capture
     * clock, not the previous send). */
    f->live = s_is_live(self, origin_ts_us, duration_us);
    if (origin_ts_us > 0) s_floor_update(self, now, g_get_real_time() - origin_ts_us);
    self->pushed_origin_us = origin_ts_us;
    g_queue_push_tail(&self->queue, f);
    self->queued_us += duration_us;
    while (self->queued_us > self->limit_us && g_queue_get_length(&self->queue) > 1) {
        s_frame_t *old = g_queue_pop_head(&self->queue);
        self->queued_us -= old->duration_us;
        self->dropped++;
        s_frame_free(old);
    }
    s_send_due(self, now);
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
