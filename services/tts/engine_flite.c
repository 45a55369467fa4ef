/* engine_flite — see engine_flite.h. */
#include "engine_flite.h"
#include "chunker.h"
#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <flite/flite.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_kal(const char *voxdir);

typedef struct s_job {
    uint64_t id;
    char *text;
    bool cancelled;               /* under the lock */
    struct s_job *next;
} s_job_t;

typedef struct s_result {
    uint64_t job;
    int16_t *samples;             /* NULL: the end of the job */
    size_t frames;
    char *error;                  /* at the end: why it failed */
    struct s_result *next;
} s_result_t;

typedef struct {
    engine_flite_t *e;
    pthread_t thread;
    bool started;
} s_worker_t;

struct engine_flite {
    cst_voice *voice;
    uint32_t rate;
    size_t chunk_frames;
    tts_engine_sink_t sink;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    s_job_t *todo_head, *todo_tail;
    s_job_t *running;             /* list of jobs the workers hold */
    s_result_t *res_head, *res_tail;
    bool signalled;               /* a byte is in the pipe */
    bool stopping;
    int pipe[2];
    s_worker_t *workers;
    size_t nworkers;
};

/* ---- voices --------------------------------------------------------------------------- */

static const char *const s_voices[] = { "slt", "kal", "kal16", "awb", "rms", NULL };

const char *engine_flite_voices(void)
{
    return "slt kal kal16 awb rms";
}

/* Registering a voice is not thread-safe and voices live as long as the
 * process (flite keeps them in globals), so they are made once. */
static pthread_mutex_t s_voice_lock = PTHREAD_MUTEX_INITIALIZER;
static cst_voice *s_voice_cache[sizeof s_voices / sizeof s_voices[0]];

static cst_voice *s_voice_open(const char *name, char *err, size_t errlen)
{
    size_t i = 0;
    while (s_voices[i] && strcmp(s_voices[i], name)) i++;
    if (!s_voices[i]) {
        snprintf(err, errlen, "unknown flite voice \"%s\" (voices: %s)", name, engine_flite_voices());
        return NULL;
    }
    pthread_mutex_lock(&s_voice_lock);
    static bool inited;
    if (!inited) {
        flite_init();
        inited = true;
    }
    cst_voice *v = s_voice_cache[i];
    if (!v && !strcmp(name, "slt")) v = register_cmu_us_slt(NULL);
    else if (!v && !strcmp(name, "kal")) v = register_cmu_us_kal(NULL);
    else if (!v) {
        /* The other voices Debian ships are not linked in (the Makefile
         * links slt and kal): load them when asked for. Never closed, as
         * flite keeps pointers into them. */
        char lib[64], sym[64];
        snprintf(lib, sizeof lib, "libflite_cmu_us_%s.so.1", name);
        snprintf(sym, sizeof sym, "register_cmu_us_%s", name);
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        cst_voice *(*reg)(const char *) = NULL;
        if (h) *(void **)&reg = dlsym(h, sym);
        if (reg) v = reg(NULL);
        else snprintf(err, errlen, "flite voice %s: %s", name, h ? "no register function" : dlerror());
    }
    if (v) s_voice_cache[i] = v;
    else if (!err[0]) snprintf(err, errlen, "flite voice %s could not be registered", name);
    pthread_mutex_unlock(&s_voice_lock);
    return v;
}

/* ---- text ----------------------------------------------------------------------------- */

/* Latin-1 letters U+00C0..U+00FF without their accents ('*': no letter). */
static const char s_latin1[] = "AAAAAAACEEEEIIIIDNOOOOO*OUUUUYTsaaaaaaaceeeeiiiidnooooo*ouuuuyty";

static void s_put(char *out, size_t *n, const char *s)
{
    size_t len = strlen(s);
    memcpy(out + *n, s, len);
    *n += len;
}

