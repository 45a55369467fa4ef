/* queue_test — the synthesis queue and the cut, with a fake engine that the
 * test drives by hand (and that misbehaves: it ignores cancel and delivers
 * late, as a worker thread finishing after the cut would).
 *
 * Checked: audio goes out in order with the turn id and a running stream
 * offset; one job per session; a cut publishes nothing more of the turn —
 * not the job in flight, not the queued sentences, not sentences arriving
 * later, not results delivered after the cut — and says what was heard;
 * a newer turn is a new reply; the session whose audio runs out first gets
 * the engine; failures, limits, session end. */
#include "queue.h"
#include "split.h"
#include "log.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE 1000                     /* 1 frame = 1 ms */
#define MS 1000LL

/* ---- the fake engine ----------------------------------------------------------------- */

typedef struct {
    uint64_t job;
    char label[32];
    char text[256];
    bool cancelled;
} fake_job_t;

static fake_job_t s_jobs[256];
static size_t s_njobs;
static int s_fail_next;              /* start() fails for the next job */

static int s_fake_start(void *impl, uint64_t job, const char *label, const char *text)
{
    (void)impl;
    if (s_fail_next) {
        s_fail_next = 0;
        return -EIO;
    }
    fake_job_t *j = &s_jobs[s_njobs++ % 256];
    *j = (fake_job_t){ .job = job };
    snprintf(j->label, sizeof j->label, "%s", label);
    snprintf(j->text, sizeof j->text, "%s", text);
    return 0;
}

static void s_fake_cancel(void *impl, uint64_t job)
{
    (void)impl;
    for (size_t i = 0; i < s_njobs && i < 256; i++)
        if (s_jobs[i].job == job) s_jobs[i].cancelled = true;
}

/* The latest job started for a session (label), or NULL. */
static fake_job_t *s_job_of(const char *label)
{
    for (size_t i = s_njobs; i-- > 0;)
        if (!strcmp(s_jobs[i % 256].label, label)) return &s_jobs[i % 256];
    return NULL;
}

static size_t s_jobs_of(const char *label)
{
    size_t n = 0;
    for (size_t i = 0; i < s_njobs && i < 256; i++)
        if (!strcmp(s_jobs[i].label, label)) n++;
    return n;
}

/* ---- the output recorder ---------------------------------------------------------------- */

typedef struct {
    char session[32];
    uint64_t turn;
    size_t frames;
    uint64_t offset;
    int64_t origin;
    int16_t first;
} out_audio_t;

static out_audio_t s_out[1024];
static size_t s_nout;
static struct {
    char session[32];
    uint64_t turn;
    char text[512];
} s_spoken[16];
static size_t s_nspoken;

static void s_rec_audio(void *user, const tts_audio_t *a)
{
    (void)user;
    out_audio_t *o = &s_out[s_nout++ % 1024];
    snprintf(o->session, sizeof o->session, "%s", a->session);
    o->turn = a->turn;
    o->frames = a->frames;
    o->offset = a->offset;
    o->origin = a->origin_us;
    o->first = a->samples[0];
}

static void s_rec_spoken(void *user, const char *session, uint64_t turn, int64_t origin_us, const char *text)
{
    (void)user; (void)origin_us;
    size_t i = s_nspoken++ % 16;
    snprintf(s_spoken[i].session, sizeof s_spoken[i].session, "%s", session);
    s_spoken[i].turn = turn;
    snprintf(s_spoken[i].text, sizeof s_spoken[i].text, "%s", text);
}

static size_t s_audio_of(const char *session, uint64_t turn)
{
    size_t n = 0;
    for (size_t i = 0; i < s_nout && i < 1024; i++)
        if (!strcmp(s_out[i].session, session) && s_out[i].turn == turn) n += s_out[i].frames;
    return n;
}

static void s_reset(void)
{
    s_njobs = s_nout = s_nspoken = 0;
    memset(s_jobs, 0, sizeof s_jobs);
}

static int16_t s_pcm[4000];

