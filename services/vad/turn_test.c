/* turn_test — the turn-taking state machine on synthetic timelines.
 *
 * Timelines are lists of (duration, speech?) runs cut into frames; every
 * expected time is exact, because turn works on stream time only. */
#include "turn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_failures;

#define CHECK(cond, ...) do {                                               \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
            s_failures++;                                                   \
        }                                                                   \
    } while (0)

#define MS ((int64_t) 1000)

typedef struct {
    int ms;
    int speech;
} run_t;

#define MAX_EV 64
#define MAX_SEG 4096

typedef struct {
    turn_event_t ev[MAX_EV];
    size_t n_ev;
    int64_t seg_from[MAX_SEG], seg_to[MAX_SEG];
    size_t n_seg;
    int64_t t_us;           /* stream time after the last frame */
} trace_t;

/* Feeds runs as frames of frame_ms starting at trace->t_us; collects events
 * and segments. */
static void s_feed(turn_t *t, trace_t *tr, const run_t *runs, size_t n_runs, int frame_ms)
{
    for (size_t r = 0; r < n_runs; r++) {
        for (int ms = 0; ms < runs[r].ms; ms += frame_ms) {
            turn_result_t res;
            int rc = turn_process(t, tr->t_us, frame_ms * MS, runs[r].speech != 0, &res);
            CHECK(rc == 0, "turn_process at %" PRId64 ": %d", tr->t_us, rc);
            for (size_t e = 0; e < res.n_events && tr->n_ev < MAX_EV; e++)
                tr->ev[tr->n_ev++] = res.events[e];
            if (res.seg_to_us > res.seg_from_us && tr->n_seg < MAX_SEG) {
                tr->seg_from[tr->n_seg] = res.seg_from_us;
                tr->seg_to[tr->n_seg] = res.seg_to_us;
                tr->n_seg++;
            }
            tr->t_us += frame_ms * MS;
        }
    }
}

static size_t s_count(const trace_t *tr, turn_event_type_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < tr->n_ev; i++)
        n += tr->ev[i].type == type;
    return n;
}

static const turn_event_t *s_find(const trace_t *tr, turn_event_type_t type, size_t nth)
{
    for (size_t i = 0; i < tr->n_ev; i++)
        if (tr->ev[i].type == type && nth-- == 0)
            return &tr->ev[i];
    return NULL;
}

static turn_t *s_new_default(void)
{
    turn_t *t = turn_new(NULL);
    CHECK(t != NULL, "turn_new(NULL)");
    return t;
}

/* A 100 ms click (and a cough-like 150 ms burst) never starts a turn; real
 * speech after a click reports its own onset, not the click's. */
static void test_click(void)
{
    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    const run_t runs[] = { { 500, 0 }, { 100, 1 }, { 800, 0 }, { 150, 1 }, { 1000, 0 } };
    s_feed(t, &tr, runs, 5, 10);
    CHECK(tr.n_ev == 0, "%zu events for a click and a cough", tr.n_ev);
    CHECK(tr.n_seg == 0, "%zu segments streamed for non-speech", tr.n_seg);

    /* click at 3550..3650, 200 ms pause, speech from 3850 */
    const run_t runs2[] = { { 100, 1 }, { 200, 0 }, { 800, 1 }, { 700, 0 } };
    int64_t click_at = tr.t_us;
    s_feed(t, &tr, runs2, 4, 10);
    const turn_event_t *st = s_find(&tr, TURN_SPEECH_START, 0);
    CHECK(st && st->start_us == click_at + 300 * MS, "onset %" PRId64 ", want %" PRId64,
          st ? st->start_us : -1, click_at + 300 * MS);
    turn_destroy(&t);
    CHECK(t == NULL, "destroy did not clear the pointer");
    turn_destroy(&t);
}

/* 1 s of speech from 500 ms, then 600 ms of silence: START decided after
 * min_speech (at 700 ms) dated at the onset (500 ms); END decided after
 * 500 ms of silence (at 2000 ms) dated at the last speech frame (1500 ms). */