char *engine_flite_text(const char *text)
{
    size_t len = strlen(text);
    char *out = malloc(len + 1);         /* no replacement is longer than what it replaces */
    if (!out) return NULL;
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c < 0x80) {
            out[n++] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
            i++;
            continue;
        }
        /* Decode one UTF-8 sequence (invalid bytes count as one). */
        size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        unsigned cp = k == 1 ? 0 : c & (0x3F >> (k - 1));
        size_t j = 1;
        for (; j < k && i + j < len && (s[i + j] & 0xC0) == 0x80; j++) cp = cp << 6 | (s[i + j] & 0x3F);
        if (j < k) k = j, cp = 0;
        i += k;
        if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC) out[n++] = '\'';
        else if (cp == 0x201C || cp == 0x201D) out[n++] = '"';
        else if (cp == 0x2013 || cp == 0x2014) s_put(out, &n, ", ");
        else if (cp == 0x2026) s_put(out, &n, "...");
        else if (cp >= 0xC0 && cp <= 0xFF && s_latin1[cp - 0xC0] != '*') out[n++] = s_latin1[cp - 0xC0];
        else out[n++] = ' ';
    }
    out[n] = '\0';
    return out;
}

/* ---- results (worker -> loop) --------------------------------------------------------- */

/* Under the lock. Returns false when the job was cancelled. */
static bool s_post_locked(engine_flite_t *e, s_job_t *job, s_result_t *r)
{
    if (job->cancelled) return false;
    r->job = job->id;
    if (e->res_tail) e->res_tail->next = r;
    else e->res_head = r;
    e->res_tail = r;
    if (!e->signalled) {
        e->signalled = true;
        char b = 1;
        /* The pipe is never full: one byte at a time, drained before the
         * flag is cleared. */
        if (write(e->pipe[1], &b, 1) != 1) log_error_errno(errno, "flite: wake-up pipe: %m");
    }
    return true;
}

static void s_result_free(s_result_t *r)
{
    free(r->samples);
    free(r->error);
    free(r);
}

static bool s_post_audio(engine_flite_t *e, s_job_t *job, const int16_t *samples, size_t n)
{
    s_result_t *r = calloc(1, sizeof *r);
    if (r) r->samples = malloc(n * sizeof *samples);
    if (!r || !r->samples) {
        free(r);
        return true;                   /* a chunk lost to OOM; the job goes on */
    }
    memcpy(r->samples, samples, n * sizeof *samples);
    r->frames = n;
    pthread_mutex_lock(&e->lock);
    bool ok = s_post_locked(e, job, r);
    pthread_mutex_unlock(&e->lock);
    if (!ok) s_result_free(r);
    return ok;
}

/* ---- synthesis (worker threads) ------------------------------------------------------- */

typedef struct {
    engine_flite_t *e;
    s_job_t *job;
    tts_chunker_t *chunker;
    size_t streamed;               /* samples flite handed over */
    bool stop;
} s_run_t;

static void s_flush(s_run_t *r, bool all)
{
    const int16_t *p;
    size_t n;
    while (!r->stop && (n = tts_chunker_take(r->chunker, &p, all)) > 0)
        if (!s_post_audio(r->e, r->job, p, n)) r->stop = true;
}

static void s_feed(s_run_t *r, const int16_t *samples, size_t n)
{
    while (n > 0 && !r->stop) {
        size_t room = r->e->chunk_frames - tts_chunker_frames(r->chunker) % r->e->chunk_frames;
        size_t k = n < room ? n : room;
        tts_chunker_put(r->chunker, samples, k);
        s_flush(r, false);
        samples += k;
        n -= k;
    }
}

/* flite's audio streaming callback: a piece of the waveform is ready. */
static int s_asc(const cst_wave *w, int start, int size, int last, cst_audio_streaming_info *asi)
{
    (void)last;
    s_run_t *r = asi->userdata;
    if (start >= 0 && size > 0 && start + size <= w->num_samples) {
        s_feed(r, w->samples + start, (size_t)size);
        r->streamed = (size_t)(start + size);
    }
    if (!r->stop) {
        pthread_mutex_lock(&r->e->lock);
        r->stop = r->job->cancelled || r->e->stopping;
        pthread_mutex_unlock(&r->e->lock);
    }
    return r->stop ? CST_AUDIO_STREAM_STOP : CST_AUDIO_STREAM_CONT;
}