static tts_queue_t *s_queue(size_t capacity, size_t max_pending)
{
    tts_engine_t e = { "fake", RATE, capacity, s_fake_start, s_fake_cancel, NULL };
    tts_output_t o = { s_rec_audio, s_rec_spoken, NULL, NULL };
    tts_queue_config_t cfg;
    tts_queue_config_defaults(&cfg);
    cfg.max_pending = max_pending;
    cfg.max_piece_chars = 60;
    cfg.trim_lead_us = 0;
    return tts_queue_new(&cfg, &e, &o, NULL);
}

/* ---- the tests ------------------------------------------------------------------------- */

static void s_test_order(void)
{
    s_reset();
    tts_queue_t *q = s_queue(4, 64);
    const int64_t t0 = 5000000 * MS;
    CHECK(tts_queue_sentence(q, "A", 7, 0, "  First sentence.", t0, t0) == 1, "a sentence is queued");
    tts_queue_sentence(q, "A", 7, 1, "Second sentence.", t0, t0 + MS);
    CHECK(s_jobs_of("A") == 1 && !strcmp(s_job_of("A")->text, "First sentence."),
          "one job per session, the first sentence (trimmed)");
    uint64_t j1 = s_job_of("A")->job;
    for (int i = 0; i < 4000; i++) s_pcm[i] = (int16_t)(i + 1);
    tts_queue_audio(q, j1, s_pcm, 300, t0 + 2 * MS);
    tts_queue_audio(q, j1, s_pcm + 300, 200, t0 + 3 * MS);
    CHECK(s_nout == 2 && s_out[0].turn == 7 && s_out[0].offset == 0 && s_out[1].offset == 300 && s_out[1].first == 301,
          "audio goes out as it comes, with the turn id and the stream offset");
    CHECK(s_out[0].origin == t0, "with the sentence's origin (the end of the caller's speech)");
    tts_queue_done(q, j1, NULL, t0 + 4 * MS);
    CHECK(s_jobs_of("A") == 2 && !strcmp(s_job_of("A")->text, "Second sentence."), "then the second sentence");
    tts_queue_audio(q, s_job_of("A")->job, s_pcm, 100, t0 + 5 * MS);
    CHECK(s_out[2].offset == 500, "its audio continues the session's stream offset");
    tts_queue_done(q, s_job_of("A")->job, NULL, t0 + 5 * MS);
    CHECK(tts_queue_active(q) == 0, "nothing in flight at the end");

    /* A long sentence is said in pieces, each one job, in order. */
    tts_queue_sentence(q, "A", 7, 2, "One two three four five six seven, eight nine ten eleven twelve thirteen "
                       "fourteen fifteen sixteen seventeen eighteen nineteen twenty.", t0, t0 + 6 * MS);
    CHECK(!strcmp(s_job_of("A")->text, "One two three four five six seven,"),
          "a long sentence: the first piece ends at a clause break");
    tts_queue_done(q, s_job_of("A")->job, NULL, t0 + 7 * MS);
    CHECK(strlen(s_job_of("A")->text) <= 60 && !strncmp(s_job_of("A")->text, "eight nine", 10),
          "the next piece follows (at most 60 bytes)");
    tts_queue_destroy(&q);
    CHECK(q == NULL, "destroy clears the pointer");
}