static void test_start_end_times(void)
{
    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    const run_t runs[] = { { 500, 0 }, { 1000, 1 }, { 600, 0 } };
    s_feed(t, &tr, runs, 3, 10);
    CHECK(tr.n_ev == 2, "%zu events", tr.n_ev);
    const turn_event_t *st = s_find(&tr, TURN_SPEECH_START, 0);
    const turn_event_t *en = s_find(&tr, TURN_SPEECH_END, 0);
    CHECK(st && st->start_us == 500 * MS && st->at_us == 700 * MS,
          "START onset %" PRId64 " at %" PRId64, st ? st->start_us : -1, st ? st->at_us : -1);
    CHECK(en && en->start_us == 500 * MS && en->end_us == 1500 * MS && en->at_us == 2000 * MS,
          "END %" PRId64 "..%" PRId64 " at %" PRId64, en ? en->start_us : -1,
          en ? en->end_us : -1, en ? en->at_us : -1);
    CHECK(!turn_in_turn(t), "still in a turn after END");
    CHECK(s_count(&tr, TURN_INTERRUPT) == 0, "INTERRUPT without agent audio");
    turn_destroy(&t);

    /* Same timeline with 20 ms frames and a huge origin: nothing counts
     * frames, only time. */
    t = s_new_default();
    trace_t tr2 = { 0 };
    int64_t origin = 1700000000LL * 1000000LL;
    tr2.t_us = origin;
    s_feed(t, &tr2, runs, 3, 20);
    st = s_find(&tr2, TURN_SPEECH_START, 0);
    en = s_find(&tr2, TURN_SPEECH_END, 0);
    CHECK(st && st->start_us == origin + 500 * MS && st->at_us == origin + 700 * MS,
          "20 ms frames: START wrong");
    CHECK(en && en->end_us == origin + 1500 * MS && en->at_us == origin + 2000 * MS,
          "20 ms frames: END wrong");
    turn_destroy(&t);
}

/* A 300 ms pause inside speech stays inside the turn with a 500 ms
 * end-silence; a 500 ms one ends it; a custom 800 ms end-silence survives
 * a 600 ms pause. */
static void test_pause(void)
{
    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    const run_t runs[] = { { 200, 0 }, { 600, 1 }, { 300, 0 }, { 600, 1 }, { 700, 0 } };
    s_feed(t, &tr, runs, 5, 10);
    CHECK(s_count(&tr, TURN_SPEECH_START) == 1 && s_count(&tr, TURN_SPEECH_END) == 1,
          "%zu starts, %zu ends", s_count(&tr, TURN_SPEECH_START), s_count(&tr, TURN_SPEECH_END));
    const turn_event_t *en = s_find(&tr, TURN_SPEECH_END, 0);
    CHECK(en && en->start_us == 200 * MS && en->end_us == 1700 * MS && en->at_us == 2200 * MS,
          "END %" PRId64 "..%" PRId64 " at %" PRId64, en ? en->start_us : -1,
          en ? en->end_us : -1, en ? en->at_us : -1);
    turn_destroy(&t);

    t = s_new_default();
    trace_t tr2 = { 0 };
    const run_t runs2[] = { { 600, 1 }, { 500, 0 }, { 600, 1 }, { 700, 0 } };
    s_feed(t, &tr2, runs2, 4, 10);
    CHECK(s_count(&tr2, TURN_SPEECH_START) == 2 && s_count(&tr2, TURN_SPEECH_END) == 2,
          "500 ms pause: %zu starts, %zu ends", s_count(&tr2, TURN_SPEECH_START),
          s_count(&tr2, TURN_SPEECH_END));
    turn_destroy(&t);

    turn_config_t cfg;
    turn_config_default(&cfg);
    cfg.end_silence_ms = 800;
    t = turn_new(&cfg);
    trace_t tr3 = { 0 };
    const run_t runs3[] = { { 600, 1 }, { 600, 0 }, { 600, 1 }, { 900, 0 } };
    s_feed(t, &tr3, runs3, 4, 10);
    en = s_find(&tr3, TURN_SPEECH_END, 0);
    CHECK(s_count(&tr3, TURN_SPEECH_END) == 1 && en && en->end_us == 1800 * MS
          && en->at_us == 2600 * MS, "800 ms end-silence: wrong END");
    turn_destroy(&t);
}