/* Synthesises one job; returns NULL or why it failed. */
static const char *s_synth(s_run_t *r)
{
    cst_utterance *u = new_utterance();
    utt_set_input_text(u, r->job->text);
    utt_init(u, r->e->voice);
    /* On the utterance, not the voice: the voice is shared by the workers. */
    cst_audio_streaming_info *asi = new_audio_streaming_info();
    asi->asc = s_asc;
    asi->userdata = r;
    feat_set(u->features, "streaming_info", audio_streaming_info_val(asi));
    cst_utterance *done = utt_synth(u);
    if (!done) {
        delete_utterance(u);
        return r->stop ? NULL : "flite could not synthesise the text";
    }
    /* A voice whose waveform synthesis does not stream: the rest at once. */
    cst_wave *w = utt_wave(done);
    if (!r->stop && w && w->num_channels == 1 && (size_t)w->num_samples > r->streamed)
        s_feed(r, w->samples + r->streamed, (size_t)w->num_samples - r->streamed);
    s_flush(r, true);
    delete_utterance(done);
    return NULL;
}

static void s_job_free(s_job_t *j)
{
    free(j->text);
    free(j);
}

static void s_unlink_running(engine_flite_t *e, s_job_t *job)
{
    for (s_job_t **pp = &e->running; *pp; pp = &(*pp)->next)
        if (*pp == job) {
            *pp = job->next;
            break;
        }
}

static void *s_worker(void *arg)
{
    engine_flite_t *e = arg;
    tts_chunker_t *chunker = tts_chunker_new(e->chunk_frames, e->chunk_frames * 2);
    for (;;) {
        pthread_mutex_lock(&e->lock);
        while (!e->stopping && !e->todo_head) pthread_cond_wait(&e->wake, &e->lock);
        if (e->stopping) {
            pthread_mutex_unlock(&e->lock);
            break;
        }
        s_job_t *job = e->todo_head;
        e->todo_head = job->next;
        if (!e->todo_head) e->todo_tail = NULL;
        job->next = e->running;
        e->running = job;
        pthread_mutex_unlock(&e->lock);

        const char *error = "out of memory";
        if (chunker) {
            tts_chunker_reset(chunker);
            s_run_t r = { .e = e, .job = job, .chunker = chunker };
            error = s_synth(&r);
        }
        s_result_t *end = calloc(1, sizeof *end);
        if (end && error) end->error = strdup(error);
        pthread_mutex_lock(&e->lock);
        s_unlink_running(e, job);
        if (end && !s_post_locked(e, job, end)) s_result_free(end);
        pthread_mutex_unlock(&e->lock);
        s_job_free(job);
    }
    tts_chunker_destroy(&chunker);
    return NULL;
}

/* ---- the engine (loop thread) --------------------------------------------------------- */

static int s_start(void *impl, uint64_t id, const char *label, const char *text)
{
    (void)label;                       /* failures are logged by the queue, which names the session */
    engine_flite_t *e = impl;
    s_job_t *job = calloc(1, sizeof *job);
    if (!job) return -ENOMEM;
    job->id = id;
    job->text = engine_flite_text(text);
    if (!job->text) {
        s_job_free(job);
        return -ENOMEM;
    }
    pthread_mutex_lock(&e->lock);
    if (e->todo_tail) e->todo_tail->next = job;
    else e->todo_head = job;
    e->todo_tail = job;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    return 0;
}