static void s_test_cut(void)
{
    s_reset();
    tts_queue_t *q = s_queue(4, 64);
    const int64_t t0 = 7000000 * MS;
    tts_queue_sentence(q, "S", 3, 0, "Hello there.", t0 - 500 * MS, t0);
    tts_queue_sentence(q, "S", 3, 1, "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj", t0 - 500 * MS, t0);
    tts_queue_sentence(q, "S", 3, 2, "Never said.", t0 - 500 * MS, t0);
    uint64_t j1 = s_job_of("S")->job;
    tts_queue_audio(q, j1, s_pcm, 1000, t0);
    tts_queue_done(q, j1, NULL, t0);
    fake_job_t *j2 = s_job_of("S");
    tts_queue_audio(q, j2->job, s_pcm, 1000, t0 + 10 * MS);   /* half of the second sentence made */
    size_t before = s_nout;

    /* The caller barges in 1.5 s after the first audio: the first sentence
     * (1 s) has played, and 0.5 s of the second. */
    uint64_t cut = tts_queue_interrupt(q, "S", t0 + 1400 * MS, t0 + 1500 * MS);
    CHECK(cut == 3, "the interrupt cuts turn 3");
    CHECK(j2->cancelled, "the job in flight is cancelled");
    CHECK(s_nspoken == 1 && s_spoken[0].turn == 3 && !strcmp(s_spoken[0].session, "S"),
          "tts.spoken. published for turn 3");
    /* 0.5 s of the second sentence's audio, whose length (unfinished: 49
     * characters at 70 ms = 3.43 s, more than the 1 s published) puts it
     * at 14.6% of it: 7.1 characters heard, "aaaa bbbb" (middles at 2, 7). */
    CHECK(!strcmp(s_spoken[0].text, "Hello there. aaaa bbbb"), "what was heard: the first sentence, two words (\"%s\")",
          s_spoken[0].text);
    CHECK(s_jobs_of("S") == 2, "the queued third sentence is never started");

    /* The fake engine ignores cancel: its worker finishes later. */
    tts_queue_audio(q, j2->job, s_pcm, 500, t0 + 1600 * MS);
    tts_queue_done(q, j2->job, NULL, t0 + 1700 * MS);
    CHECK(s_nout == before, "audio a worker delivers after the cut is not published");
    CHECK(tts_queue_stats(q).late_results == 2, "it is counted as late (2)");

    /* Sentences of the cut turn that arrive later: dropped. */
    CHECK(tts_queue_sentence(q, "S", 3, 3, "Late sentence of the cut turn.", t0 - 500 * MS, t0 + 1800 * MS) == 0,
          "a later sentence of the cut turn is dropped");
    CHECK(tts_queue_sentence(q, "S", 2, 0, "An older turn.", t0 - 900 * MS, t0 + 1800 * MS) == 0,
          "so is one of an older turn");
    /* A newer turn id whose origin is before the cut answers speech the
     * caller talked over (the LLM had not seen the interrupt yet). */
    CHECK(tts_queue_sentence(q, "S", 4, 0, "Answer to old speech.", t0 + 1300 * MS, t0 + 1800 * MS) == 0,
          "a newer turn answering speech from before the cut is dropped too");
    CHECK(s_jobs_of("S") == 2 && s_audio_of("S", 3) == 2000, "nothing more of turn 3 was started or published");
    CHECK(tts_queue_interrupt(q, "S", t0 + 1900 * MS, t0 + 1900 * MS) == 0 && s_nspoken == 1,
          "a second interrupt cuts nothing and publishes nothing");

    /* The caller's new utterance: a new, higher turn is a new reply. */
    CHECK(tts_queue_sentence(q, "S", 5, 0, "New reply.", t0 + 2500 * MS, t0 + 2600 * MS) == 1,
          "a new turn after the cut is spoken");
    tts_queue_audio(q, s_job_of("S")->job, s_pcm, 100, t0 + 2700 * MS);
    CHECK(s_nout == before + 1 && s_out[s_nout - 1].turn == 5 && s_out[s_nout - 1].offset == 2000,
          "its audio goes out, the stream offset goes on");
    tts_queue_destroy(&q);
}

/* The engine has one slot; session A has seconds of audio buffered when B's
 * first sentence arrives: B goes first. */
static void s_test_deadline(void)
{
    s_reset();
    tts_queue_t *q = s_queue(1, 64);
    const int64_t t0 = 9000000 * MS;
    tts_queue_sentence(q, "A", 1, 0, "A one.", t0, t0);
    tts_queue_sentence(q, "A", 1, 1, "A two.", t0, t0);
    tts_queue_audio(q, s_job_of("A")->job, s_pcm, 4000, t0 + MS);      /* 4 s of audio buffered */
    tts_queue_sentence(q, "B", 9, 0, "B one.", t0, t0 + 2 * MS);
    CHECK(s_jobs_of("B") == 0, "one slot: B waits while A's job runs");
    tts_queue_done(q, s_job_of("A")->job, NULL, t0 + 3 * MS);
    CHECK(s_jobs_of("B") == 1 && s_jobs_of("A") == 1, "A has 4 s buffered: B's first sentence goes first");
    tts_queue_done(q, s_job_of("B")->job, NULL, t0 + 4 * MS);
    CHECK(s_jobs_of("A") == 2, "then A's next");
    tts_queue_destroy(&q);
}