/* Short gaps before confirmation are tolerated (a plosive's closure), longer
 * ones restart the onset; sparse blips never add up to a turn. */
static void test_onset_gaps(void)
{
    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    const run_t runs[] = { { 300, 0 }, { 100, 1 }, { 80, 0 }, { 400, 1 }, { 600, 0 } };
    s_feed(t, &tr, runs, 5, 10);
    const turn_event_t *st = s_find(&tr, TURN_SPEECH_START, 0);
    /* 100 ms + 100 ms of the second burst = 200 ms at 580 ms */
    CHECK(st && st->start_us == 300 * MS && st->at_us == 580 * MS,
          "80 ms gap: START onset %" PRId64 " at %" PRId64, st ? st->start_us : -1,
          st ? st->at_us : -1);
    turn_destroy(&t);

    t = s_new_default();
    trace_t tr2 = { 0 };
    const run_t runs2[] = { { 300, 0 }, { 100, 1 }, { 150, 0 }, { 400, 1 }, { 600, 0 } };
    s_feed(t, &tr2, runs2, 5, 10);
    st = s_find(&tr2, TURN_SPEECH_START, 0);
    CHECK(st && st->start_us == 550 * MS && st->at_us == 750 * MS,
          "150 ms gap: START onset %" PRId64 " at %" PRId64, st ? st->start_us : -1,
          st ? st->at_us : -1);
    turn_destroy(&t);

    /* 10 ms blips every 90 ms: each gap is under onset_gap, but in the
     * bounded candidate window they never reach 200 ms. */
    t = s_new_default();
    trace_t tr3 = { 0 };
    for (int i = 0; i < 60; i++) {
        const run_t blip[] = { { 10, 1 }, { 80, 0 } };
        s_feed(t, &tr3, blip, 2, 10);
    }
    CHECK(tr3.n_ev == 0, "sparse blips made %zu events", tr3.n_ev);
    turn_destroy(&t);
}

/* INTERRUPT: emitted with the START of a turn confirmed while the agent
 * plays; not without agent audio, not after it stopped, not for a click;
 * once per turn; later when interrupt_min_ms asks for more speech; and when
 * the agent starts talking over a caller who keeps talking. */