static void s_cancel(void *impl, uint64_t id)
{
    engine_flite_t *e = impl;
    pthread_mutex_lock(&e->lock);
    s_job_t *prev = NULL;
    for (s_job_t *j = e->todo_head; j; prev = j, j = j->next)
        if (j->id == id) {
            if (prev) prev->next = j->next;
            else e->todo_head = j->next;
            if (e->todo_tail == j) e->todo_tail = prev;
            s_job_free(j);
            break;
        }
    for (s_job_t *j = e->running; j; j = j->next)
        if (j->id == id) j->cancelled = true;
    /* Withdraw what it already posted. */
    s_result_t **pp = &e->res_head;
    e->res_tail = NULL;
    while (*pp) {
        s_result_t *r = *pp;
        if (r->job == id) {
            *pp = r->next;
            s_result_free(r);
        } else {
            e->res_tail = r;
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&e->lock);
}

size_t engine_flite_dispatch(engine_flite_t *e)
{
    char buf[64];
    size_t n = 0;
    for (;;) {
        /* One at a time, the lock released: a callback may cancel a job,
         * whose results must then not be delivered. */
        pthread_mutex_lock(&e->lock);
        s_result_t *r = e->res_head;
        if (r) {
            e->res_head = r->next;
            if (!e->res_head) e->res_tail = NULL;
        } else if (e->signalled) {
            while (read(e->pipe[0], buf, sizeof buf) > 0) {}
            e->signalled = false;
        }
        pthread_mutex_unlock(&e->lock);
        if (!r) break;
        if (r->samples) e->sink.audio(e->sink.owner, r->job, r->samples, r->frames);
        else e->sink.done(e->sink.owner, r->job, r->error);
        s_result_free(r);
        n++;
    }
    return n;
}

int engine_flite_fd(const engine_flite_t *e)
{
    return e->pipe[0];
}

tts_engine_t engine_flite_engine(engine_flite_t *e)
{
    return (tts_engine_t){ .name = "flite", .rate = e->rate, .capacity = e->nworkers, .start = s_start,
                           .cancel = s_cancel, .impl = e };
}

/* The voice's rate, from a word: voices do not publish it otherwise. */
static uint32_t s_voice_rate(cst_voice *v)
{
    cst_wave *w = flite_text_to_wave("Hello.", v);
    uint32_t rate = w && w->num_samples > 0 && w->num_channels == 1 ? (uint32_t)w->sample_rate : 0;
    if (w) delete_wave(w);
    return rate;
}

engine_flite_t *engine_flite_new(const engine_flite_config_t *cfg, const tts_engine_sink_t *sink, char *err,
                                 size_t errlen)
{
    err[0] = '\0';
    engine_flite_t *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->pipe[0] = e->pipe[1] = -1;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    e->sink = *sink;
    e->voice = s_voice_open(cfg->voice ? cfg->voice : "slt", err, errlen);
    if (!e->voice) goto fail;
    e->rate = s_voice_rate(e->voice);
    if (e->rate < 8000 || e->rate > 48000) {
        snprintf(err, errlen, "flite voice %s: no usable audio", cfg->voice ? cfg->voice : "slt");
        goto fail;
    }
    e->chunk_frames = (size_t)e->rate * (cfg->chunk_ms ? cfg->chunk_ms : 100) / 1000;
    if (e->chunk_frames == 0) e->chunk_frames = 1;
    if (pipe2(e->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    e->nworkers = cfg->workers ? cfg->workers : 1;
    e->workers = calloc(e->nworkers, sizeof *e->workers);
    if (!e->workers) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < e->nworkers; i++) {
        e->workers[i].e = e;
        int rc = pthread_create(&e->workers[i].thread, NULL, s_worker, e);
        if (rc != 0) {
            snprintf(err, errlen, "pthread_create: %s", strerror(rc));
            goto fail;
        }
        e->workers[i].started = true;
    }
    return e;
fail:
    engine_flite_destroy(&e);
    return NULL;
}

void engine_flite_destroy(engine_flite_t **self_p)
{
    if (!self_p || !*self_p) return;
    engine_flite_t *e = *self_p;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;                /* running jobs stop at their next chunk */
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    for (size_t i = 0; e->workers && i < e->nworkers; i++)
        if (e->workers[i].started) pthread_join(e->workers[i].thread, NULL);
    free(e->workers);
    while (e->todo_head) {
        s_job_t *j = e->todo_head;
        e->todo_head = j->next;
        s_job_free(j);
    }
    while (e->res_head) {
        s_result_t *r = e->res_head;
        e->res_head = r->next;
        s_result_free(r);
    }
    if (e->pipe[0] >= 0) close(e->pipe[0]);
    if (e->pipe[1] >= 0) close(e->pipe[1]);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
    *self_p = NULL;
}
