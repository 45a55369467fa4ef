/* queue — see queue.h. */
#include "queue.h"
#include "spoken.h"
#include "split.h"
#include "session_map.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* What a piece of text takes to say before its audio is known (flite's
 * voices: 60..75 ms a character); refined from the audio made. */
#define DEFAULT_SECONDS_PER_CHAR 0.07

typedef struct s_piece {
    char *text;
    uint64_t turn;
    uint32_t index;               /* of its sentence in the turn */
    int64_t origin_us;            /* the sentence's envelope origin */
    int64_t recv_us;              /* when its sentence arrived */
    bool sentence_start;          /* first piece of its sentence */
    struct s_piece *next;
} s_piece_t;

typedef struct s_session s_session_t;
struct s_session {
    tts_queue_t *q;
    char *id;
    s_piece_t *head, *tail;       /* waiting */
    size_t npending;
    uint64_t turn;                /* the reply being spoken (0: none yet) */
    uint64_t cut_turn;            /* this turn and older ones are never spoken */
    int64_t cut_origin_us;        /* sentences answering speech older than this are dropped */
    bool turn_heard;              /* the turn's first audio is out */
    size_t trim_left;             /* frames of leading silence the turn's first audio may still lose */
    int16_t *lead;                /* the end of the silence dropped: the lead-in kept before the onset */
    size_t nlead;
    tts_spoken_t *spoken;         /* the current turn's record */
    uint64_t job;                 /* in flight (0: none) */
    s_piece_t *active;            /* its piece */
    bool active_heard;            /* its first audio is out */
    size_t active_frames;         /* published for it */
    uint64_t sentence_raw;        /* frames the engine made for the active sentence so far */
    uint64_t offset;              /* frames published for the session */
    s_session_t *ready_prev, *ready_next;
    bool ready;                   /* on the ready list: waiting pieces, no job */
};

typedef struct {
    uint64_t job;
    s_session_t *session;
} s_slot_t;

struct tts_queue {
    tts_queue_config_t cfg;
    tts_engine_t engine;
    tts_output_t out;
    session_map_t *sessions;
    s_session_t *ready_head, *ready_tail;
    s_slot_t *slots;              /* engine.capacity of them */
    size_t nactive;
    uint64_t next_job;
    bool pumping, repump;
    double frames_per_char;
    uint64_t rate_frames, rate_chars;
    tts_queue_stats_t st;
    log_ratelimit_t rl;
    metric_t *m_first_sentence, *m_first_turn, *m_sentences, *m_chars, *m_audio, *m_interrupts, *m_errors,
        *m_dropped_cut, *m_dropped_stale, *m_dropped_limit, *m_late, *m_sessions, *m_active;
};

void tts_queue_config_defaults(tts_queue_config_t *cfg)
{
    *cfg = (tts_queue_config_t){ .max_sessions = 1000, .idle_us = 120 * 1000000LL, .max_pending = 256,
                                 .max_sentence_chars = 2000, .max_piece_chars = 200, .max_turn_pieces = 1024,
                                 .trim_lead_us = 400000 };
}

/* ---- sessions ------------------------------------------------------------------------- */

static void s_ready_link(tts_queue_t *q, s_session_t *s)
{
    if (s->ready || !s->head || s->job) return;
    s->ready = true;
    s->ready_prev = q->ready_tail;
    s->ready_next = NULL;
    if (q->ready_tail) q->ready_tail->ready_next = s;
    else q->ready_head = s;
    q->ready_tail = s;
}

static void s_ready_unlink(tts_queue_t *q, s_session_t *s)
{
    if (!s->ready) return;
    if (s->ready_prev) s->ready_prev->ready_next = s->ready_next;
    else q->ready_head = s->ready_next;
    if (s->ready_next) s->ready_next->ready_prev = s->ready_prev;
    else q->ready_tail = s->ready_prev;
    s->ready = false;
    s->ready_prev = s->ready_next = NULL;
}

static void s_piece_free(s_piece_t *p)
{
    if (!p) return;
    free(p->text);
    free(p);
}

