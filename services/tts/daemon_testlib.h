/* daemon_testlib — what the tests of the real voxmesh-tts binary share: a
 * bus of their own, the daemon as a child with its log in a file, events
 * in and out, its /metrics. Header-only (static inline) so that it is not
 * linked into the daemon. */
#ifndef VOXMESH_TTS_DAEMON_TESTLIB_H
#define VOXMESH_TTS_DAEMON_TESTLIB_H

#include "bus.h"
#include "bus_proxy.h"
#include "log.h"
#include "test.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char front[96], back[96];
    bus_proxy_t *proxy;
    bus_t *pub, *sub;
    pid_t pid;
    char log[128];
} dt_stack_t;

/* One audio.out.pcm. or tts.spoken. event as received. */
typedef struct {
    bool spoken;                 /* tts.spoken. (else audio) */
    char session[32];
    uint64_t turn;
    int64_t sent_us;             /* when the daemon published it (bus stamp) */
    int64_t recv_us;
    uint32_t rate;
    size_t frames;
    uint64_t offset;
    double sumsq;                /* of the samples */
    size_t loud_frames;          /* 20 ms frames with RMS > 300 */
    size_t frames20;
    char text[1024];
} dt_event_t;

static inline void dt_bus(dt_stack_t *s, const char *name)
{
    snprintf(s->front, sizeof s->front, "ipc://@tts-%s-%d.pub", name, getpid());
    snprintf(s->back, sizeof s->back, "ipc://@tts-%s-%d.sub", name, getpid());
    s->proxy = bus_proxy_new(s->front, s->back);
    s->pub = bus_new("tts-test", s->front, NULL, NULL);
    s->sub = bus_new("tts-test-sub", NULL, s->back, NULL);
    bus_subscribe(s->sub, TOPIC_AUDIO_OUT_PCM);
    bus_subscribe(s->sub, TOPIC_TTS_SPOKEN);
    bus_subscribe(s->sub, TOPIC_HEALTH);
}

/* Starts voxmesh-tts with the NULL-terminated extra arguments; its stdout
 * and stderr go to s->log. env: "NAME=value" to set, or NULL. Waits until
 * it subscribed to llm.sentence. (returns false if it never did). */
static inline bool dt_start(dt_stack_t *s, const char *tag, const char *env, const char *const *args)
{
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char path[256], pub[128], sub[128];
    snprintf(path, sizeof path, "%s/bin/voxmesh-tts", build);
    snprintf(pub, sizeof pub, "--bus-pub=%s", s->front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", s->back);
    snprintf(s->log, sizeof s->log, "/tmp/tts-%s-%d.log", tag, getpid());
    char *argv[32] = { path, pub, sub, "--metrics-port=0", "--log-target=stderr" };
    int n = 5;
    for (; args && *args && n < 30; args++) argv[n++] = (char *)*args;
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (env) putenv((char *)env);
        execv(path, argv);
        _exit(127);
    }
    for (int i = 0; i < 1000 && bus_proxy_subscriptions(s->proxy, TOPIC_LLM_SENTENCE) < 1; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) return false;
        usleep(10000);
    }
    usleep(100000);                    /* its other subscriptions follow the first */
    return bus_proxy_subscriptions(s->proxy, TOPIC_LLM_SENTENCE) >= 1;
}

/* SIGTERM; true on a clean exit. */
static inline bool dt_stop(dt_stack_t *s)
{
    if (s->pid <= 0) return false;
    kill(s->pid, SIGTERM);
    int status = 0;
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Stops the daemon and frees the bus; the log is removed unless keep_log. */
static inline void dt_destroy_keep(dt_stack_t *s, bool keep_log)
{
    if (s->pid > 0) dt_stop(s);
    if (!keep_log && s->log[0]) unlink(s->log);
    bus_destroy(&s->pub);
    bus_destroy(&s->sub);
    bus_proxy_destroy(&s->proxy);
}

#define dt_destroy(s) dt_destroy_keep((s), test_failures_ > 0)

/* The daemon's log so far (malloc'd, "" when none). */
static inline char *dt_log(const dt_stack_t *s)
{
    FILE *f = fopen(s->log, "r");
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
    if (text) text[len] = '\0';
    return text;
}

static inline int dt_log_count(const dt_stack_t *s, const char *needle)
{
    char *text = dt_log(s);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p++) n++;
    free(text);
    return n;
}

static inline void dt_log_tail(const dt_stack_t *s)
{
    char *text = dt_log(s);
    size_t len = text ? strlen(text) : 0;
    printf("# --- the end of %s ---\n%s\n", s->log, len > 3000 ? text + len - 3000 : text ? text : "");
    free(text);
}

static inline void dt_sentence(dt_stack_t *s, const char *session, uint64_t turn, uint32_t index, const char *text,
                               int64_t origin_us)
{
    Voxmesh__LlmText t = VOXMESH__LLM_TEXT__INIT;
    t.turn_id = turn;
    t.index = index;
    t.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = origin_us;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE;
    ev.llm_sentence = &t;
    bus_publish(s->pub, TOPIC_LLM_SENTENCE, &ev);
}

