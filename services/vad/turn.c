/* turn — see turn.h and docs/vad.md. */
#include "turn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_AGENT_QUEUE 8

typedef enum { S_IDLE, S_CANDIDATE, S_TURN } s_state_t;

typedef struct {
    bool playing;
    int64_t at_us;
} s_agent_change_t;

struct _turn_t {
    turn_config_t cfg;
    int64_t min_speech_us, end_silence_us, preroll_us, onset_gap_us, interrupt_min_us;
    int64_t max_candidate_us;   /* a candidate this old without confirmation is dropped */

    s_state_t state;
    bool started;               /* a frame has been seen */
    int64_t last_end_us;        /* end of the previous frame */
    int64_t onset_us;           /* start of the first speech frame of the candidate/turn */
    int64_t last_speech_end_us; /* end of the latest speech frame */
    int64_t speech_us;          /* speech accumulated in the candidate/turn */
    int64_t reported_to_us;     /* end of the audio already named in a result; starts
                                   at the first frame, so pre-roll can't precede it */
    bool interrupted;           /* INTERRUPT already sent for this turn */

    bool agent_playing;
    s_agent_change_t agent_q[S_AGENT_QUEUE];
    size_t agent_n;
};

void turn_config_default(turn_config_t *cfg)
{
    cfg->min_speech_ms = 200;
    cfg->end_silence_ms = 500;
    cfg->preroll_ms = 200;
    cfg->onset_gap_ms = 100;
    cfg->interrupt_min_ms = 0;
}

static bool s_ms_ok(int ms)
{
    return ms >= 0 && ms <= 60000;
}

turn_t *turn_new(const turn_config_t *cfg)
{
    turn_config_t def;
    if (!cfg) {
        turn_config_default(&def);
        cfg = &def;
    }
    if (!s_ms_ok(cfg->min_speech_ms) || !s_ms_ok(cfg->end_silence_ms)
        || !s_ms_ok(cfg->preroll_ms) || !s_ms_ok(cfg->onset_gap_ms)
        || !s_ms_ok(cfg->interrupt_min_ms))
        return NULL;

    turn_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->min_speech_us = (int64_t) cfg->min_speech_ms * 1000;
    self->end_silence_us = (int64_t) cfg->end_silence_ms * 1000;
    self->preroll_us = (int64_t) cfg->preroll_ms * 1000;
    self->onset_gap_us = (int64_t) cfg->onset_gap_ms * 1000;
    self->interrupt_min_us = (int64_t) cfg->interrupt_min_ms * 1000;
    /* 0: barge-in needs as much speech as a turn. Less: the agent is cut on
     * a candidate already (a cough may cut it; it still starts no turn). */
    if (self->interrupt_min_us == 0)
        self->interrupt_min_us = self->min_speech_us;
    /* Real speech reaches min_speech well within twice its length; a sparse
     * run of blips never does, and bounding the candidate bounds the audio
     * the caller must keep for the pre-roll. */
    self->max_candidate_us = 2 * self->min_speech_us + self->onset_gap_us;
    turn_reset(self);
    return self;
}

