/* daemon_test — the real voxmesh-tts binary (flite) on a bus of its own.
 *
 * 1. A reply of three sentences: audio.out.pcm. with the turn id, 16 kHz
 *    mono S16, a contiguous stream offset, speech of plausible length for
 *    its characters and with energy; no tts.spoken. without a cut.
 * 2. A barge-in mid-reply, while a long sentence is being synthesised:
 *    every audio event of the turn was published before the cut (the bus's
 *    sent stamps against the tts.spoken. event's), none after, sentences of
 *    the turn sent after the cut are dropped; tts.spoken. is a prefix of the
 *    reply; another session speaking at the same time goes on.
 * 3. The next turn of the cut session is spoken; metrics count it all; a
 *    clean exit on SIGTERM.
 * Prints the time to first audio (per sentence and from the end of speech). */
#include "daemon_testlib.h"
#include "test.h"

#define MAX_EV 20000

static dt_event_t s_ev[MAX_EV];

static const char *const s_reply[] = {
    "Sure, I can help you with that.",
    "Your order left our warehouse this morning and should arrive on Thursday.",
    "Is there anything else you would like to know?",
};

/* The long sentence the cut lands in (three pieces of up to 200 bytes). */
#define LONG_SENTENCE                                                                                          \
    "Well, let me tell you the whole story from the very beginning, because it is a long one, with many turns " \
    "and twists, and several people who all had something to say about it, and who all wanted to be heard, " \
    "one after the other, for a very long time, until the evening came and everybody finally went home to " \
    "sleep, tired but happy, and ready to tell it again tomorrow to anybody who would listen to them."

/* The first 100 ms of the "calm" session's audio. */
static int16_t s_head[1600];
static size_t s_nhead;

static void s_on_pcm(const char *session, uint64_t turn, const int16_t *x, size_t n, void *arg)
{
    (void)turn; (void)arg;
    for (size_t i = 0; !strcmp(session, "calm") && i < n && s_nhead < 1600; i++) s_head[s_nhead++] = x[i];
}

/* Where the first 5 ms window louder than RMS 100 starts, in ms. */
static double s_onset_ms(const int16_t *x, size_t n, uint32_t rate)
{
    size_t win = rate / 200;
    for (size_t at = 0; at + win <= n; at += win) {
        double e = 0;
        for (size_t i = at; i < at + win; i++) e += (double)x[i] * x[i];
        if (e > 100.0 * 100.0 * win) return 1000.0 * at / rate;
    }
    return 1000.0 * n / rate;
}

static bool s_prefix_words(const char *prefix, const char *full)
{
    size_t n = strlen(prefix);
    return !strncmp(prefix, full, n) && (full[n] == ' ' || full[n] == '\0');
}