static void test_barge_in(void)
{
    const run_t runs[] = { { 500, 0 }, { 800, 1 }, { 700, 0 } };

    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    CHECK(turn_agent_playing(t, true, 100 * MS) == 0, "agent_playing");
    s_feed(t, &tr, runs, 3, 10);
    const turn_event_t *st = s_find(&tr, TURN_SPEECH_START, 0);
    const turn_event_t *in = s_find(&tr, TURN_INTERRUPT, 0);
    CHECK(s_count(&tr, TURN_INTERRUPT) == 1, "%zu INTERRUPTs", s_count(&tr, TURN_INTERRUPT));
    CHECK(in && st && in->at_us == st->at_us && in->at_us == 700 * MS
          && in->start_us == 500 * MS, "INTERRUPT at %" PRId64, in ? in->at_us : -1);
    CHECK(tr.n_ev == 3 && tr.ev[0].type == TURN_SPEECH_START && tr.ev[1].type == TURN_INTERRUPT,
          "START must precede INTERRUPT");
    turn_destroy(&t);

    /* Agent silent: no INTERRUPT. */
    t = s_new_default();
    trace_t tr2 = { 0 };
    s_feed(t, &tr2, runs, 3, 10);
    CHECK(s_count(&tr2, TURN_SPEECH_START) == 1 && s_count(&tr2, TURN_INTERRUPT) == 0,
          "INTERRUPT while the agent was silent");
    turn_destroy(&t);

    /* Agent stopped at 400 ms, before the caller spoke: no INTERRUPT. */
    t = s_new_default();
    trace_t tr3 = { 0 };
    turn_agent_playing(t, true, 0);
    turn_agent_playing(t, false, 400 * MS);
    s_feed(t, &tr3, runs, 3, 10);
    CHECK(s_count(&tr3, TURN_INTERRUPT) == 0, "INTERRUPT after the agent stopped");
    turn_destroy(&t);

    /* Agent playing, caller coughs: no INTERRUPT. */
    t = s_new_default();
    trace_t tr4 = { 0 };
    turn_agent_playing(t, true, 0);
    const run_t cough[] = { { 300, 0 }, { 120, 1 }, { 1000, 0 } };
    s_feed(t, &tr4, cough, 3, 10);
    CHECK(tr4.n_ev == 0, "a cough during agent audio made %zu events", tr4.n_ev);
    turn_destroy(&t);

    /* Stricter barge-in: 500 ms of speech before INTERRUPT. */
    turn_config_t cfg;
    turn_config_default(&cfg);
    cfg.interrupt_min_ms = 500;
    t = turn_new(&cfg);
    trace_t tr5 = { 0 };
    turn_agent_playing(t, true, 0);
    s_feed(t, &tr5, runs, 3, 10);
    st = s_find(&tr5, TURN_SPEECH_START, 0);
    in = s_find(&tr5, TURN_INTERRUPT, 0);
    CHECK(st && st->at_us == 700 * MS, "START still after min_speech");
    CHECK(in && in->at_us == 1000 * MS && s_count(&tr5, TURN_INTERRUPT) == 1,
          "INTERRUPT at %" PRId64 ", want 1000000", in ? in->at_us : -1);
    turn_destroy(&t);

    /* Fast barge-in: 100 ms of speech cuts the agent, the turn still needs
     * 200 ms; a 120 ms cough cuts the agent but starts no turn. */
    turn_config_default(&cfg);
    cfg.interrupt_min_ms = 100;
    t = turn_new(&cfg);
    trace_t tf = { 0 };
    turn_agent_playing(t, true, 0);
    s_feed(t, &tf, runs, 3, 10);
    st = s_find(&tf, TURN_SPEECH_START, 0);
    in = s_find(&tf, TURN_INTERRUPT, 0);
    CHECK(in && in->at_us == 600 * MS && in->start_us == 500 * MS && s_count(&tf, TURN_INTERRUPT) == 1,
          "fast INTERRUPT at %" PRId64 ", want 600000, once", in ? in->at_us : -1);
    CHECK(st && st->at_us == 700 * MS, "START still after min_speech (%" PRId64 ")", st ? st->at_us : -1);
    turn_destroy(&t);
    t = turn_new(&cfg);
    trace_t tc = { 0 };
    turn_agent_playing(t, true, 0);
    s_feed(t, &tc, cough, 3, 10);
    CHECK(s_count(&tc, TURN_INTERRUPT) == 1 && s_count(&tc, TURN_SPEECH_START) == 0,
          "a 120 ms cough cuts the agent (fast barge-in) but starts no turn");
    turn_destroy(&t);

    /* Agent starts at 1000 ms, scheduled in advance, while the caller talks
     * (500..1300): INTERRUPT at the first frame after it starts. */
    t = s_new_default();
    trace_t tr6 = { 0 };
    turn_agent_playing(t, true, 1000 * MS);
    s_feed(t, &tr6, runs, 3, 10);
    in = s_find(&tr6, TURN_INTERRUPT, 0);
    CHECK(in && in->at_us == 1010 * MS, "mid-turn INTERRUPT at %" PRId64, in ? in->at_us : -1);
    turn_destroy(&t);

    /* Agent starts during the caller's closing silence: not an interruption. */
    t = s_new_default();
    trace_t tr7 = { 0 };
    turn_agent_playing(t, true, 1400 * MS);
    s_feed(t, &tr7, runs, 3, 10);
    CHECK(s_count(&tr7, TURN_INTERRUPT) == 0 && s_count(&tr7, TURN_SPEECH_END) == 1,
          "agent answering in the end-silence counted as INTERRUPT");
    turn_destroy(&t);

    /* Two turns while playing: one INTERRUPT each. */
    t = s_new_default();
    trace_t tr8 = { 0 };
    turn_agent_playing(t, true, 0);
    s_feed(t, &tr8, runs, 3, 10);
    s_feed(t, &tr8, runs, 3, 10);
    CHECK(s_count(&tr8, TURN_INTERRUPT) == 2, "%zu INTERRUPTs for two turns",
          s_count(&tr8, TURN_INTERRUPT));
    turn_destroy(&t);
}