void turn_destroy(turn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

void turn_reset(turn_t *self)
{
    self->state = S_IDLE;
    self->started = false;
    self->last_end_us = 0;
    self->onset_us = 0;
    self->last_speech_end_us = 0;
    self->speech_us = 0;
    self->reported_to_us = 0;
    self->interrupted = false;
    self->agent_playing = false;
    self->agent_n = 0;
}

bool turn_in_turn(const turn_t *self)
{
    return self->state == S_TURN;
}

int64_t turn_history_us(const turn_t *self)
{
    return self->preroll_us + self->max_candidate_us;
}

const char *turn_event_name(turn_event_type_t type)
{
    switch (type) {
    case TURN_SPEECH_START: return "SPEECH_START";
    case TURN_SPEECH_END: return "SPEECH_END";
    case TURN_INTERRUPT: return "INTERRUPT";
    }
    return "?";
}

int turn_agent_playing(turn_t *self, bool playing, int64_t at_us)
{
    if (!self)
        return -EINVAL;
    /* Changes dated at or before the next frame apply to it; keeping later
     * ones queued lets the caller announce playback it has scheduled. A full
     * queue applies its oldest change early rather than losing it. */
    if (self->agent_n == S_AGENT_QUEUE) {
        self->agent_playing = self->agent_q[0].playing;
        memmove(self->agent_q, self->agent_q + 1, (S_AGENT_QUEUE - 1) * sizeof self->agent_q[0]);
        self->agent_n--;
    }
    /* Keep the queue in time order; a change dated before a queued one
     * supersedes it (the caller changed its mind). */
    while (self->agent_n > 0 && self->agent_q[self->agent_n - 1].at_us >= at_us)
        self->agent_n--;
    self->agent_q[self->agent_n].playing = playing;
    self->agent_q[self->agent_n].at_us = at_us;
    self->agent_n++;
    return 0;
}

static void s_agent_advance(turn_t *self, int64_t t_us)
{
    size_t i = 0;
    while (i < self->agent_n && self->agent_q[i].at_us <= t_us) {
        self->agent_playing = self->agent_q[i].playing;
        i++;
    }
    if (i > 0) {
        memmove(self->agent_q, self->agent_q + i, (self->agent_n - i) * sizeof self->agent_q[0]);
        self->agent_n -= i;
    }
}

static void s_emit(turn_result_t *out, turn_event_type_t type, int64_t at_us,
                   int64_t start_us, int64_t end_us)
{
    /* Cannot happen: a frame yields at most END (of a hole), START and
     * INTERRUPT. */
    if (out->n_events == TURN_MAX_EVENTS)
        return;
    turn_event_t *e = &out->events[out->n_events++];
    e->type = type;
    e->at_us = at_us;
    e->start_us = start_us;
    e->end_us = end_us;
}

static void s_segment(turn_t *self, turn_result_t *out, int64_t from_us, int64_t to_us)
{
    if (from_us < self->reported_to_us)
        from_us = self->reported_to_us;
    if (to_us <= from_us)
        return;
    out->seg_from_us = from_us;
    out->seg_to_us = to_us;
    self->reported_to_us = to_us;
}

static void s_end_turn(turn_t *self, turn_result_t *out, int64_t at_us)
{
    s_emit(out, TURN_SPEECH_END, at_us, self->onset_us, self->last_speech_end_us);
    self->state = S_IDLE;
    self->speech_us = 0;
    self->interrupted = false;
}

/* Talking over the agent: the current frame must be speech, so an agent that
 * starts during the caller's closing silence is not "interrupted" until the
 * caller actually speaks again. Once per candidate or turn. */
static void s_check_interrupt(turn_t *self, turn_result_t *out, bool speech, int64_t end_us)
{
    if (speech && self->agent_playing && !self->interrupted && self->speech_us >= self->interrupt_min_us) {
        self->interrupted = true;
        s_emit(out, TURN_INTERRUPT, end_us, self->onset_us, 0);
    }
}

static void s_start_candidate(turn_t *self, int64_t start_us, int64_t end_us)
{
    self->state = S_CANDIDATE;
    self->interrupted = false;
    self->onset_us = start_us;
    self->speech_us = end_us - start_us;
    self->last_speech_end_us = end_us;
}

int turn_process(turn_t *self, int64_t frame_start_us, int64_t frame_us, bool speech,
                 turn_result_t *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!self || !out || frame_us <= 0)
        return -EINVAL;
    if (self->started && frame_start_us < self->last_end_us)
        return -EINVAL;
    int64_t end_us = frame_start_us + frame_us;
    if (!self->started) {
        self->started = true;
        self->reported_to_us = frame_start_us;
    }
    self->last_end_us = end_us;
    s_agent_advance(self, frame_start_us);

    /* A hole in the timeline is silence: it may have ended the turn. */
    if (self->state == S_TURN && frame_start_us - self->last_speech_end_us >= self->end_silence_us)
        s_end_turn(self, out, self->last_speech_end_us + self->end_silence_us);

    switch (self->state) {
    case S_IDLE:
        if (speech)
            s_start_candidate(self, frame_start_us, end_us);
        break;
    case S_CANDIDATE:
        if (speech) {
            if (frame_start_us - self->last_speech_end_us > self->onset_gap_us
                || end_us - self->onset_us > self->max_candidate_us) {
                s_start_candidate(self, frame_start_us, end_us);
            } else {
                self->speech_us += frame_us;
                self->last_speech_end_us = end_us;
            }
        } else if (end_us - self->last_speech_end_us > self->onset_gap_us
                   || end_us - self->onset_us > self->max_candidate_us) {
            self->state = S_IDLE;
            self->speech_us = 0;
        }
        break;
    case S_TURN:
        if (speech) {
            self->speech_us += frame_us;
            self->last_speech_end_us = end_us;
        }
        break;
    }

    if (self->state == S_CANDIDATE && self->speech_us >= self->min_speech_us) {
        self->state = S_TURN;
        s_emit(out, TURN_SPEECH_START, end_us, self->onset_us, 0);
        s_segment(self, out, self->onset_us - self->preroll_us, end_us);
    } else if (self->state == S_TURN) {
        s_segment(self, out, frame_start_us, end_us);
    }

    if (self->state == S_CANDIDATE || self->state == S_TURN)
        s_check_interrupt(self, out, speech, end_us);
    if (self->state == S_TURN) {
        if (!speech && end_us - self->last_speech_end_us >= self->end_silence_us)
            s_end_turn(self, out, end_us);
    }
    return 0;
}

int turn_flush(turn_t *self, int64_t now_us, turn_result_t *out)
{
    if (!self || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    if (self->state == S_TURN)
        s_end_turn(self, out, now_us > self->last_end_us ? now_us : self->last_end_us);
    self->state = S_IDLE;
    self->speech_us = 0;
    return 0;
}
