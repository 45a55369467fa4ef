/* provider_test — voxmesh-tts with --provider=openai and =elevenlabs
 * against a fake server (tests/fake-providers/tts.mjs, Node, 127.0.0.1)
 * that checks each request (path, JSON body, Bearer / xi-api-key) and
 * answers in the provider's wire format, streamed in odd-sized pieces.
 *
 * For each provider, at once on several sessions: a normal reply (the
 * samples arrive exactly, reassembled across odd splits), a slow first
 * byte (another session's request is answered meanwhile), no answer (the
 * first-byte deadline), a mid-stream disconnect, a 500 (whose echo of the
 * key is masked), an endless stream (cut), and an interrupt during a
 * stream (the transfer is closed, nothing of the turn published after the
 * cut), a 200 without audio. Failures are logged with the session id, counted and reported as
 * "degraded" health; the daemon lives on; the key never appears in its
 * debug log. Then a wrong key: the server refuses it, the daemon says so. */
#include "daemon_testlib.h"
#include "json.h"
#include "test.h"

#define MAX_EV 20000
#define SECRET "sk-test-3f9ZqL7wX2mN8pR4"

static dt_event_t s_ev[MAX_EV];
static char s_fake_log[128], s_fake_out[128];
static pid_t s_fake = -1;

/* ---- the fake server ------------------------------------------------------------------ */

static int s_fake_start(void)
{
    snprintf(s_fake_log, sizeof s_fake_log, "/tmp/tts-fake-%d.jsonl", getpid());
    snprintf(s_fake_out, sizeof s_fake_out, "/tmp/tts-fake-%d.out", getpid());
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
        execlp("node", "node", "tests/fake-providers/tts.mjs", "--key", SECRET, "--log", s_fake_log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(s_fake_out, "r");
        char line[128] = "";
        if (f) {
            if (!fgets(line, sizeof line, f)) line[0] = '\0';
            fclose(f);
        }
        if (!strncmp(line, "listening ", 10)) return atoi(line + 10);
        if (waitpid(s_fake, NULL, WNOHANG) == s_fake) return 0;
        usleep(10000);
    }
    return 0;
}

/* Lines of the fake's log with kind `kind` whose text contains `needle`
 * (NULL: any); *bad counts request lines with ok false. */
static int s_fake_count(const char *kind, const char *needle, const char *provider, int *bad, char *why, size_t whylen)
{
    FILE *f = fopen(s_fake_log, "r");
    if (!f) return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_parse(line, strlen(line), NULL, 0);
        const char *k = json_str(json_get(j, "kind")), *text = json_str(json_get(j, "text"));
        const char *prov = json_str(json_get(j, "provider"));
        if (k && !strcmp(k, kind) && (!needle || (text && strstr(text, needle)))
            && (!provider || (prov && !strcmp(prov, provider)))) {
            n++;
            if (bad && !json_bool(json_get(j, "ok"), true)) {
                (*bad)++;
                if (why) snprintf(why, whylen, "%s", json_str(json_get(j, "why")) ? json_str(json_get(j, "why")) : "");
            }
        }
        json_destroy(&j);
    }
    fclose(f);
    return n;
}

/* ---- what the daemon sends ----------------------------------------------------------- */

#define NSESS 9
static const char *const s_names[NSESS] = { "ok", "slow", "fast", "hang", "drop", "err", "endless", "cut", "empty" };
static const char *const s_texts[NSESS] = {
    "Hello from the fake provider, in odd pieces.",
    "[slow] A slow first byte.",
    "Quick answer.",
    "[hang] Nobody answers.",
    "[drop] The line breaks in the middle of this sentence.",
    "[500] The server fails.",
    "[endless] This goes on and on.",
    "[trickle] A reply that is cut.",
    "[empty] Nothing comes.",
};

typedef struct {
    char prefix[16];
    int16_t *pcm[NSESS];
    size_t n[NSESS], cap[NSESS];
    size_t pattern_errors[NSESS];
    int64_t first_us[NSESS];
} s_audio_t;

static int s_index(const s_audio_t *a, const char *session)
{
    size_t pl = strlen(a->prefix);
    if (strncmp(session, a->prefix, pl)) return -1;
    for (int i = 0; i < NSESS; i++)
        if (!strcmp(session + pl, s_names[i])) return i;
    return -1;
}

