/* provider_test — voxmesh-stt with --provider=openai and =deepgram against
 * a fake server (tests/fake-providers/stt.mjs, Node, 127.0.0.1) that parses
 * each request (the multipart form or the query, the key header, the WAV:
 * 16000 Hz, mono, 16 bit, sizes) and answers in the provider's wire format
 * with a transcript that names the audio it got (sample count and hash).
 *
 * Driven as the mesh drives it: speech.segment. events (an utterance in
 * 320 ms pieces, the last one final with the caller's end of speech) on a
 * bus of our own, stt.final. read back. For each provider, sessions at once:
 * two utterances in a row; a slow answer to the first of two (finals still
 * in utterance order); no response at all (the first-byte deadline) while
 * another session is answered; a mid-body disconnect; 429 then success; 500
 * (retried, then failed, the key in its message masked); malformed JSON; an
 * endless response (cut); an empty transcript (no final, no error); JSON
 * without a transcript; an utterance longer than --max-utterance-s (cut to
 * it); a session that ends while its request is in flight (the request is
 * closed, no failure). Then: the key nowhere in the debug log, metrics
 * (finals, errors, retries, latency), health "degraded", a clean exit; a
 * wrong key (401, not retried).
 *
 * And the offline engine behind the same daemon code: two callers at once
 * on one PocketSphinx decoder (one waits for it), partials while they
 * speak, the same final for the same words, origin = end of speech. */
#include "bus.h"
#include "bus_proxy.h"
#include "json.h"
#include "log.h"
#include "pcm.h"
#include "test.h"
#include "wav.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "sk-stt-test-7Hq2Lx9Vb4Np"
#define RATE 16000
#define CHUNK (RATE * 32 / 100)   /* 320 ms segments, as the VAD sends them */

static char s_fake_log[128], s_fake_out[128];
static pid_t s_fake = -1;

/* ---- files -------------------------------------------------------------------------- */

static char *s_read(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = malloc((size_t)n + 1);
        len = text ? fread(text, 1, (size_t)n, f) : 0;
        fclose(f);
    }
    if (!text) text = malloc(1);
    text[len] = '\0';
    return text;
}

static int s_count(const char *path, const char *a, const char *b)
{
    char *text = s_read(path);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, a) && (!b || strstr(line, b))) n++;
    free(text);
    return n;
}

/* ---- the fake server ---------------------------------------------------------------- */