/* Drops the waiting pieces; returns how many. */
static size_t s_drop_pending(s_session_t *s)
{
    size_t n = s->npending;
    while (s->head) {
        s_piece_t *p = s->head;
        s->head = p->next;
        s_piece_free(p);
    }
    s->tail = NULL;
    s->npending = 0;
    s_ready_unlink(s->q, s);
    return n;
}

static s_slot_t *s_slot(tts_queue_t *q, uint64_t job)
{
    for (size_t i = 0; i < q->engine.capacity; i++)
        if (q->slots[i].job == job && job) return &q->slots[i];
    return NULL;
}

static void s_release(tts_queue_t *q, s_session_t *s)
{
    s_slot_t *slot = s_slot(q, s->job);
    if (slot) {
        *slot = (s_slot_t){ 0 };
        q->nactive--;
        metric_set(q->m_active, (double)q->nactive);
    }
    s->job = 0;
    s_piece_free(s->active);
    s->active = NULL;
}

/* Stops the job in flight: the engine forgets it, its slot is free. */
static void s_cancel_job(tts_queue_t *q, s_session_t *s)
{
    if (!s->job) return;
    q->engine.cancel(q->engine.impl, s->job);
    s_release(q, s);
}

/* The lead-in kept before a trimmed onset: 30 ms. */
static size_t s_lead_frames(const tts_queue_t *q)
{
    return q->engine.rate * 30 / 1000;
}

static void *s_session_make(const char *id, void *arg)
{
    tts_queue_t *q = arg;
    s_session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->q = q;
    s->id = strdup(id);
    s->spoken = tts_spoken_new(q->engine.rate, q->cfg.max_turn_pieces);
    s->lead = malloc(s_lead_frames(q) * sizeof *s->lead);
    if (!s->id || !s->spoken || !s->lead) {
        free(s->lead);
        free(s->id);
        tts_spoken_destroy(&s->spoken);
        free(s);
        return NULL;
    }
    return s;
}

static void s_session_free(void *state, const char *id, const char *why, void *arg)
{
    (void)arg;
    s_session_t *s = state;
    tts_queue_t *q = s->q;
    if (s->job || s->head) log_info("session %s: %s: speech stopped", id, why);
    s_cancel_job(q, s);
    s_drop_pending(s);
    tts_spoken_destroy(&s->spoken);
    free(s->lead);
    free(s->id);
    free(s);
}

static void s_sessions_changed(tts_queue_t *q)
{
    metric_set(q->m_sessions, (double)session_map_size(q->sessions));
}

/* ---- scheduling ----------------------------------------------------------------------- */

/* When the session needs its next audio: when what it has published stops
 * playing, or, with nothing playing, when its sentence arrived (the longest
 * waiting first). */
static int64_t s_deadline(const s_session_t *s)
{
    int64_t end = tts_spoken_play_end(s->spoken);
    return end > s->head->recv_us ? end : s->head->recv_us;
}

static s_session_t *s_next_ready(tts_queue_t *q)
{
    s_session_t *best = NULL;
    int64_t best_deadline = 0;
    for (s_session_t *s = q->ready_head; s; s = s->ready_next) {
        int64_t d = s_deadline(s);
        if (!best || d < best_deadline) {
            best = s;
            best_deadline = d;
        }
    }
    return best;
}

static void s_finish(tts_queue_t *q, s_session_t *s, const char *error);

/* Gives free engine slots to waiting sessions. Engines may call back from
 * start() (the fake one does): a nested call only asks for another round. */
static void s_pump(tts_queue_t *q)
{
    if (q->pumping) {
        q->repump = true;
        return;
    }
    q->pumping = true;
    do {
        q->repump = false;
        s_session_t *s;
        while (q->nactive < q->engine.capacity && (s = s_next_ready(q))) {
            s_ready_unlink(q, s);
            s_piece_t *p = s->head;
            s->head = p->next;
            if (!s->head) s->tail = NULL;
            s->npending--;
            s_slot_t *slot = q->slots;       /* a free one exists: nactive < capacity */
            while (slot->job) slot++;
            s->job = ++q->next_job;
            s->active = p;
            s->active_heard = false;
            s->active_frames = 0;
            if (p->sentence_start) s->sentence_raw = 0;
            *slot = (s_slot_t){ s->job, s };
            q->nactive++;
            metric_set(q->m_active, (double)q->nactive);
            if (tts_spoken_begin(s->spoken, p->text) < 0) {
                uint64_t sup = 0;
                if (log_ratelimit_ok(&q->rl, &sup))
                    log_warn("session %s: turn %" PRIu64 ": more than %zu pieces, the rest is not tracked",
                             s->id, p->turn, q->cfg.max_turn_pieces);
            }
            q->st.pieces++;
            uint64_t job = s->job;
            int rc = q->engine.start(q->engine.impl, job, s->id, p->text);
            if (rc < 0 && s->job == job) s_finish(q, s, strerror(-rc));
        }
    } while (q->repump);
    q->pumping = false;
}