static void s_on_pcm(const char *session, uint64_t turn, const int16_t *x, size_t n, void *arg)
{
    (void)turn;
    s_audio_t *a = arg;
    int i = s_index(a, session);
    if (i < 0) return;
    if (!a->n[i]) a->first_us[i] = time_mono_us();
    for (size_t k = 0; k < n; k++) {
        size_t idx = a->n[i] + k;
        if (x[k] != (int16_t)((idx * 7919) % 30000 - 15000)) a->pattern_errors[i]++;
    }
    a->n[i] += n;
}

static void s_run(int port, const char *provider, uint32_t rate)
{
    dt_stack_t st = { 0 };
    dt_bus(&st, provider);
    char base[96];
    snprintf(base, sizeof base, "--base-url=http://127.0.0.1:%d%s", port, strcmp(provider, "openai") ? "" : "/v1");
    char prov[48];
    snprintf(prov, sizeof prov, "--provider=%s", provider);
    const char *args[] = { prov, base, "--api-key-env=TTS_TEST_KEY", "--first-byte-ms=1000", "--total-ms=8000",
                           "--max-audio-s=3", "--log-level=debug", NULL };
    bool up = dt_start(&st, provider, "TTS_TEST_KEY=" SECRET, args);
    CHECK(up, "%s: voxmesh-tts started", provider);
    if (!up) {
        dt_log_tail(&st);
        dt_destroy(&st);
        return;
    }
    s_audio_t a = { 0 };
    snprintf(a.prefix, sizeof a.prefix, "%s-", provider);
    char sid[NSESS][48];
    int64_t origin = time_now_us() - 300000;
    for (int i = 0; i < NSESS; i++) {
        snprintf(sid[i], sizeof sid[i], "%s%s", a.prefix, s_names[i]);
        dt_sentence(&st, sid[i], 1, 0, s_texts[i], origin);
        if (i == 1) usleep(100000);        /* the slow one's request is out first */
    }
    /* Interrupt the trickling stream once its audio flows. */
    size_t n = 0;
    int degraded = 0;
    int64_t end = time_mono_us() + 6000000;
    bool cut = false;
    while (time_mono_us() < end) {
        n = dt_collect_pcm(&st, s_ev, MAX_EV, n, 50, &degraded, s_on_pcm, &a);
        if (!cut && a.n[7] >= rate / 2) {
            dt_interrupt(&st, sid[7], time_now_us());
            cut = true;
        }
    }
    /* ok, slow, fast: complete and exact. */
    for (int i = 0; i < 3; i++) {
        size_t want = (size_t)llround(strlen(s_texts[i]) * 0.04 * rate);
        CHECK(a.n[i] == want && a.pattern_errors[i] == 0,
              "%s: %s: all %zu samples, exactly as sent in odd pieces (%zu, %zu wrong)", provider, s_names[i], want,
              a.n[i], a.pattern_errors[i]);
    }
    CHECK(a.first_us[2] && a.first_us[1] && a.first_us[2] < a.first_us[1],
          "%s: a slow first byte for one session does not hold up another (fast %.0f ms before slow)", provider,
          (a.first_us[1] - a.first_us[2]) / 1e3);
    uint32_t rate_seen = 0;
    for (size_t i = 0; i < n; i++)
        if (!s_ev[i].spoken && s_ev[i].frames) rate_seen = s_ev[i].rate;
    CHECK(rate_seen == rate, "%s: audio at %u Hz", provider, rate_seen);

    /* The failures: logged with the session id, nothing crashed. */
    char line[160];
    snprintf(line, sizeof line, "session %s: turn 1 sentence 0: %s synthesis failed: %s: timeout: no response",
             sid[3], provider, provider);
    CHECK(a.n[3] == 0 && dt_log_count(&st, line) == 1, "%s: no answer: the first-byte deadline, logged", provider);
    snprintf(line, sizeof line, "session %s: turn 1 sentence 0: %s synthesis failed: %s: connection closed", sid[4],
             provider, provider);
    size_t third = (size_t)(strlen(s_texts[4]) * 0.04 * rate) / 3;
    CHECK(dt_log_count(&st, line) == 1 && a.n[4] == third && a.pattern_errors[4] == 0,
          "%s: a mid-stream disconnect: what came is said (%zu of %zu samples), the cut is logged", provider, a.n[4],
          third);
    snprintf(line, sizeof line, "session %s: turn 1 sentence 0: %s synthesis failed: %s: HTTP 500", sid[5], provider,
             provider);
    CHECK(a.n[5] == 0 && dt_log_count(&st, line) == 1 && dt_log_count(&st, "internal error for key ***") == 1,
          "%s: a 500 is logged with the provider's message, the key in it masked", provider);
    snprintf(line, sizeof line, "session %s: turn 1 sentence 0: %s synthesis failed: more than 3 s of audio", sid[6],
             provider);
    CHECK(dt_log_count(&st, line) == 1 && a.n[6] <= 3 * rate + rate / 5 && a.n[6] >= 3 * rate,
          "%s: an endless stream is cut after 3 s of audio (%.2f s)", provider, (double)a.n[6] / rate);
    snprintf(line, sizeof line, "session %s: turn 1 sentence 0: %s synthesis failed: %s: HTTP 200 without audio",
             sid[8], provider, provider);
    CHECK(dt_log_count(&st, line) == 1, "%s: a 200 without audio is a failure too", provider);
    CHECK(dt_metric(&st, "voxmesh_tts_errors_total") == 5 && degraded >= 1,
          "%s: 5 errors counted, health said degraded (%d times)", provider, degraded);

    /* The interrupt during a stream. */
    const dt_event_t *sp = NULL;
    for (size_t i = 0; i < n; i++)
        if (s_ev[i].spoken && !strcmp(s_ev[i].session, sid[7])) sp = &s_ev[i];
    size_t after = 0;
    for (size_t i = 0; sp && i < n; i++)
        if (!s_ev[i].spoken && !strcmp(s_ev[i].session, sid[7]) && s_ev[i].sent_us > sp->sent_us) after++;
    CHECK(cut && sp && after == 0, "%s: interrupt mid-stream: tts.spoken. (\"%s\"), no audio after it", provider,
          sp ? sp->text : "");
    CHECK(s_fake_count("aborted", "[trickle]", NULL, NULL, NULL, 0) >= 1,
          "%s: and the HTTP transfer was closed at once (the server saw it go)", provider);
    int bad = 0;
    char why[128] = "";
    int reqs = s_fake_count("request", NULL, provider, &bad, why, sizeof why);
    CHECK(reqs == NSESS && bad == 0, "%s: the server found all %d requests right (JSON body, key header) %s", provider,
          reqs, why);
    CHECK(dt_log_count(&st, SECRET) == 0 && dt_log_count(&st, SECRET + 8) == 0,
          "%s: the API key is nowhere in the daemon's debug log", provider);
    CHECK(dt_stop(&st), "%s: alive to the end, clean exit on SIGTERM", provider);
    if (test_failures_) dt_log_tail(&st);
    dt_destroy(&st);

    /* A wrong key: refused by the server, said by the daemon. */
    dt_bus(&st, provider);
    up = dt_start(&st, provider, "TTS_TEST_KEY=sk-wrong-key", args);
    char wsid[48];
    snprintf(wsid, sizeof wsid, "%s-wrongkey", provider);
    dt_sentence(&st, wsid, 1, 0, "Hello?", time_now_us());
    n = dt_collect(&st, s_ev, MAX_EV, 0, 1500, NULL);
    snprintf(line, sizeof line, "session %s: turn 1 sentence 0: %s synthesis failed: %s: HTTP 401", wsid, provider,
             provider);
    bad = 0;
    s_fake_count("request", "Hello?", provider, &bad, why, sizeof why);
    CHECK(up && n == 0 && dt_log_count(&st, line) == 1 && bad == 1 && strstr(why, "bad"),
          "%s: a wrong key: the server refused it (%s), the daemon logged HTTP 401", provider, why);
    dt_destroy(&st);
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
    int port = s_fake_start();
    CHECK(port > 0, "the fake provider listens on 127.0.0.1:%d", port);
    if (port > 0) {
        s_run(port, "openai", 24000);
        s_run(port, "elevenlabs", 16000);
    }
    if (s_fake > 0) {
        kill(s_fake, SIGTERM);
        waitpid(s_fake, NULL, 0);
    }
    if (!test_failures_) {
        unlink(s_fake_log);
        unlink(s_fake_out);
    }
    curl_global_cleanup();
    return TEST_DONE();
}