static inline void dt_interrupt(dt_stack_t *s, const char *session, int64_t origin_us)
{
    Voxmesh__TurnInterrupt t = VOXMESH__TURN_INTERRUPT__INIT;
    t.reason = "barge-in";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = origin_us;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT;
    ev.turn_interrupt = &t;
    bus_publish(s->pub, TOPIC_TURN_INTERRUPT, &ev);
}

static inline void dt_session_end(dt_stack_t *s, const char *session)
{
    Voxmesh__SessionEnded e = VOXMESH__SESSION_ENDED__INIT;
    e.reason = "test";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED;
    ev.session_ended = &e;
    bus_publish(s->pub, TOPIC_SESSION, &ev);
}

/* Gets the samples of each audio event (dt_collect_pcm). */
typedef void (dt_pcm_fn)(const char *session, uint64_t turn, const int16_t *x, size_t n, void *arg);

/* Receives audio and spoken events into ev[n..max) for ms; returns the new
 * count. Health events with state "degraded" are counted in *degraded (may
 * be NULL); fn (may be NULL) sees every audio event's samples. */
static inline size_t dt_collect_pcm(dt_stack_t *s, dt_event_t *ev, size_t max, size_t n, int ms, int *degraded,
                                    dt_pcm_fn *fn, void *arg)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    bus_msg_t *m;
    while (time_mono_us() < end && n < max) {
        if (!(m = bus_recv(s->sub, 20))) continue;
        event_t *e = m->ev;
        if (e->payload_case == VOXMESH__ENVELOPE__PAYLOAD_HEALTH && degraded && e->health->state
            && !strcmp(e->health->state, "degraded"))
            (*degraded)++;
        dt_event_t *d = &ev[n];
        memset(d, 0, sizeof *d);
        snprintf(d->session, sizeof d->session, "%s", e->session_id ? e->session_id : "");
        d->sent_us = e->sent_ts_us;
        d->recv_us = time_now_us();
        if (e->payload_case == VOXMESH__ENVELOPE__PAYLOAD_PCM_AUDIO) {
            Voxmesh__PcmAudio *p = e->pcm_audio;
            d->turn = p->turn_id;
            d->rate = p->sample_rate;
            d->frames = p->channels == 1 && p->format == VOXMESH__SAMPLE_FORMAT__SAMPLE_FORMAT_S16
                            ? p->samples.len / 2 : 0;
            d->offset = p->stream_offset;
            const int16_t *x = (const int16_t *)p->samples.data;
            if (fn) fn(d->session, d->turn, x, d->frames, arg);
            size_t f20 = p->sample_rate / 50;
            for (size_t at = 0; f20 && at + f20 <= d->frames; at += f20) {
                double e20 = 0;
                for (size_t i = at; i < at + f20; i++) e20 += (double)x[i] * x[i];
                d->sumsq += e20;
                d->frames20++;
                if (sqrt(e20 / f20) > 300) d->loud_frames++;
            }
            n++;
        } else if (e->payload_case == VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN) {
            d->spoken = true;
            d->turn = e->tts_spoken->turn_id;
            snprintf(d->text, sizeof d->text, "%s", e->tts_spoken->text ? e->tts_spoken->text : "");
            n++;
        }
        bus_msg_destroy(&m);
    }
    return n;
}

static inline size_t dt_collect(dt_stack_t *s, dt_event_t *ev, size_t max, size_t n, int ms, int *degraded)
{
    return dt_collect_pcm(s, ev, max, n, ms, degraded, NULL, NULL);
}

/* ---- /metrics ------------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len;
} dt_body_t;

static inline size_t dt_on_body(char *p, size_t size, size_t n, void *arg)
{
    dt_body_t *b = arg;
    char *d = realloc(b->data, b->len + size * n + 1);
    if (!d) return 0;
    memcpy(d + b->len, p, size * n);
    b->data = d;
    b->len += size * n;
    d[b->len] = '\0';
    return size * n;
}

/* The value of the metric line that starts with `line` ("name{labels}"),
 * or -1. */
static inline double dt_metric(const dt_stack_t *s, const char *line)
{
    char *log = dt_log(s);
    const char *p = log ? strstr(log, "metrics on http://127.0.0.1:") : NULL;
    int port = p ? atoi(p + strlen("metrics on http://127.0.0.1:")) : 0;
    free(log);
    if (port <= 0) return -1;
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    dt_body_t b = { 0 };
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dt_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    double v = -1;
    if (rc == CURLE_OK && b.data) {
        for (const char *q = b.data; (q = strstr(q, line)); q++)
            if ((q == b.data || q[-1] == '\n') && q[strlen(line)] == ' ') {
                v = atof(q + strlen(line) + 1);
                break;
            }
    }
    free(b.data);
    return v;
}

#endif