/* The job in flight is over (error: why it failed). */
static void s_finish(tts_queue_t *q, s_session_t *s, const char *error)
{
    s_piece_t *p = s->active;
    bool sentence_done = !error && p && (!s->head || s->head->sentence_start || s->head->turn != p->turn);
    if (sentence_done && q->out.progress) q->out.progress(q->out.user, s->id, p->turn, p->index, p->origin_us);
    if (error) {
        q->st.errors++;
        metric_add(q->m_errors, 1);
        log_warn("session %s: turn %" PRIu64 " sentence %u: %s synthesis failed: %s", s->id, s->active->turn,
                 s->active->index, q->engine.name, error);
    }
    tts_spoken_end(s->spoken);
    s_release(q, s);
    s_ready_link(q, s);
    s_pump(q);
}

/* ---- events --------------------------------------------------------------------------- */

typedef struct {
    s_session_t *s;
    uint64_t turn;
    uint32_t index;
    int64_t origin_us, now_us;
    bool first;
} s_add_t;

static int s_add_piece(const char *text, size_t len, void *arg)
{
    s_add_t *a = arg;
    s_piece_t *p = calloc(1, sizeof *p);
    if (!p || !(p->text = strndup(text, len))) {
        free(p);
        return -ENOMEM;
    }
    p->turn = a->turn;
    p->index = a->index;
    p->origin_us = a->origin_us;
    p->recv_us = a->now_us;
    p->sentence_start = a->first;
    a->first = false;
    if (a->s->tail) a->s->tail->next = p;
    else a->s->head = p;
    a->s->tail = p;
    a->s->npending++;
    return 0;
}

static int s_drop(uint64_t *counter, metric_t *m)
{
    (*counter)++;
    metric_add(m, 1);
    return 0;
}

/* A newer turn began while an older one was still being synthesised: the
 * LLM has moved on, so the rest of the old reply is not said. */
static void s_new_turn(tts_queue_t *q, s_session_t *s, uint64_t turn)
{
    if (s->job || s->head) {
        size_t n = s_drop_pending(s) + (s->job ? 1 : 0);
        s_cancel_job(q, s);
        q->st.superseded += n;
        log_info("session %s: turn %" PRIu64 " replaces turn %" PRIu64 " (%zu pieces not spoken)", s->id, turn,
                 s->turn, n);
    }
    s->turn = turn;
    s->turn_heard = false;
    s->trim_left = (size_t)((int64_t)q->engine.rate * q->cfg.trim_lead_us / 1000000);
    s->nlead = 0;
    tts_spoken_reset(s->spoken);
}