static int s_fake_start(void)
{
    snprintf(s_fake_log, sizeof s_fake_log, "/tmp/stt-fake-%d.jsonl", getpid());
    snprintf(s_fake_out, sizeof s_fake_out, "/tmp/stt-fake-%d.out", getpid());
    unlink(s_fake_log);
    s_fake = fork();
    if (s_fake == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(s_fake_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("node", "node", "tests/fake-providers/stt.mjs", "--key", SECRET, "--log", s_fake_log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        char *text = s_read(s_fake_out);
        int port = !strncmp(text, "listening ", 10) ? atoi(text + 10) : 0;
        free(text);
        if (port > 0) return port;
        if (waitpid(s_fake, NULL, WNOHANG) == s_fake) return 0;
        usleep(10000);
    }
    return 0;
}

/* The fake's request lines for `provider` with audio hash `fnv` (NULL:
 * any); *bad counts those it found wrong, *why the last reason. */
static int s_requests(const char *provider, const char *fnv, int *bad, char *why, size_t whylen, long *samples)
{
    char *text = s_read(s_fake_log);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_parse(line, strlen(line), NULL, 0);
        const char *kind = json_str(json_get(j, "kind")), *prov = json_str(json_get(j, "provider"));
        const char *h = json_str(json_get(j, "fnv"));
        if (kind && !strcmp(kind, "request") && prov && !strcmp(prov, provider) && (!fnv || (h && !strcmp(h, fnv)))) {
            n++;
            if (samples) *samples = (long)json_num(json_get(j, "samples"), -1);
            if (bad && !json_bool(json_get(j, "ok"), false)) {
                (*bad)++;
                if (why) snprintf(why, whylen, "%s", json_str(json_get(j, "why")) ? json_str(json_get(j, "why")) : "?");
            }
        }
        json_destroy(&j);
    }
    free(text);
    return n;
}

/* ---- the daemon --------------------------------------------------------------------- */

typedef struct {
    char front[96], back[96], log[128];
    bus_proxy_t *proxy;
    bus_t *pub, *sub;
    pid_t pid;
} s_stack_t;

static bool s_up(s_stack_t *st, const char *tag, const char *env, const char *const *args)
{
    snprintf(st->front, sizeof st->front, "ipc://@stt-%s-%d.pub", tag, getpid());
    snprintf(st->back, sizeof st->back, "ipc://@stt-%s-%d.sub", tag, getpid());
    snprintf(st->log, sizeof st->log, "/tmp/stt-%s-%d.log", tag, getpid());
    st->proxy = bus_proxy_new(st->front, st->back);
    st->pub = bus_new("stt-test", st->front, NULL, NULL);
    st->sub = bus_new("stt-test-sub", NULL, st->back, NULL);
    bus_subscribe(st->sub, TOPIC_STT);
    bus_subscribe(st->sub, TOPIC_HEALTH);
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[256], pub[128], sub[128];
    snprintf(path, sizeof path, "%s/bin/voxmesh-stt", build);
    snprintf(pub, sizeof pub, "--bus-pub=%s", st->front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", st->back);
    char *argv[32] = { path, pub, sub, "--metrics-port=0", "--log-target=stderr", "--health-interval=500" };
    int n = 6;
    for (; args && *args && n < 30; args++) argv[n++] = (char *)*args;
    argv[n] = NULL;
    st->pid = fork();
    if (st->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(st->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (env) putenv((char *)env);
        execv(path, argv);
        _exit(127);
    }
    /* Subscribed, and in its loop: "ready" is logged after the models are
     * loaded (seconds for PocketSphinx on a busy machine). */
    for (int i = 0; i < 6000 && (bus_proxy_subscriptions(st->proxy, TOPIC_SPEECH_SEGMENT) < 1
                                 || s_count(st->log, ": info: ready", NULL) < 1); i++) {
        if (waitpid(st->pid, NULL, WNOHANG) == st->pid) {
            st->pid = 0;
            return false;
        }
        usleep(10000);
    }
    usleep(150000);                    /* its other subscription, our PUB's connection */
    return bus_proxy_subscriptions(st->proxy, TOPIC_SPEECH_SEGMENT) >= 1 && s_count(st->log, ": info: ready", NULL) == 1;
}

/* SIGTERM; true on a clean exit. */
static bool s_stop(s_stack_t *st)
{
    if (st->pid <= 0) return false;
    kill(st->pid, SIGTERM);
    int status = 0;
    waitpid(st->pid, &status, 0);
    st->pid = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void s_down(s_stack_t *st)
{
    if (st->pid > 0) s_stop(st);
    if (!test_failures_ && !getenv("STT_TEST_KEEP")) unlink(st->log);
    else printf("# the daemon's log is kept: %s\n", st->log);
    bus_destroy(&st->pub);
    bus_destroy(&st->sub);
    bus_proxy_destroy(&st->proxy);
}

/* ---- utterances --------------------------------------------------------------------- */

typedef struct {
    const char *session;
    const char *tag;               /* the fake's behaviour, in the first samples */
    uint64_t id;
    double seconds;
    int16_t *pcm;
    size_t n;
    size_t n_sent_max;             /* what the daemon may send (--max-utterance-s) */
    char fnv[9];                   /* of the first n_sent_max samples */
    int64_t speech_end_us;
    /* what came back */
    int finals, partials;
    char text[512];
    float confidence;
    int64_t origin_us, got_us;     /* got: monotonic */
    int64_t said_us;               /* monotonic: the final segment published */
    char worker[64];
} s_utt_t;

static void s_fnv(const int16_t *x, size_t n, char out[9])
{
    uint32_t h = 0x811c9dc5u;
    const uint8_t *b = (const uint8_t *)x;
    for (size_t i = 0; i < n * 2; i++) {
        h ^= b[i];
        h *= 0x01000193u;
    }
    snprintf(out, 9, "%08x", h);
}

/* The audio: the tag's ASCII codes, then a noise pattern of its own. */
static void s_make(s_utt_t *u, size_t max_samples)
{
    u->n = (size_t)(u->seconds * RATE);
    u->pcm = calloc(u->n, sizeof *u->pcm);
    uint32_t x = (uint32_t)(u->id * 2654435761u) ^ (uint32_t)strlen(u->session) * 40503u ^ (uint32_t)u->session[0];
    for (size_t i = 0; i < u->n; i++) {
        x = x * 1664525u + 1013904223u;
        u->pcm[i] = (int16_t)((int32_t)(x >> 16) % 8000);
    }
    size_t tl = strlen(u->tag);
    for (size_t i = 0; i < 16; i++) u->pcm[i] = (int16_t)(i < tl ? u->tag[i] : 0);
    u->n_sent_max = u->n < max_samples ? u->n : max_samples;
    s_fnv(u->pcm, u->n_sent_max, u->fnv);
}

static void s_segment(bus_t *pub, const s_utt_t *u, size_t at, size_t n, bool final)
{
    Voxmesh__PcmAudio a = VOXMESH__PCM_AUDIO__INIT;
    a.sample_rate = RATE;
    a.channels = 1;
    a.format = VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16;
    a.samples.data = (uint8_t *)(u->pcm + at);
    a.samples.len = n * 2;
    Voxmesh__SpeechSegment s = VOXMESH__SPEECH_SEGMENT__INIT;
    s.utterance_id = u->id;
    s.audio = &a;
    s.final = final;
    s.start_us = 0;
    if (final) s.speech_end_ts_us = u->speech_end_us;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)u->session;
    ev.origin_ts_us = time_now_us();
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SPEECH_SEGMENT;
    ev.speech_segment = &s;
    bus_publish(pub, TOPIC_SPEECH_SEGMENT, &ev);
}

/* The whole utterance, in pieces, the last one final. */
static void s_say(bus_t *pub, s_utt_t *u)
{
    u->speech_end_us = time_now_us() - 250000 - (int64_t)u->id;   /* distinct per utterance */
    for (size_t at = 0; at < u->n; at += CHUNK) {
        size_t n = u->n - at < CHUNK ? u->n - at : CHUNK;
        s_segment(pub, u, at, n, at + n >= u->n);
    }
    u->said_us = time_mono_us();
}

static void s_end_session(bus_t *pub, const char *session)
{
    Voxmesh__SessionEnded e = VOXMESH__SESSION_ENDED__INIT;
    e.reason = "test";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED;
    ev.session_ended = &e;
    bus_publish(pub, TOPIC_SESSION, &ev);
}

typedef void (s_seen_fn)(s_utt_t *u, void *arg);

/* Receives for ms, matching transcripts to utterances; fn sees each final
 * as it arrives. */
static void s_pump(s_stack_t *st, s_utt_t *utts, size_t nutts, int ms, int *degraded, s_seen_fn *fn, void *arg)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    while (time_mono_us() < end) {
        bus_msg_t *m = bus_recv(st->sub, 20);
        if (!m) continue;
        event_t *ev = m->ev;
        if (ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_HEALTH && degraded && ev->health->state
            && !strcmp(ev->health->state, "degraded"))
            (*degraded)++;
        bool final = ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL;
        const Voxmesh__Transcript *t = final ? ev->stt_final
                                     : ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL ? ev->stt_partial
                                                                                                 : NULL;
        for (size_t i = 0; t && ev->session_id && i < nutts; i++) {
            s_utt_t *u = &utts[i];
            if (strcmp(u->session, ev->session_id) || u->id != t->utterance_id) continue;
            if (!final) {
                u->partials++;
                continue;
            }
            u->finals++;
            snprintf(u->text, sizeof u->text, "%s", t->text ? t->text : "");
            snprintf(u->worker, sizeof u->worker, "%s", t->worker ? t->worker : "");
            u->confidence = t->confidence;
            u->origin_us = ev->origin_ts_us;
            u->got_us = time_mono_us();
            if (fn) fn(u, arg);
        }
        bus_msg_destroy(&m);
    }
}

/* ---- /metrics ----------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
} s_body_t;

static size_t s_on_body(char *p, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    char *d = realloc(b->data, b->len + size * n + 1);
    if (!d) return 0;
    memcpy(d + b->len, p, size * n);
    b->data = d;
    b->len += size * n;
    d[b->len] = '\0';
    return size * n;
}

/* The value of the metric line "name{labels} value", or -1. */
static double s_metric(const s_stack_t *st, const char *line)
{
    char *log = s_read(st->log);
    const char *p = strstr(log, "metrics on http://127.0.0.1:");
    int port = p ? atoi(p + strlen("metrics on http://127.0.0.1:")) : 0;
    free(log);
    if (port <= 0) return -1;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    s_body_t b = { 0 };
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    double v = -1;
    for (const char *q = rc == CURLE_OK ? b.data : NULL; q && (q = strstr(q, line)); q++)
        if ((q == b.data || q[-1] == '\n') && q[strlen(line)] == ' ') {
            v = atof(q + strlen(line) + 1);
            break;
        }
    free(b.data);
    return v;
}

/* ---- one provider ------------------------------------------------------------------- */

enum { U_OK1, U_OK2, U_SLOW, U_AFTER, U_STALL, U_FAST, U_DROP, U_429, U_500, U_MALFORMED, U_ENDLESS, U_EMPTY,
       U_NORESULT, U_LONG, U_HANG, U_N };

typedef struct {
    s_stack_t *st;
    s_utt_t *utts;
    const char *stall_line;        /* the stall's failure, in the daemon's log */
    bool stall_failed_before_fast; /* when the fast final arrived */
} s_watch_t;

static void s_on_final(s_utt_t *u, void *arg)
{
    s_watch_t *w = arg;
    if (u != &w->utts[U_FAST]) return;
    char *log = s_read(w->st->log);
    w->stall_failed_before_fast = strstr(log, w->stall_line) != NULL;
    free(log);
}

static void s_expect(const char *provider, const s_utt_t *u, const char *what)
{
    char want[128];
    snprintf(want, sizeof want, "%s %zu samples fnv %s", u->tag[0] ? u->tag : "plain", u->n_sent_max, u->fnv);
    CHECK(u->finals == 1 && !strcmp(u->text, want) && u->origin_us == u->speech_end_us,
          "%s: %s: one final, the provider's text \"%s\" (got \"%s\"), origin = the caller's end of speech (%+lld us)",
          provider, what, want, u->text, (long long)(u->origin_us - u->speech_end_us));
}

static void s_run(int port, const char *provider)
{
    bool openai = !strcmp(provider, "openai");
    char base[96], prov[48], line[256];
    /* openai's base with /v1 (as the llm and tts take it), deepgram's without */
    snprintf(base, sizeof base, "--base-url=http://127.0.0.1:%d%s", port, openai ? "/v1/" : "");
    snprintf(prov, sizeof prov, "--provider=%s", provider);
    const char *args[] = { prov, base, "--api-key-env=STT_TEST_KEY", "--first-byte-ms=1500", "--total-ms=6000",
                           "--max-retries=2", "--retry-backoff-ms=50", "--max-utterance-s=5", "--language=en",
                           "--log-level=debug", openai ? "--model=Systran/faster-whisper-small" : NULL, NULL };
    s_stack_t st = { 0 };
    bool up = s_up(&st, provider, "STT_TEST_KEY=" SECRET, args);
    CHECK(up, "%s: voxmesh-stt started and subscribed to speech.segment.", provider);
    if (!up) {
        char *log = s_read(st.log);
        printf("%s\n", log);
        free(log);
        s_down(&st);
        return;
    }
    char sid[U_N][48];
    static const char *const names[U_N] = { "ok", "ok", "order", "order", "stall", "fast", "drop", "429", "500",
                                            "malformed", "endless", "empty", "noresult", "long", "hang" };
    static const char *const tags[U_N] = { "", "", "slow", "", "stall", "", "drop", "429", "500", "malformed",
                                           "endless", "empty", "noresult", "", "hang" };
    s_utt_t u[U_N];
    memset(u, 0, sizeof u);
    for (int i = 0; i < U_N; i++) {
        snprintf(sid[i], sizeof sid[i], "%s-%s", provider, names[i]);
        u[i].session = sid[i];
        u[i].tag = tags[i];
        u[i].id = 100 + (uint64_t)i;
        u[i].seconds = i == U_LONG ? 7.0 : 0.9 + 0.1 * i;
        s_make(&u[i], 5 * RATE);
    }
    s_watch_t w = { &st, u, line, false };
    snprintf(line, sizeof line, "session %s: utterance %llu: %s transcription failed: timeout: no response within 1500 ms",
             sid[U_STALL], (unsigned long long)u[U_STALL].id, provider);
    int degraded = 0;

    /* Two in a row; a slow one then a quick one in the same session; a
     * stuck one, then another session's; the failures; the long one. */
    s_say(st.pub, &u[U_OK1]);
    s_say(st.pub, &u[U_OK2]);
    s_say(st.pub, &u[U_SLOW]);
    s_say(st.pub, &u[U_AFTER]);
    s_say(st.pub, &u[U_STALL]);
    s_pump(&st, u, U_N, 100, &degraded, s_on_final, &w);
    s_say(st.pub, &u[U_FAST]);
    for (int i = U_DROP; i <= U_HANG; i++) s_say(st.pub, &u[i]);
    /* The hanging request is in flight: its session ends. */
    for (int i = 0; i < 200 && s_requests(provider, u[U_HANG].fnv, NULL, NULL, 0, NULL) < 1; i++)
        s_pump(&st, u, U_N, 10, &degraded, s_on_final, &w);
    s_end_session(st.pub, sid[U_HANG]);
    s_pump(&st, u, U_N, 3000, &degraded, s_on_final, &w);

    s_expect(provider, &u[U_OK1], "first utterance");
    s_expect(provider, &u[U_OK2], "second utterance");
    s_expect(provider, &u[U_SLOW], "a slow answer (700 ms)");
    s_expect(provider, &u[U_AFTER], "the utterance after it");
    CHECK(u[U_SLOW].finals && u[U_AFTER].finals && u[U_SLOW].got_us <= u[U_AFTER].got_us,
          "%s: the slow utterance's final came first: finals in utterance order", provider);
    s_expect(provider, &u[U_FAST], "another session while one request is stuck");
    CHECK(u[U_FAST].finals && !w.stall_failed_before_fast && u[U_STALL].finals == 0,
          "%s: it was answered while the stuck request was still waiting", provider);
    CHECK(!strncmp(u[U_OK1].worker, "stt", 3),
          "%s: the worker is named (%s)", provider, u[U_OK1].worker);
    if (!openai)
        CHECK(u[U_OK1].confidence == 0.875f, "deepgram: the provider's confidence is carried over (%.3f)",
              u[U_OK1].confidence);
    else
        CHECK(u[U_OK1].confidence == 0, "openai: no confidence (Whisper gives none): %.3f", u[U_OK1].confidence);
    int partials = 0;
    for (int i = 0; i < U_N; i++) partials += u[i].partials;
    CHECK(partials == 0, "%s: no partial transcripts (%d)", provider, partials);
    printf("#    %s: final segment published -> stt.final received (fake server on 127.0.0.1): %.1f, %.1f, %.1f ms\n",
           provider, (u[U_OK1].got_us - u[U_OK1].said_us) / 1e3, (u[U_OK2].got_us - u[U_OK2].said_us) / 1e3,
           (u[U_FAST].got_us - u[U_FAST].said_us) / 1e3);
    s_expect(provider, &u[U_429], "429 then success");
    CHECK(s_requests(provider, u[U_429].fnv, NULL, NULL, 0, NULL) == 2, "%s: 429: retried once", provider);
    CHECK(u[U_LONG].finals == 1 && strstr(u[U_LONG].text, "plain 80000 samples"),
          "%s: a 7 s utterance: the first 5 s sent (--max-utterance-s): \"%s\"", provider, u[U_LONG].text);
    s_expect(provider, &u[U_LONG], "the long one");

    /* The failures: no final, a warning naming the session. */
    CHECK(u[U_STALL].finals == 0 && s_count(st.log, line, NULL) == 1, "%s: no response: the first-byte deadline, logged",
          provider);
    struct { int i; const char *why; int requests; } fails[] = {
        { U_DROP, "connection closed mid-body", 1 },
        { U_500, "HTTP 500: internal error for key ***", 3 },
        { U_MALFORMED, "HTTP 200 but the response is not JSON", 1 },
        { U_ENDLESS, "the response is larger than 1024 KiB", 1 },
        { U_NORESULT, "HTTP 200 but the response has no", 1 },
    };
    for (size_t k = 0; k < sizeof fails / sizeof *fails; k++) {
        const s_utt_t *f = &u[fails[k].i];
        snprintf(line, sizeof line, "session %s: utterance %llu: %s transcription failed: ", f->session,
                 (unsigned long long)f->id, provider);
        int reqs = s_requests(provider, f->fnv, NULL, NULL, 0, NULL);
        CHECK(f->finals == 0 && s_count(st.log, line, fails[k].why) == 1 && s_count(st.log, line, " warn: ") == 1
                  && reqs == fails[k].requests,
              "%s: %s: no final, a warning \"...%s\", %d request(s) (%d)", provider, f->tag, fails[k].why,
              fails[k].requests, reqs);
    }
    CHECK(u[U_EMPTY].finals == 0 && s_count(st.log, sid[U_EMPTY], "nothing recognised") == 1
              && s_count(st.log, sid[U_EMPTY], "failed") == 0,
          "%s: an empty transcript: no final, not a failure", provider);
    char aborted[64];
    snprintf(aborted, sizeof aborted, "\"aborted\",\"provider\":\"%s\",\"tag\":\"hang\"", provider);
    CHECK(s_count(s_fake_log, aborted, NULL) == 1 && u[U_HANG].finals == 0
              && s_count(st.log, sid[U_HANG], "transcription failed") == 0,
          "%s: the session ended: its request closed at once (the server saw it go; no deadline fired)", provider);

    /* The requests as the server found them. */
    int bad = 0;
    char why[160] = "";
    long samples = -1;
    int reqs = s_requests(provider, NULL, &bad, why, sizeof why, NULL);
    CHECK(reqs == U_N + 1 + 2 && bad == 0,
          "%s: the server found all %d requests well-formed (%s, key, WAV 16 kHz mono 16-bit) %s", provider, reqs,
          openai ? "multipart form" : "query, audio/wav body", why);
    s_requests(provider, u[U_OK2].fnv, NULL, NULL, 0, &samples);
    CHECK(samples == (long)u[U_OK2].n, "%s: the WAV holds the utterance's %zu samples (%.2f s): %ld", provider,
          u[U_OK2].n, u[U_OK2].n / (double)RATE, samples);
    char *fake = s_read(s_fake_log);
    char want_lang[96];
    snprintf(want_lang, sizeof want_lang, "\"model\":\"%s\",\"language\":\"en\"",
             openai ? "Systran/faster-whisper-small" : "nova-3");
    CHECK(strstr(fake, want_lang) != NULL, "%s: the model (%s) and --language sent (%s)", provider,
          openai ? "--model" : "the default", want_lang);
    free(fake);

    /* Metrics, health, the key, the end. */
    CHECK(s_metric(&st, "voxmesh_stt_finals_total") == 7 && s_metric(&st, "voxmesh_stt_errors_total") == 6
              && s_metric(&st, "voxmesh_stt_retries_total") == 3
              && s_metric(&st, "voxmesh_stt_final_seconds_count") == 7
              && s_metric(&st, "voxmesh_stt_requests_in_flight") == 0,
          "%s: metrics: %.0f finals, %.0f errors, %.0f retries, %.0f latencies, %.0f in flight", provider,
          s_metric(&st, "voxmesh_stt_finals_total"), s_metric(&st, "voxmesh_stt_errors_total"),
          s_metric(&st, "voxmesh_stt_retries_total"), s_metric(&st, "voxmesh_stt_final_seconds_count"),
          s_metric(&st, "voxmesh_stt_requests_in_flight"));
    s_pump(&st, u, U_N, 700, &degraded, NULL, NULL);
    CHECK(degraded >= 1, "%s: health said degraded (%d times)", provider, degraded);
    CHECK(s_count(st.log, SECRET, NULL) == 0 && s_count(st.log, SECRET + 7, NULL) == 0
              && s_count(st.log, "POST http://127.0.0.1", NULL) > 0,
          "%s: the API key is nowhere in the daemon's debug log", provider);
    /* The end comes while a request hangs: it is closed, nothing leaks. */
    s_utt_t last = { .session = openai ? "openai-last" : "deepgram-last", .tag = "hang", .id = 1, .seconds = 0.5 };
    s_make(&last, 5 * RATE);
    s_say(st.pub, &last);
    for (int i = 0; i < 200 && s_requests(provider, last.fnv, NULL, NULL, 0, NULL) < 1; i++) usleep(10000);
    CHECK(s_stop(&st), "%s: alive to the end, clean exit on SIGTERM with a request in flight", provider);
    CHECK(s_count(st.log, "Sanitizer", NULL) == 0, "%s: no sanitizer report in the daemon's log", provider);
    free(last.pcm);
    s_down(&st);
    for (int i = 0; i < U_N; i++) free(u[i].pcm);

    /* A wrong key: refused by the server (not retried), said by the daemon. */
    char tag[48];
    snprintf(tag, sizeof tag, "%s-wrongkey", provider);
    up = s_up(&st, tag, "STT_TEST_KEY=sk-wrong-key-0000", args);
    s_utt_t wk = { .session = openai ? "openai-wrongkey" : "deepgram-wrongkey", .tag = "", .id = 1, .seconds = 0.5 };
    s_make(&wk, 5 * RATE);
    s_say(st.pub, &wk);
    s_pump(&st, &wk, 1, 800, NULL, NULL, NULL);
    snprintf(line, sizeof line, "session %s: utterance 1: %s transcription failed: HTTP 401: bad Authorization",
             wk.session, provider);
    bad = 0;
    reqs = s_requests(provider, wk.fnv, &bad, why, sizeof why, NULL);
    CHECK(up && wk.finals == 0 && s_count(st.log, line, NULL) == 1 && reqs == 1 && bad == 1,
          "%s: a wrong key: the server refused it once (%s), the daemon logged HTTP 401", provider, why);
    free(wk.pcm);
    CHECK(s_stop(&st) && s_count(st.log, "Sanitizer", NULL) == 0, "%s: wrong key: clean exit, no sanitizer report",
          provider);
    s_down(&st);
}

/* Setup errors: said clearly, non-zero exit, no key printed. */
static void s_refusals(void)
{
    struct { const char *args[4]; const char *env; const char *says; } cases[] = {
        { { "--provider=deepgram", NULL }, "STT_NO_KEY=", "deepgram needs an API key" },
        { { "--provider=whisper", NULL }, NULL, "--provider: 'whisper' is not known" },
        { { "--provider=openai", "--base-url=ftp://example", NULL }, NULL, "--base-url: not an http(s) URL" },
        { { "--provider=deepgram", "--model=nova&x=1", NULL }, "DEEPGRAM_API_KEY=" SECRET, "--model: 1..128" },
        { { "--provider=openai", "--transcribe=/dev/null", NULL }, NULL, "--transcribe runs the offline engine only" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
        char path[256], log[128];
        snprintf(path, sizeof path, "%s/bin/voxmesh-stt", build);
        snprintf(log, sizeof log, "/tmp/stt-refusal-%d.log", getpid());
        char *argv[8] = { path, "--bus-pub=ipc://@stt-refusal-none.pub", "--bus-sub=ipc://@stt-refusal-none.sub",
                          "--metrics-port=0", "--log-target=stderr" };
        int n = 5;
        for (int k = 0; cases[i].args[k]; k++) argv[n++] = (char *)cases[i].args[k];
        argv[n] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 1);
            dup2(fd, 2);
            unsetenv("DEEPGRAM_API_KEY");
            if (cases[i].env) putenv((char *)cases[i].env);
            execv(path, argv);
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        char *text = s_read(log);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && strstr(text, cases[i].says) && !strstr(text, SECRET)
                  && !strstr(text, "Sanitizer"),
              "refused: %s ... -> exit %d, \"%s\"", cases[i].args[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              cases[i].says);
        free(text);
        unlink(log);
    }
}

/* ---- the offline engine through the same daemon code ---------------------------------- */

static void s_pocketsphinx(void)
{
    char wav[64];
    snprintf(wav, sizeof wav, "/tmp/stt-ps-%d.wav", getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "flite -voice slt -t 'hello, what time is it?' -o %s", wav);
    pcm_t *in = NULL, *x = NULL;
    if (system(cmd) != 0 || wav_read_file(wav, &in, NULL) < 0 || !(x = pcm_resample(in, RATE, 1, PCM_S16))) {
        CHECK(false, "pocketsphinx: flite made the test speech");
        pcm_destroy(&in);
        return;
    }
    unlink(wav);
    const char *args[] = { "--provider=pocketsphinx", "--lm-text=deploy/stt/agent.txt", "--decoders=1",
                           "--log-level=debug", NULL };
    s_stack_t st = { 0 };
    bool up = s_up(&st, "pocketsphinx", NULL, args);
    CHECK(up, "pocketsphinx: voxmesh-stt started (one decoder)");
    s_utt_t u[2] = { { .session = "ps-a", .tag = "", .id = 1 }, { .session = "ps-b", .tag = "", .id = 1 } };
    for (int i = 0; i < 2; i++) {
        /* 300 ms of silence either side, as the VAD's pre-roll and hangover give */
        u[i].n = pcm_frames(x) + RATE * 6 / 10;
        u[i].pcm = calloc(u[i].n, sizeof(int16_t));
        memcpy(u[i].pcm + RATE * 3 / 10, pcm_data(x), pcm_frames(x) * 2);
        u[i].speech_end_us = time_now_us() - 300000 - i;
    }
    /* Interleaved, piece by piece, as two callers speaking at once. */
    for (size_t at = 0; up && at < u[0].n; at += CHUNK) {
        size_t n = u[0].n - at < CHUNK ? u[0].n - at : CHUNK;
        for (int i = 0; i < 2; i++) s_segment(st.pub, &u[i], at, n, at + n >= u[i].n);
        s_pump(&st, u, 2, 30, NULL, NULL, NULL);
    }
    for (int i = 0; i < 40 && up && (!u[0].finals || !u[1].finals); i++) s_pump(&st, u, 2, 100, NULL, NULL, NULL);
    CHECK(u[0].finals == 1 && u[1].finals == 1 && strstr(u[0].text, "time") && !strcmp(u[0].text, u[1].text),
          "pocketsphinx: both callers' finals, the same words: \"%s\" / \"%s\"", u[0].text, u[1].text);
    CHECK(u[0].origin_us == u[0].speech_end_us && u[1].origin_us == u[1].speech_end_us,
          "pocketsphinx: origin = the caller's end of speech");
    CHECK(u[0].partials + u[1].partials >= 2, "pocketsphinx: partials while they spoke (%d, %d)", u[0].partials,
          u[1].partials);
    CHECK(s_metric(&st, "voxmesh_stt_decoder_waits_total") > 0 && s_metric(&st, "voxmesh_stt_decoders_busy") == 0,
          "pocketsphinx: one of them waited for the decoder (%.0f segments kept), which is free again",
          s_metric(&st, "voxmesh_stt_decoder_waits_total"));
    CHECK(s_stop(&st) && s_count(st.log, "Sanitizer", NULL) == 0, "pocketsphinx: clean exit, no sanitizer report");
    s_down(&st);
    for (int i = 0; i < 2; i++) free(u[i].pcm);
    pcm_destroy(&in);
    pcm_destroy(&x);
}

int main(void)
{
    log_init("provider_test", LOG_LEVEL_ERROR, false);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (system("node --version > /dev/null 2>&1") != 0) {
        SKIP("node is not installed: the fake provider cannot run");
        return TEST_DONE();
    }
    s_refusals();
    s_pocketsphinx();
    int port = s_fake_start();
    CHECK(port > 0, "the fake provider listens on 127.0.0.1:%d", port);
    if (port > 0) {
        s_run(port, "openai");
        s_run(port, "deepgram");
    }
    if (s_fake > 0) {
        kill(s_fake, SIGTERM);
        waitpid(s_fake, NULL, 0);
    }
    if (!test_failures_ && !getenv("STT_TEST_KEEP")) {
        unlink(s_fake_log);
        unlink(s_fake_out);
    } else {
        printf("# the fake's log is kept: %s\n", s_fake_log);
    }
    curl_global_cleanup();
    return TEST_DONE();
}