/* Segments: the first names onset - pre-roll .. confirmation, then every
 * frame follows without hole or overlap until the END frame; nothing is
 * named outside turns. */
static void test_segments(void)
{
    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    const run_t runs[] = { { 1000, 0 }, { 800, 1 }, { 300, 0 }, { 400, 1 }, { 700, 0 } };
    s_feed(t, &tr, runs, 5, 10);
    CHECK(tr.n_seg > 0, "no segments");
    if (tr.n_seg > 0) {
        CHECK(tr.seg_from[0] == 800 * MS && tr.seg_to[0] == 1200 * MS,
              "first segment %" PRId64 "..%" PRId64 ", want 800000..1200000", tr.seg_from[0],
              tr.seg_to[0]);
        bool contiguous = true;
        for (size_t i = 1; i < tr.n_seg; i++)
            contiguous &= tr.seg_from[i] == tr.seg_to[i - 1];
        CHECK(contiguous, "segments have holes or overlaps");
        const turn_event_t *en = s_find(&tr, TURN_SPEECH_END, 0);
        CHECK(en && tr.seg_to[tr.n_seg - 1] == en->at_us,
              "last segment ends at %" PRId64 ", END at %" PRId64, tr.seg_to[tr.n_seg - 1],
              en ? en->at_us : -1);
        CHECK(en && en->end_us == 2500 * MS, "END end_us %" PRId64, en ? en->end_us : -1);
    }
    int64_t hist = turn_history_us(t);
    CHECK(hist == 700 * MS, "history %" PRId64 ", want 700 ms (200 pre-roll + 500 candidate)",
          hist);
    turn_destroy(&t);

    /* Speech right at stream start: pre-roll clipped at the origin. */
    t = s_new_default();
    trace_t tr2 = { 0 };
    tr2.t_us = 5000 * MS;
    const run_t runs2[] = { { 50, 0 }, { 500, 1 }, { 600, 0 } };
    s_feed(t, &tr2, runs2, 3, 10);
    CHECK(tr2.n_seg > 0 && tr2.seg_from[0] == 5000 * MS, "pre-roll before the stream start");
    turn_destroy(&t);

    /* Custom pre-roll, and a second turn's pre-roll never re-names audio of
     * the first turn's segments. */
    turn_config_t cfg;
    turn_config_default(&cfg);
    cfg.preroll_ms = 350;
    t = turn_new(&cfg);
    trace_t tr3 = { 0 };
    const run_t runs3[] = { { 1000, 0 }, { 400, 1 }, { 500, 0 }, { 100, 0 }, { 400, 1 }, { 600, 0 } };
    s_feed(t, &tr3, runs3, 6, 10);
    CHECK(tr3.n_seg > 0 && tr3.seg_from[0] == 650 * MS, "350 ms pre-roll: first segment from %"
          PRId64, tr3.n_seg ? tr3.seg_from[0] : -1);
    bool ordered = true;
    for (size_t i = 1; i < tr3.n_seg; i++)
        ordered &= tr3.seg_from[i] >= tr3.seg_to[i - 1];
    CHECK(ordered, "second turn re-named audio");
    const turn_event_t *st2 = s_find(&tr3, TURN_SPEECH_START, 1);
    CHECK(st2 && st2->start_us == 2000 * MS, "second onset");
    /* second turn: onset 2000, pre-roll would reach 1650 but the first turn
     * named audio up to its END at 1900 */
    size_t k = 0;
    while (k < tr3.n_seg && tr3.seg_to[k] <= 1900 * MS)
        k++;
    CHECK(k < tr3.n_seg && tr3.seg_from[k] == 1900 * MS, "second pre-roll from %" PRId64,
          k < tr3.n_seg ? tr3.seg_from[k] : -1);
    turn_destroy(&t);
}