int tts_queue_sentence(tts_queue_t *q, const char *session, uint64_t turn, uint32_t index, const char *text,
                       int64_t origin_us, int64_t now_us)
{
    size_t len = text ? strlen(text) : 0;
    while (len > 0 && isspace((unsigned char)*text)) text++, len--;
    if (len == 0) return 0;
    if (turn == 0) {
        uint64_t sup = 0;
        if (log_ratelimit_ok(&q->rl, &sup))
            log_warn("session %s: sentence without a turn id dropped (%" PRIu64 " similar suppressed)", session, sup);
        return s_drop(&q->st.dropped_limit, q->m_dropped_limit);
    }
    s_session_t *s = session_map_open(q->sessions, session);
    s_sessions_changed(q);
    if (!s) return s_drop(&q->st.dropped_limit, q->m_dropped_limit);
    if (turn <= s->cut_turn || (origin_us > 0 && origin_us <= s->cut_origin_us)) {
        log_debug("session %s: turn %" PRIu64 " sentence %u dropped: the turn was cut", session, turn, index);
        return s_drop(&q->st.dropped_cut, q->m_dropped_cut);
    }
    if (turn < s->turn) {
        log_debug("session %s: turn %" PRIu64 " sentence %u dropped: turn %" PRIu64 " is speaking", session, turn,
                  index, s->turn);
        return s_drop(&q->st.dropped_stale, q->m_dropped_stale);
    }
    if (turn > s->turn) s_new_turn(q, s, turn);
    if (s->npending >= q->cfg.max_pending) {
        uint64_t sup = 0;
        if (log_ratelimit_ok(&q->rl, &sup))
            log_warn("session %s: turn %" PRIu64 " sentence %u dropped: %zu pieces already waiting "
                     "(%" PRIu64 " similar suppressed)", session, turn, index, s->npending, sup);
        return s_drop(&q->st.dropped_limit, q->m_dropped_limit);
    }
    if (len > q->cfg.max_sentence_chars) {
        size_t cut = q->cfg.max_sentence_chars;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
        log_warn("session %s: turn %" PRIu64 " sentence %u: %zu bytes, only the first %zu are spoken", session,
                 turn, index, len, cut);
        len = cut;
    }
    s_add_t a = { s, turn, index, origin_us, now_us, true };
    if (tts_split(text, len, q->cfg.max_piece_chars, s_add_piece, &a) < 0) {
        log_error("session %s: out of memory", session);
        return -ENOMEM;
    }
    q->st.sentences++;
    q->st.chars += len;
    metric_add(q->m_sentences, 1);
    metric_add(q->m_chars, (double)len);
    s_ready_link(q, s);
    s_pump(q);
    return 1;
}

uint64_t tts_queue_interrupt(tts_queue_t *q, const char *session, int64_t origin_us, int64_t now_us)
{
    s_session_t *s = session_map_get(q->sessions, session);
    if (!s) return 0;
    if (origin_us > s->cut_origin_us) s->cut_origin_us = origin_us;
    if (s->turn == 0 || s->turn <= s->cut_turn) return 0;
    uint64_t turn = s->turn;
    s->cut_turn = turn;
    size_t dropped = s_drop_pending(s) + (s->job ? 1 : 0);
    s_cancel_job(q, s);
    /* The piece being made stays unfinished in the record: its length is
     * then estimated, not taken to be what was published. */
    size_t played = tts_spoken_played(s->spoken, now_us), total = tts_spoken_frames(s->spoken);
    char *heard = tts_spoken_heard(s->spoken, now_us, q->frames_per_char);
    q->st.interrupts++;
    metric_add(q->m_interrupts, 1);
    log_info("session %s: turn %" PRIu64 " cut after %.2f of %.2f s published (%zu pieces not spoken); heard %zu "
             "chars", session, turn, (double)played / q->engine.rate, (double)total / q->engine.rate, dropped,
             heard ? strlen(heard) : 0);
    if (q->out.spoken) q->out.spoken(q->out.user, s->id, turn, origin_us, heard ? heard : "");
    free(heard);
    tts_spoken_reset(s->spoken);
    s_pump(q);
    return turn;
}

void tts_queue_end(tts_queue_t *q, const char *session)
{
    session_map_end(q->sessions, session, "ended");
    s_sessions_changed(q);
    s_pump(q);
}

void tts_queue_reap(tts_queue_t *q)
{
    if (session_map_reap(q->sessions)) s_sessions_changed(q);
    s_pump(q);
}

/* ---- engine results ------------------------------------------------------------------- */

static s_session_t *s_job_session(tts_queue_t *q, uint64_t job)
{
    s_slot_t *slot = s_slot(q, job);
    if (!slot || slot->session->job != job) {
        q->st.late_results++;
        metric_add(q->m_late, 1);
        return NULL;
    }
    return slot->session;
}