static void s_test_turns_and_limits(void)
{
    s_reset();
    tts_queue_t *q = s_queue(2, 3);
    const int64_t t0 = 11000000 * MS;
    tts_queue_sentence(q, "T", 1, 0, "Old one.", t0, t0);
    tts_queue_sentence(q, "T", 1, 1, "Old two.", t0, t0);
    fake_job_t *old = s_job_of("T");
    CHECK(tts_queue_sentence(q, "T", 2, 0, "New one.", t0 + 10 * MS, t0 + MS) == 1, "a newer turn is queued");
    CHECK(old->cancelled && !strcmp(s_job_of("T")->text, "New one."),
          "and replaces the older reply: its job cancelled, the new one started");
    tts_queue_audio(q, old->job, s_pcm, 100, t0 + 2 * MS);
    CHECK(s_audio_of("T", 1) == 0, "nothing of the replaced turn is published");
    CHECK(tts_queue_sentence(q, "T", 1, 2, "Old three.", t0, t0 + 3 * MS) == 0, "a sentence of the older turn is stale");

    /* Limits: 3 pieces waiting at most. */
    int queued = 0;
    for (int i = 0; i < 6; i++) queued += tts_queue_sentence(q, "T", 2, (uint32_t)(i + 1), "More.", t0, t0 + 4 * MS);
    CHECK(queued == 3 && tts_queue_stats(q).dropped_limit == 3, "at most 3 waiting, the rest dropped and counted");
    CHECK(tts_queue_sentence(q, "T", 2, 9, "   ", t0, t0) == 0 && tts_queue_sentence(q, "T", 0, 9, "x", t0, t0) == 0,
          "empty text and turn 0 are dropped");

    /* An engine failure is counted and the reply goes on. */
    tts_queue_sentence(q, "U", 1, 0, "First.", t0, t0);
    s_fail_next = 1;
    tts_queue_done(q, s_job_of("U")->job, "boom", t0 + MS);
    tts_queue_sentence(q, "U", 1, 1, "Fails to start.", t0, t0);
    tts_queue_sentence(q, "U", 1, 2, "Third.", t0, t0);
    CHECK(tts_queue_stats(q).errors == 2 && !strcmp(s_job_of("U")->text, "Third."),
          "a failed job and a failed start are errors (2); the next sentence is spoken");

    /* Session end: everything cancelled, late results dropped. */
    fake_job_t *u = s_job_of("U");
    size_t n = s_nout;
    tts_queue_end(q, "U");
    CHECK(u->cancelled && tts_queue_sessions(q) == 1, "session end cancels its job and frees it");
    tts_queue_audio(q, u->job, s_pcm, 10, t0 + 5 * MS);
    CHECK(s_nout == n, "results after the end are dropped");
    CHECK(tts_queue_interrupt(q, "nobody", t0, t0) == 0, "an interrupt for an unknown session is harmless");
    tts_queue_destroy(&q);
}

/* Leading silence of a reply is dropped, but for a 30 ms lead-in, and at
 * most the budget; later sentences keep theirs. */