static void test_flush_holes_errors(void)
{
    /* Flush ends an open turn at its last speech frame. */
    turn_t *t = s_new_default();
    trace_t tr = { 0 };
    const run_t runs[] = { { 100, 0 }, { 600, 1 }, { 100, 0 } };
    s_feed(t, &tr, runs, 3, 10);
    CHECK(turn_in_turn(t), "not in a turn");
    turn_result_t res;
    CHECK(turn_flush(t, tr.t_us, &res) == 0, "flush");
    CHECK(res.n_events == 1 && res.events[0].type == TURN_SPEECH_END
          && res.events[0].end_us == 700 * MS && res.events[0].at_us == 800 * MS,
          "flush did not end the turn properly");
    CHECK(!turn_in_turn(t), "in a turn after flush");
    turn_destroy(&t);

    /* A hole in the timeline counts as silence. */
    t = s_new_default();
    trace_t tr2 = { 0 };
    const run_t sp[] = { { 600, 1 } };
    s_feed(t, &tr2, sp, 1, 10);
    tr2.t_us += 2000 * MS;
    s_feed(t, &tr2, sp, 1, 10);
    const turn_event_t *en = s_find(&tr2, TURN_SPEECH_END, 0);
    CHECK(en && en->end_us == 600 * MS && en->at_us == 1100 * MS, "hole did not end the turn");
    const turn_event_t *st = s_find(&tr2, TURN_SPEECH_START, 1);
    CHECK(st && st->start_us == 2600 * MS, "no new turn after the hole");
    turn_destroy(&t);

    /* Errors leave the state alone. */
    t = s_new_default();
    CHECK(turn_process(t, 0, 10 * MS, true, &res) == 0, "first frame");
    CHECK(turn_process(t, 5 * MS, 10 * MS, true, &res) == -EINVAL, "overlapping frame accepted");
    CHECK(turn_process(t, 10 * MS, 0, true, &res) == -EINVAL, "empty frame accepted");
    CHECK(turn_process(t, 10 * MS, 10 * MS, true, NULL) == -EINVAL, "NULL result accepted");
    CHECK(turn_process(t, 10 * MS, 10 * MS, true, &res) == 0, "frame after errors");
    turn_config_t bad;
    turn_config_default(&bad);
    bad.end_silence_ms = -1;
    CHECK(turn_new(&bad) == NULL, "negative end silence accepted");
    turn_config_default(&bad);
    bad.preroll_ms = 100000;
    CHECK(turn_new(&bad) == NULL, "100 s pre-roll accepted");

    /* Reset forgets the agent and the turn. */
    turn_agent_playing(t, true, 0);
    turn_reset(t);
    trace_t tr3 = { 0 };
    const run_t r3[] = { { 500, 1 }, { 600, 0 } };
    s_feed(t, &tr3, r3, 2, 10);
    CHECK(s_count(&tr3, TURN_SPEECH_START) == 1 && s_count(&tr3, TURN_INTERRUPT) == 0,
          "reset kept state");
    CHECK(!strcmp(turn_event_name(TURN_INTERRUPT), "INTERRUPT"), "event name");
    turn_destroy(&t);

    /* min_speech 0: the first speech frame starts the turn. */
    turn_config_t cfg;
    turn_config_default(&cfg);
    cfg.min_speech_ms = 0;
    t = turn_new(&cfg);
    trace_t tr4 = { 0 };
    const run_t r4[] = { { 100, 0 }, { 10, 1 }, { 600, 0 } };
    s_feed(t, &tr4, r4, 3, 10);
    st = s_find(&tr4, TURN_SPEECH_START, 0);
    CHECK(st && st->at_us == 110 * MS && st->start_us == 100 * MS, "min_speech 0");
    turn_destroy(&t);
}

int main(void)
{
    test_click();
    test_start_end_times();
    test_pause();
    test_onset_gaps();
    test_barge_in();
    test_segments();
    test_flush_holes_errors();
    printf("turn_test: %s\n", s_failures ? "FAILED" : "passed");
    return s_failures ? 1 : 0;
}