static void s_first_audio(tts_queue_t *q, s_session_t *s, int64_t now_us)
{
    s_piece_t *p = s->active;
    if (p->sentence_start && !s->active_heard) metric_observe(q->m_first_sentence, (double)(now_us - p->recv_us) / 1e6);
    if (!s->turn_heard) {
        s->turn_heard = true;
        int64_t since = now_us - p->origin_us;
        if (p->origin_us > 0 && since >= 0 && since < 3600 * 1000000LL)
            metric_observe(q->m_first_turn, (double)since / 1e6);
        log_debug("session %s: turn %" PRIu64 ": first audio %.1f ms after the sentence, %.1f ms after the end of "
                  "speech", s->id, p->turn, (now_us - p->recv_us) / 1e3, p->origin_us ? since / 1e3 : 0.0);
    }
    s->active_heard = true;
}

static void s_publish(tts_queue_t *q, s_session_t *s, const int16_t *samples, size_t frames, uint64_t raw,
                      int64_t now_us)
{
    if (frames == 0) return;
    s_first_audio(q, s, now_us);
    tts_audio_t a = { s->id, s->active->turn, s->active->origin_us, samples, frames, q->engine.rate, s->offset,
                      s->active->index + 1, raw };
    q->out.audio(q->out.user, &a);
    s->offset += frames;
    s->active_frames += frames;
    tts_spoken_audio(s->spoken, frames, now_us);
    q->st.frames += frames;
    metric_add(q->m_audio, (double)frames / q->engine.rate);
}

/* The first 5 ms window louder than -50 dBFS (RMS 100), or n. */
static size_t s_onset(const int16_t *x, size_t n, uint32_t rate)
{
    size_t win = rate / 200;
    for (size_t at = 0; win && at + win <= n; at += win) {
        double e = 0;
        for (size_t i = at; i < at + win; i++) e += (double)x[i] * x[i];
        if (e > 100.0 * 100.0 * (double)win) return at;
    }
    return n;
}

/* A reply's first audio starts with the engine's leading silence (flite:
 * about 200 ms): dead time for a caller who waits for an answer. It is
 * dropped, up to trim_lead_us, but for a 30 ms lead-in before the onset.
 * Returns the frames of `samples` from which to publish (frames: none). */
static size_t s_trim(tts_queue_t *q, s_session_t *s, const int16_t *samples, size_t frames, uint64_t raw,
                     int64_t now_us)
{
    size_t lead = s_lead_frames(q);
    size_t onset = s_onset(samples, frames, q->engine.rate);
    if (onset == frames && frames < s->trim_left) {
        s->trim_left -= frames;
        /* Keep the end of it as the lead-in, should the onset come next. */
        size_t k = frames < lead ? frames : lead;
        size_t keep = s->nlead + k > lead ? lead - k : s->nlead;
        memmove(s->lead, s->lead + s->nlead - keep, keep * sizeof *s->lead);
        memcpy(s->lead + keep, samples + frames - k, k * sizeof *samples);
        s->nlead = keep + k;
        return frames;
    }
    size_t start = onset > lead ? onset - lead : 0;
    if (start > s->trim_left) start = s->trim_left;      /* never more than the budget */
    s->trim_left = 0;
    if (onset == frames) return start;                    /* no onset within the budget: silence it is */
    size_t from_lead = onset - start >= lead ? 0 : lead - (onset - start);
    if (from_lead > s->nlead) from_lead = s->nlead;
    s_publish(q, s, s->lead + s->nlead - from_lead, from_lead, raw >= from_lead ? raw - from_lead : 0, now_us);
    return start;
}

void tts_queue_audio(tts_queue_t *q, uint64_t job, const int16_t *samples, size_t frames, int64_t now_us)
{
    s_session_t *s = s_job_session(q, job);
    if (!s || frames == 0) return;
    /* Cancelled jobs never get here; this is the last line of defence. */
    if (s->active->turn <= s->cut_turn) {
        q->st.late_results++;
        metric_add(q->m_late, 1);
        return;
    }
    uint64_t raw = s->sentence_raw;
    s->sentence_raw += frames;
    size_t start = !s->turn_heard && s->trim_left > 0 ? s_trim(q, s, samples, frames, raw, now_us) : 0;
    s_publish(q, s, samples + start, frames - start, raw + start, now_us);
}

void tts_queue_done(tts_queue_t *q, uint64_t job, const char *error, int64_t now_us)
{
    (void)now_us;
    s_session_t *s = s_job_session(q, job);
    if (!s) return;
    if (!error && s->active_frames > 0) {
        /* Learn how long a character takes with this engine and voice (for
         * the length of a piece cut before its audio was complete). */
        q->rate_chars += strlen(s->active->text);
        q->rate_frames += s->active_frames;
        if (q->rate_chars >= 200) q->frames_per_char = (double)q->rate_frames / (double)q->rate_chars;
    }
    s_finish(q, s, error);
}