static void s_test_trim(void)
{
    s_reset();
    tts_engine_t e = { "fake", RATE, 4, s_fake_start, s_fake_cancel, NULL };
    tts_output_t o = { s_rec_audio, s_rec_spoken, NULL, NULL };
    tts_queue_config_t cfg;
    tts_queue_config_defaults(&cfg);
    cfg.trim_lead_us = 400 * MS;                 /* 400 frames */
    tts_queue_t *q = tts_queue_new(&cfg, &e, &o, NULL);
    const int64_t t0 = 13000000 * MS;
    int16_t quiet[600], loud[100];
    for (int i = 0; i < 600; i++) quiet[i] = (int16_t)(i % 90);    /* RMS < 100, its value tells where it was */
    for (int i = 0; i < 100; i++) loud[i] = (int16_t)(i % 2 ? 5000 : -5000);
    int16_t mixed[100];
    memcpy(mixed, quiet, 50 * sizeof *mixed);
    memcpy(mixed + 50, loud, 50 * sizeof *mixed);

    /* 100 quiet frames, then 50 quiet + 50 loud: the onset is at 150. */
    tts_queue_sentence(q, "A", 1, 0, "One.", t0, t0);
    uint64_t j = s_job_of("A")->job;
    tts_queue_audio(q, j, quiet, 100, t0);
    CHECK(s_nout == 0, "a reply's first 100 ms of silence are held back");
    tts_queue_audio(q, j, mixed, 100, t0);
    CHECK(s_nout == 1 && s_out[0].frames == 80 && s_out[0].first == 20 && s_out[0].offset == 0,
          "from the onset: 30 ms of lead-in, then the sound (%zu frames from value %d)", s_nout ? s_out[0].frames : 0,
          s_nout ? s_out[0].first : -1);
    tts_queue_audio(q, j, quiet, 100, t0);
    CHECK(s_nout == 2 && s_out[1].frames == 100, "silence after the onset is kept");
    tts_queue_done(q, j, NULL, t0);
    tts_queue_sentence(q, "A", 1, 1, "Two.", t0, t0);
    tts_queue_audio(q, s_job_of("A")->job, quiet, 100, t0);
    CHECK(s_nout == 3 && s_out[2].frames == 100, "the next sentence keeps its leading pause");

    /* The lead-in can come from the silence before: quiet 100, then loud. */
    tts_queue_sentence(q, "B", 1, 0, "One.", t0, t0);
    tts_queue_audio(q, s_job_of("B")->job, quiet, 100, t0);
    tts_queue_audio(q, s_job_of("B")->job, loud, 100, t0);
    CHECK(s_nout == 5 && s_out[3].frames == 30 && s_out[3].first == 70 && s_out[4].frames == 100,
          "an onset at a chunk's start: the lead-in is the end of the silence dropped");

    /* No onset within the budget: at most 400 frames go. */
    tts_queue_sentence(q, "C", 1, 0, "Hmm.", t0, t0);
    tts_queue_audio(q, s_job_of("C")->job, quiet, 300, t0);
    tts_queue_audio(q, s_job_of("C")->job, quiet + 300, 300, t0);
    CHECK(s_nout == 6 && s_out[5].frames == 200 && s_audio_of("C", 1) == 200,
          "silence longer than the budget: 400 frames dropped, the rest published");
    tts_queue_destroy(&q);
}

static int s_collect(const char *piece, size_t len, void *arg)
{
    char *out = arg;
    if (*out) strcat(out, "|");
    strncat(out, piece, len);
    return 0;
}

static void s_test_split(void)
{
    char out[1024] = "";
    tts_split("Short.", 6, 40, s_collect, out);
    CHECK(!strcmp(out, "Short."), "a short sentence is one piece");
    out[0] = '\0';
    const char *t = "Well, this sentence is long; it has clauses: several of them, and words without end in between";
    tts_split(t, strlen(t), 40, s_collect, out);
    CHECK(!strcmp(out, "Well, this sentence is long;|it has clauses: several of them,|and words without end in "
                       "between"), "split at clause breaks (%s)", out);
    out[0] = '\0';
    t = "nopunctuationhere but spaces between some words of the sentence";
    tts_split(t, strlen(t), 20, s_collect, out);
    bool ok = true;
    for (char *p = strtok(out, "|"); p; p = strtok(NULL, "|")) ok = ok && strlen(p) <= 20;
    CHECK(ok, "without clauses: at spaces, every piece at most 20 bytes");
    out[0] = '\0';
    t = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";   /* 8 x é, no spaces */
    tts_split(t, strlen(t), 9, s_collect, out);
    CHECK(!strcmp(out, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9|\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
          "a word longer than the limit is cut between characters, never inside one");
}

int main(void)
{
    log_init("queue_test", LOG_LEVEL_ERROR, false);
    s_test_order();
    s_test_cut();
    s_test_deadline();
    s_test_turns_and_limits();
    s_test_trim();
    s_test_split();
    return TEST_DONE();
}