int main(void)
{
    log_init("daemon_test", LOG_LEVEL_ERROR, false);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dt_stack_t st = { 0 };
    dt_bus(&st, "flite");
    static const char *const args[] = { "--workers=1", "--log-level=info", NULL };
    bool up = dt_start(&st, "flite", NULL, args);
    CHECK(up, "voxmesh-tts started and subscribed");
    if (!up) {
        dt_log_tail(&st);
        dt_destroy(&st);
        return TEST_DONE();
    }

    /* ---- 1. a reply ---------------------------------------------------------------------- */
    int64_t speech_end = time_now_us() - 400000;     /* as if the caller stopped 400 ms ago */
    size_t chars = 0;
    for (uint32_t i = 0; i < 3; i++) {
        dt_sentence(&st, "calm", 11, i, s_reply[i], speech_end);
        chars += strlen(s_reply[i]);
    }
    int64_t sent_at = time_now_us();
    size_t n = dt_collect_pcm(&st, s_ev, MAX_EV, 0, 3000, NULL, s_on_pcm, NULL);
    int64_t first_at = 0;
    for (size_t i = 0; i < n && !first_at; i++)
        if (!s_ev[i].spoken && !strcmp(s_ev[i].session, "calm")) first_at = s_ev[i].recv_us;
    size_t frames = 0, bad_turn = 0, gaps = 0, loud = 0, f20 = 0, spoken = 0;
    double sumsq = 0;
    uint32_t rate = 0;
    for (size_t i = 0; i < n; i++) {
        if (s_ev[i].spoken) {
            spoken++;
            continue;
        }
        if (strcmp(s_ev[i].session, "calm")) continue;
        if (s_ev[i].turn != 11) bad_turn++;
        if (s_ev[i].offset != frames) gaps++;
        rate = s_ev[i].rate;
        frames += s_ev[i].frames;
        sumsq += s_ev[i].sumsq;
        loud += s_ev[i].loud_frames;
        f20 += s_ev[i].frames20;
    }
    double secs = rate ? (double)frames / rate : 0, rms = f20 ? sqrt(sumsq / (f20 * (rate / 50.0))) : 0;
    CHECK(frames > 0 && rate == 16000, "audio.out.pcm. for the reply: %.2f s at %u Hz in %zu events", secs, rate, n);
    CHECK(bad_turn == 0, "every chunk carries turn id 11");
    CHECK(gaps == 0, "stream offsets are contiguous");
    CHECK(secs / chars > 0.03 && secs / chars < 0.15, "plausible length: %.0f ms per character (%zu characters)",
          1000 * secs / chars, chars);
    CHECK(rms > 500 && f20 && (double)loud / f20 > 0.5, "it has the energy of speech (RMS %.0f, %.0f%% of 20 ms frames "
          "loud)", rms, f20 ? 100.0 * loud / f20 : 0);
    CHECK(spoken == 0, "no tts.spoken. without a cut");
    double onset = s_onset_ms(s_head, s_nhead, 16000);
    CHECK(onset >= 25 && onset <= 40, "flite's leading silence is trimmed: the speech starts %.0f ms into the reply "
          "(a 30 ms lead-in; untrimmed it is about 170 ms)", onset);
    printf("     first audio on the bus %.1f ms after the first sentence was published\n", (first_at - sent_at) / 1e3);

    /* ---- 1b. a long reply does not starve another session --------------------------------- */
    /* One worker; a long reply (nine pieces, about 90 s of audio, 2 s of
     * synthesis) for "long", then a short sentence for "short": it is
     * synthesised after the piece in hand, not after the whole reply. */
    for (uint32_t i = 0; i < 3; i++) dt_sentence(&st, "long", 31, i, LONG_SENTENCE, time_now_us());
    n = dt_collect(&st, s_ev, MAX_EV, 0, 30, NULL);
    dt_sentence(&st, "short", 41, 0, "Meanwhile, a short answer.", time_now_us());
    n = dt_collect(&st, s_ev, MAX_EV, n, 4000, NULL);
    size_t long_before = 0, long_total = 0;
    bool short_seen = false;
    for (size_t i = 0; i < n; i++) {
        if (s_ev[i].spoken) continue;
        if (!strcmp(s_ev[i].session, "short")) short_seen = true;
        if (!strcmp(s_ev[i].session, "long")) {
            long_total += s_ev[i].frames;
            if (!short_seen) long_before += s_ev[i].frames;
        }
    }
    CHECK(short_seen && long_before < long_total / 3,
          "a short reply is not held up by another session's long one (%.1f of %.1f s of it came first)",
          long_before / 16000.0, long_total / 16000.0);
    dt_session_end(&st, "long");
    dt_session_end(&st, "short");

    /* ---- 2. the cut ---------------------------------------------------------------------- */
    speech_end = time_now_us() - 300000;
    char full[8192] = "";
    static const char *const before[] = { "Let me look that up for you.", "I found three orders on your account." };
    for (uint32_t i = 0; i < 2; i++) {
        dt_sentence(&st, "cut", 21, i, before[i], speech_end);
        strcat(full, i ? " " : "");
        strcat(full, before[i]);
    }
    /* A second session speaks meanwhile. */
    dt_sentence(&st, "other", 5, 0, "I am the other caller's agent, and I keep on talking.", speech_end);
    dt_sentence(&st, "other", 5, 1, "Nothing that happens to another session stops me.", speech_end);
    /* The first 2.2 s of the reply go by (the edge would be playing them);
     * then the LLM sends more, long sentences (a minute of audio, about a
     * second of synthesis), and the caller barges in while they are made. */
    n = dt_collect(&st, s_ev, MAX_EV, 0, 2200, NULL);
    for (uint32_t i = 2; i < 6; i++) {
        dt_sentence(&st, "cut", 21, i, LONG_SENTENCE, speech_end);
        strcat(full, " " LONG_SENTENCE);
    }
    n = dt_collect(&st, s_ev, MAX_EV, n, 30, NULL);
    int64_t cut_sent = time_now_us();
    dt_interrupt(&st, "cut", cut_sent - 100000);
    dt_sentence(&st, "cut", 21, 6, "This was sent after the cut.", speech_end);
    n = dt_collect(&st, s_ev, MAX_EV, n, 1500, NULL);
    const dt_event_t *sp = NULL;
    for (size_t i = 0; i < n; i++)
        if (s_ev[i].spoken && !strcmp(s_ev[i].session, "cut")) sp = &s_ev[i];
    CHECK(sp && sp->turn == 21, "tts.spoken. for the cut turn 21");
    size_t cut_frames = 0, after = 0, other_after = 0, other_frames = 0, inflight = 0;
    int64_t first_cut_audio = 0;
    for (size_t i = 0; sp && i < n; i++) {
        if (s_ev[i].spoken) continue;
        if (!strcmp(s_ev[i].session, "cut") && s_ev[i].turn == 21) {
            cut_frames += s_ev[i].frames;
            if (!first_cut_audio) first_cut_audio = s_ev[i].sent_us;
            if (s_ev[i].sent_us > sp->sent_us) after++;
            else if (s_ev[i].sent_us > cut_sent) inflight++;
        }
        if (!strcmp(s_ev[i].session, "other")) {
            other_frames += s_ev[i].frames;
            if (s_ev[i].sent_us > sp->sent_us) other_after++;
        }
    }
    CHECK(cut_frames > 0, "the cut turn had %.2f s of audio out before the cut", cut_frames / 16000.0);
    CHECK(sp && after == 0, "no audio of turn 21 was published after the cut (%zu events stamped later than the "
          "tts.spoken. event; %zu published between our interrupt and the daemon's cut)", after, inflight);
    int cut_lines = dt_log_count(&st, "session cut: turn 21 cut after");
    char *log = dt_log(&st);
    const char *line = log ? strstr(log, "session cut: turn 21 cut after") : NULL;
    const char *np = line ? strstr(line, "s published (") : NULL;
    int not_spoken = np ? atoi(np + strlen("s published (")) : -1;
    CHECK(cut_lines == 1 && not_spoken > 0, "the cut stopped synthesis mid-reply (%d pieces not spoken)", not_spoken);
    free(log);
    CHECK(sp && sp->text[0] && s_prefix_words(sp->text, full) && strlen(sp->text) < strlen(full),
          "tts.spoken. is a prefix of the reply: \"%s\"", sp ? sp->text : "");
    /* About 2.2 s had played: the first sentence (1.8 s) at least. */
    CHECK(sp && !strncmp(sp->text, before[0], strlen(before[0])), "it holds the sentence that had played");
    CHECK(other_frames > 0 && dt_log_count(&st, "session other: turn 5 cut") == 0,
          "the other session spoke on (%.2f s, %zu chunks after the cut)", other_frames / 16000.0, other_after);

    /* ---- 3. the next turn ---------------------------------------------------------------- */
    dt_sentence(&st, "cut", 22, 0, "Sorry, go ahead.", time_now_us() - 200000);
    n = dt_collect(&st, s_ev, MAX_EV, 0, 1500, NULL);
    size_t next = 0, old = 0;
    for (size_t i = 0; i < n; i++) {
        if (s_ev[i].spoken || strcmp(s_ev[i].session, "cut")) continue;
        if (s_ev[i].turn == 22) next += s_ev[i].frames;
        else old++;
    }
    CHECK(next > 0 && old == 0, "the next turn (22) is spoken: %.2f s, nothing of turn 21", next / 16000.0);

    double first_n = dt_metric(&st, "voxmesh_tts_first_audio_seconds_count{from=\"sentence\"}");
    double first_sum = dt_metric(&st, "voxmesh_tts_first_audio_seconds_sum{from=\"sentence\"}");
    double turn_n = dt_metric(&st, "voxmesh_tts_first_audio_seconds_count{from=\"speech_end\"}");
    double turn_sum = dt_metric(&st, "voxmesh_tts_first_audio_seconds_sum{from=\"speech_end\"}");
    CHECK(first_n >= 5 && turn_n == 6, "first-audio metrics: %.0f sentences, %.0f turns", first_n, turn_n);
    printf("     time to first audio: %.1f ms per sentence on average (queueing included), %.1f ms per turn from "
           "the end of speech (of which 200..400 ms are the test's made-up STT+LLM time)\n",
           first_n > 0 ? 1000 * first_sum / first_n : 0, turn_n > 0 ? 1000 * turn_sum / turn_n : 0);
    CHECK(dt_metric(&st, "voxmesh_tts_interrupts_total") == 1, "one interrupt counted");
    CHECK(dt_metric(&st, "voxmesh_tts_dropped_sentences_total{reason=\"cut\"}") == 1,
          "the sentence sent after the cut was dropped");
    CHECK(dt_metric(&st, "voxmesh_tts_audio_seconds_total") > secs, "audio seconds counted");
    dt_session_end(&st, "cut");
    dt_session_end(&st, "calm");
    usleep(200000);
    CHECK(dt_metric(&st, "voxmesh_tts_sessions") == 1, "ended sessions are freed (one left)");
    CHECK(dt_stop(&st), "clean exit on SIGTERM");
    if (test_failures_) dt_log_tail(&st);
    dt_destroy(&st);
    curl_global_cleanup();
    return TEST_DONE();
}