/* ---- the queue ------------------------------------------------------------------------ */

tts_queue_t *tts_queue_new(const tts_queue_config_t *cfg, const tts_engine_t *engine, const tts_output_t *output,
                           metrics_t *m)
{
    if (!engine || engine->capacity == 0 || engine->rate == 0 || !output || !output->audio) return NULL;
    tts_queue_t *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    if (cfg) q->cfg = *cfg;
    else tts_queue_config_defaults(&q->cfg);
    q->engine = *engine;
    q->out = *output;
    q->frames_per_char = DEFAULT_SECONDS_PER_CHAR * engine->rate;
    q->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    q->slots = calloc(engine->capacity, sizeof *q->slots);
    q->sessions = session_map_new(q->cfg.max_sessions, q->cfg.idle_us, s_session_make, s_session_free, q);
    if (!q->slots || !q->sessions) {
        tts_queue_destroy(&q);
        return NULL;
    }
    if (m) {
        static const double first_bounds[] = { 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10 };
        size_t nb = sizeof first_bounds / sizeof first_bounds[0];
        q->m_first_sentence = metrics_histogram(m, "voxmesh_tts_first_audio_seconds", "from=\"sentence\"",
                                                "Time to the first audio: from the llm.sentence (sentence) or from "
                                                "the end of the caller's speech (speech_end, first sentence of a turn)",
                                                first_bounds, nb);
        q->m_first_turn = metrics_histogram(m, "voxmesh_tts_first_audio_seconds", "from=\"speech_end\"",
                                            "Time to the first audio: from the llm.sentence (sentence) or from the "
                                            "end of the caller's speech (speech_end, first sentence of a turn)",
                                            first_bounds, nb);
        q->m_sentences = metrics_counter(m, "voxmesh_tts_sentences_total", NULL, "Sentences queued for synthesis");
        q->m_chars = metrics_counter(m, "voxmesh_tts_chars_total", NULL, "Characters queued for synthesis");
        q->m_audio = metrics_counter(m, "voxmesh_tts_audio_seconds_total", NULL, "Audio published, seconds");
        q->m_interrupts = metrics_counter(m, "voxmesh_tts_interrupts_total", NULL, "Turns cut by a barge-in");
        q->m_errors = metrics_counter(m, "voxmesh_tts_errors_total", NULL, "Synthesis jobs that failed");
        q->m_dropped_cut = metrics_counter(m, "voxmesh_tts_dropped_sentences_total", "reason=\"cut\"",
                                           "Sentences not spoken");
        q->m_dropped_stale = metrics_counter(m, "voxmesh_tts_dropped_sentences_total", "reason=\"stale\"",
                                             "Sentences not spoken");
        q->m_dropped_limit = metrics_counter(m, "voxmesh_tts_dropped_sentences_total", "reason=\"limit\"",
                                             "Sentences not spoken");
        q->m_late = metrics_counter(m, "voxmesh_tts_late_results_total", NULL,
                                    "Engine results for jobs no longer wanted (dropped)");
        q->m_sessions = metrics_gauge(m, "voxmesh_tts_sessions", NULL, "Sessions with TTS state");
        q->m_active = metrics_gauge(m, "voxmesh_tts_jobs_active", NULL, "Synthesis jobs in flight");
    }
    return q;
}

void tts_queue_destroy(tts_queue_t **self_p)
{
    if (!self_p || !*self_p) return;
    tts_queue_t *q = *self_p;
    q->pumping = true;                 /* freeing sessions must not start new jobs */
    session_map_destroy(&q->sessions);
    free(q->slots);
    free(q);
    *self_p = NULL;
}

tts_queue_stats_t tts_queue_stats(const tts_queue_t *q)
{
    return q->st;
}

size_t tts_queue_sessions(const tts_queue_t *q)
{
    return session_map_size(q->sessions);
}

size_t tts_queue_active(const tts_queue_t *q)
{
    return q->nactive;
}
