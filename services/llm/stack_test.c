/* stack_test — the real voxmesh-llm daemons on buses of our own, against
 * the fake OpenAI-compatible server (tests/fake-providers/openai.mjs, run
 * with node) and the shipped rules file:
 *   rules:  hello greets, sentences in order, a long story, captures, a bad
 *           rules file refused naming file and line;
 *   openai: a streamed reply (Bearer key sent, never logged), the history
 *           sent back, 429 then success, 500 / malformed JSON / a cut
 *           connection -> the apology and an error, a slow first token and
 *           an endless stream cut by their deadlines while another session
 *           answers at once, a barge-in cancelling the transfer, tts.spoken
 *           in the history, a new transcript cutting the reply, a tool call
 *           round trip through the webhook, metrics, a clean SIGTERM.
 *
 * `stack_test --say PUB SUB SESSION TURN TEXT` is a tiny injector for
 * tests/llm.sh: it publishes one stt.final and waits for its llm.done
 * (republishing until the daemon answers: it ignores a repeated turn). */
#include "bus.h"
#include "bus_proxy.h"
#include "json.h"
#include "log.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define API_KEY "sk-test-SECRET-0123456789"

/* ---- events received ----------------------------------------------------------------------- */

typedef struct {
    char topic[EVENT_TOPIC_MAX], session[64], text[512], reason[32], detail[256];
    uint64_t turn;
    uint32_t index, sentences;
    int64_t at_us;             /* monotonic, when received */
} s_ev_t;

#define MAX_EVENTS 8192
static s_ev_t s_evs[MAX_EVENTS];
static int s_nevs;

static void s_store(bus_msg_t *m)
{
    if (s_nevs == MAX_EVENTS) return;
    event_t *ev = m->ev;
    s_ev_t *e = &s_evs[s_nevs];
    memset(e, 0, sizeof *e);
    snprintf(e->topic, sizeof e->topic, "%s", m->topic);
    snprintf(e->session, sizeof e->session, "%s", ev->session_id ? ev->session_id : "");
    e->at_us = time_mono_us();
    const Voxmesh__LlmText *t = ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA ? ev->llm_delta
                              : ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE ? ev->llm_sentence : NULL;
    if (t) {
        snprintf(e->text, sizeof e->text, "%s", t->text);
        e->turn = t->turn_id;
        e->index = t->index;
    } else if (ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE) {
        snprintf(e->reason, sizeof e->reason, "%s", ev->llm_done->reason);
        snprintf(e->detail, sizeof e->detail, "%s", ev->llm_done->detail);
        e->turn = ev->llm_done->turn_id;
        e->sentences = ev->llm_done->sentences;
    } else {
        return;
    }
    s_nevs++;
}

static void s_pump(bus_t *sub, int ms)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    while (time_mono_us() < end) {
        bus_msg_t *m = bus_recv(sub, 20);
        if (m) s_store(m);
        bus_msg_destroy(&m);
    }
}

static const s_ev_t *s_find_done(const char *session, uint64_t turn)
{
    for (int i = 0; i < s_nevs; i++)
        if (!strcmp(s_evs[i].topic, TOPIC_LLM_DONE) && !strcmp(s_evs[i].session, session) && s_evs[i].turn == turn)
            return &s_evs[i];
    return NULL;
}

/* Waits (pumping) for the llm.done of a turn. */
static const s_ev_t *s_wait_done(bus_t *sub, const char *session, uint64_t turn, int ms)
{
    int64_t end = time_mono_us() + (int64_t)ms * 1000;
    const s_ev_t *d;
    while (!(d = s_find_done(session, turn)) && time_mono_us() < end) s_pump(sub, 20);
    return d;
}

static int s_count(const char *topic, const char *session, uint64_t turn)
{
    int n = 0;
    for (int i = 0; i < s_nevs; i++)
        if (!strcmp(s_evs[i].topic, topic) && !strcmp(s_evs[i].session, session) && s_evs[i].turn == turn) n++;
    return n;
}

/* The turn's sentences joined with '|'; *ordered false if an index is off. */
static const char *s_sentences(const char *session, uint64_t turn, bool *ordered)
{
    static char out[16384];
    out[0] = 0;
    uint32_t next = 0;
    if (ordered) *ordered = true;
    for (int i = 0; i < s_nevs; i++) {
        const s_ev_t *e = &s_evs[i];
        if (strcmp(e->topic, TOPIC_LLM_SENTENCE) || strcmp(e->session, session) || e->turn != turn) continue;
        if (ordered && e->index != next) *ordered = false;
        next++;
        if (*out) strncat(out, "|", sizeof out - strlen(out) - 1);
        strncat(out, e->text, sizeof out - strlen(out) - 1);
    }
    return out;
}

/* ---- publishing ---------------------------------------------------------------------------------- */

static void s_final(bus_t *pub, const char *session, uint64_t turn, const char *text)
{
    Voxmesh__Transcript t = VOXMESH__TRANSCRIPT__INIT;
    t.utterance_id = turn;
    t.text = (char *)text;
    t.confidence = 0.9f;
    t.worker = "stack_test";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = time_now_us();
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL;
    ev.stt_final = &t;
    bus_publish(pub, TOPIC_STT_FINAL, &ev);
}

static void s_interrupt(bus_t *pub, const char *session)
{
    Voxmesh__TurnInterrupt ti = VOXMESH__TURN_INTERRUPT__INIT;
    ti.reason = "barge-in";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TURN_INTERRUPT;
    ev.turn_interrupt = &ti;
    bus_publish(pub, TOPIC_TURN_INTERRUPT, &ev);
}

static void s_spoken(bus_t *pub, const char *session, uint64_t turn, const char *text)
{
    Voxmesh__LlmText t = VOXMESH__LLM_TEXT__INIT;
    t.turn_id = turn;
    t.text = (char *)text;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN;
    ev.tts_spoken = &t;
    bus_publish(pub, TOPIC_TTS_SPOKEN, &ev);
}

static void s_end(bus_t *pub, const char *session)
{
    Voxmesh__SessionEnded e = VOXMESH__SESSION_ENDED__INIT;
    e.reason = "test";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED;
    ev.session_ended = &e;
    bus_publish(pub, TOPIC_SESSION, &ev);
}

/* ---- processes ---------------------------------------------------------------------------------- */

static char s_top[PATH_MAX], s_dir[PATH_MAX];

static char *s_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

/* The repository's top: the current directory when it has the fake
 * server, else three levels above this binary (build/tests/llm/). */
static int s_find_top(void)
{
    if (access("tests/fake-providers/openai.mjs", R_OK) == 0) return getcwd(s_top, sizeof s_top) ? 0 : -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    snprintf(s_top, sizeof s_top, "%s/../../..", dirname(exe));
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/tests/fake-providers/openai.mjs", s_top);
    return access(probe, R_OK);
}

static pid_t s_spawn(char *const argv[], const char *log, const char *key)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        if (key) setenv("LLM_TEST_KEY", key, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Starts the fake server; returns its port (or -1). */
static int s_start_fake(pid_t *pid)
{
    char script[PATH_MAX + 64], log[PATH_MAX + 32], out[PATH_MAX + 32];
    snprintf(script, sizeof script, "%s/tests/fake-providers/openai.mjs", s_top);
    snprintf(log, sizeof log, "%s/fake.log", s_dir);
    snprintf(out, sizeof out, "%s/fake.out", s_dir);
    *pid = fork();
    if (*pid == 0) {
        int fd = open(out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("node", "node", script, "--log", log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        char *text = s_read(out);
        int port = 0;
        char *l = strstr(text, "listening ");
        if (l) port = atoi(l + 10);
        free(text);
        if (port > 0) return port;
        if (waitpid(*pid, NULL, WNOHANG) != 0) return -1;
        usleep(10000);
    }
    return -1;
}

static bool s_wait_subscribed(bus_proxy_t *proxy)
{
    for (int i = 0; i < 1000 && bus_proxy_subscriptions(proxy, TOPIC_STT_FINAL) < 1; i++) usleep(10000);
    return bus_proxy_subscriptions(proxy, TOPIC_STT_FINAL) >= 1;
}

/* Lines of the fake's log that contain all of the given strings. */
static int s_fake_lines(const char *a, const char *b)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/fake.log", s_dir);
    char *text = s_read(path);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, a) && (!b || strstr(line, b))) n++;
    free(text);
    return n;
}

/* The last chat request of the fake's log whose last user message holds
 * `needle`, parsed. */
static json_t *s_fake_request(const char *needle)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/fake.log", s_dir);
    char *text = s_read(path);
    json_t *found = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, "\"messages\"") || !strstr(line, needle)) continue;
        json_destroy(&found);
        found = json_parse(line, strlen(line), NULL, 0);
    }
    free(text);
    return found;
}

static int s_stop(pid_t pid)
{
    int status = -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(10000);
    if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- the rules daemon --------------------------------------------------------------------------- */

static void s_rules_daemon(const char *bin)
{
    char front[96], back[96], pub[128], sub[128], rules[PATH_MAX + 64], log[PATH_MAX + 32];
    snprintf(front, sizeof front, "ipc://@llm-stack-%d-r.pub", getpid());
    snprintf(back, sizeof back, "ipc://@llm-stack-%d-r.sub", getpid());
    snprintf(pub, sizeof pub, "--bus-pub=%s", front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", back);
    snprintf(rules, sizeof rules, "--rules=%s/deploy/rules/agent.rules", s_top);
    snprintf(log, sizeof log, "%s/rules.log", s_dir);
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    bus_t *bpub = bus_new("stack-test", front, NULL, NULL);
    bus_t *bsub = bus_new("stack-test-sub", NULL, back, NULL);
    bus_subscribe(bsub, TOPIC_LLM);
    char *argv[] = { (char *)bin, pub, sub, "--provider=rules", rules, "--log-level=info", NULL };
    pid_t pid = s_spawn(argv, log, NULL);
    CHECK(s_wait_subscribed(proxy), "rules daemon subscribed to stt.final.");
    usleep(100000);   /* our own PUB connection to the proxy */

    s_final(bpub, "rules-1", 1, "Hello!");
    const s_ev_t *d = s_wait_done(bsub, "rules-1", 1, 5000);
    bool ordered;
    const char *s = s_sentences("rules-1", 1, &ordered);
    CHECK(d && !strcmp(d->reason, "complete") && ordered && (int)d->sentences == s_count(TOPIC_LLM_SENTENCE, "rules-1", 1),
          "rules: hello -> %u sentences in order, done complete", d ? d->sentences : 0);
    CHECK(!strncmp(s, "Hello!|", 7) && strstr(s, "voxmesh") && strstr(s, "not on a language model"),
          "rules: the greeting says what it is: %s", s);
    CHECK(s_count(TOPIC_LLM_DELTA, "rules-1", 1) > 10, "rules: streamed as deltas (%d)", s_count(TOPIC_LLM_DELTA, "rules-1", 1));

    s_final(bpub, "rules-1", 2, "Could you tell me a long story?");
    d = s_wait_done(bsub, "rules-1", 2, 5000);
    s = s_sentences("rules-1", 2, &ordered);
    CHECK(d && d->sentences >= 10 && ordered && strstr(s, "Once upon a time"), "rules: a long story of %u sentences, in order",
          d ? d->sentences : 0);
    s_final(bpub, "rules-2", 1, "My name is Alice.");
    d = s_wait_done(bsub, "rules-2", 1, 5000);
    CHECK(d && !strcmp(s_sentences("rules-2", 1, NULL), "Nice to meet you, Alice."), "rules: a capture: %s",
          s_sentences("rules-2", 1, NULL));
    CHECK(s_stop(pid) == 0, "rules daemon: SIGTERM, exit 0");

    /* A bad rules file: the daemon refuses to start, naming file and line. */
    char bad[PATH_MAX + 32], badopt[PATH_MAX + 48], badlog[PATH_MAX + 32];
    snprintf(bad, sizeof bad, "%s/bad.rules", s_dir);
    snprintf(badopt, sizeof badopt, "--rules=%s", bad);
    snprintf(badlog, sizeof badlog, "%s/bad.log", s_dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "hello -> hi\n* (who -> broken\n");
    fclose(f);
    char *argv2[] = { (char *)bin, pub, sub, "--provider=rules", badopt, NULL };
    pid = s_spawn(argv2, badlog, NULL);
    int status;
    waitpid(pid, &status, 0);
    char *text = s_read(badlog);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:2: bad capture", bad);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && strstr(text, want),
          "a bad rules file: exit %d, '%s'", WIFEXITED(status) ? WEXITSTATUS(status) : -1, strtok(text, "\n") ? text : "");
    free(text);
    bus_destroy(&bpub);
    bus_destroy(&bsub);
    bus_proxy_destroy(&proxy);
}

/* ---- the openai daemon --------------------------------------------------------------------------- */

static int s_metric(const char *metrics, const char *name)
{
    const char *p = metrics;
    size_t n = strlen(name);
    while ((p = strstr(p, name))) {
        if ((p == metrics || p[-1] == '\n') && p[n] == ' ') return atoi(p + n + 1);
        p += n;
    }
    return -1;
}

static void s_openai_daemon(const char *bin, int fake_port)
{
    char front[96], back[96], pub[128], sub[128], url[128], tools[PATH_MAX + 48], log[PATH_MAX + 32];
    snprintf(front, sizeof front, "ipc://@llm-stack-%d-o.pub", getpid());
    snprintf(back, sizeof back, "ipc://@llm-stack-%d-o.sub", getpid());
    snprintf(pub, sizeof pub, "--bus-pub=%s", front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", back);
    snprintf(url, sizeof url, "--base-url=http://127.0.0.1:%d/v1/", fake_port);
    snprintf(log, sizeof log, "%s/openai.log", s_dir);
    char tools_path[PATH_MAX + 32];
    snprintf(tools_path, sizeof tools_path, "%s/tools.json", s_dir);
    snprintf(tools, sizeof tools, "--tools=%s", tools_path);
    FILE *f = fopen(tools_path, "w");
    fprintf(f, "[{\"name\":\"get_weather\",\"description\":\"The weather in a city now\","
               "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
               "\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\"]},"
               "\"url\":\"http://127.0.0.1:%d/tool/weather\"}]\n", fake_port);
    fclose(f);
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    bus_t *bpub = bus_new("stack-test", front, NULL, NULL);
    bus_t *bsub = bus_new("stack-test-sub", NULL, back, NULL);
    bus_subscribe(bsub, TOPIC_LLM);
    char *argv[] = { (char *)bin, pub, sub, "--provider=openai", url, "--model=fake-model", "--api-key-env=LLM_TEST_KEY",
                     "--system-prompt=You are a test.", "--first-token-ms=1500", "--total-ms=4000", "--max-retries=2",
                     "--retry-backoff-ms=50", tools, "--tool-timeout-ms=2000", "--log-level=debug", "--metrics-port=0", NULL };
    pid_t pid = s_spawn(argv, log, API_KEY);
    CHECK(s_wait_subscribed(proxy), "openai daemon subscribed to stt.final.");
    usleep(100000);

    /* A normal streamed reply, then a second turn that carries the history. */
    s_final(bpub, "o-normal", 1, "What is the capital of France?");
    const s_ev_t *d = s_wait_done(bsub, "o-normal", 1, 5000);
    bool ordered;
    const char *s = s_sentences("o-normal", 1, &ordered);
    CHECK(d && !strcmp(d->reason, "complete") && ordered && d->sentences == 3,
          "openai: streamed reply complete, %u sentences in order", d ? d->sentences : 0);
    CHECK(!strcmp(s, "Hello from the fake model.|You said: What is the capital of France.|I have seen 2 messages."),
          "openai: the sentences: %s", s);
    json_t *req = s_fake_request("capital of France");
    const json_t *msgs = json_get(req, "messages");
    CHECK(req && !strcmp(json_str(json_get(req, "auth")), "Bearer " API_KEY), "the API key is sent as a Bearer token");
    CHECK(json_bool(json_get(req, "stream"), false) && !strcmp(json_str(json_get(req, "model")), "fake-model")
          && !strcmp(json_str(json_get(json_index(msgs, 0), "role")), "system")
          && !strcmp(json_str(json_get(json_index(msgs, 0), "content")), "You are a test.")
          && json_num(json_get(req, "tools"), 0) == 1, "the request: stream, model, system prompt, tools");
    json_destroy(&req);
    s_final(bpub, "o-normal", 2, "And Germany?");
    d = s_wait_done(bsub, "o-normal", 2, 5000);
    req = s_fake_request("And Germany");
    msgs = json_get(req, "messages");
    CHECK(d && strstr(s_sentences("o-normal", 2, NULL), "I have seen 4 messages.") && json_len(msgs) == 4
          && !strcmp(json_str(json_get(json_index(msgs, 2), "content")),
                     "Hello from the fake model. You said: What is the capital of France. I have seen 2 messages."),
          "the second turn carries the history (system, question, reply, question)");
    json_destroy(&req);

    /* Failures: retried 429, apologies for the rest. */
    s_final(bpub, "o-429", 1, "[429] hurry");
    s_final(bpub, "o-500", 1, "[500] fail");
    s_final(bpub, "o-malformed", 1, "[malformed] please");
    s_final(bpub, "o-disconnect", 1, "[disconnect] now");
    const s_ev_t *d429 = s_wait_done(bsub, "o-429", 1, 5000), *d500 = s_wait_done(bsub, "o-500", 1, 5000);
    const s_ev_t *dmal = s_wait_done(bsub, "o-malformed", 1, 5000), *ddis = s_wait_done(bsub, "o-disconnect", 1, 5000);
    CHECK(d429 && !strcmp(d429->reason, "complete") && !strcmp(s_sentences("o-429", 1, NULL), "Success after the rate limit.")
          && s_fake_lines("[429] hurry", "\"behaviour\"") == 2, "429 then success: retried once, answered");
    const char *apology = "Sorry, I could not reach my language model. Please try again.";
    CHECK(d500 && !strcmp(d500->reason, "error") && strstr(d500->detail, "HTTP 500") && !strcmp(s_sentences("o-500", 1, NULL), apology)
          && s_fake_lines("[500] fail", "\"behaviour\"") == 3, "500: 2 retries, then the apology and error '%s'", d500 ? d500->detail : "");
    CHECK(dmal && !strcmp(dmal->reason, "error") && strstr(dmal->detail, "malformed JSON")
          && !strcmp(s_sentences("o-malformed", 1, NULL), "Fine so far.|Sorry, I could not reach my language model. Please try again."),
          "malformed JSON: what came before, the apology, error '%s'", dmal ? dmal->detail : "");
    CHECK(ddis && !strcmp(ddis->reason, "error") && strstr(ddis->detail, "mid-body")
          && !strcmp(s_sentences("o-disconnect", 1, NULL), "Part one is here.|Sorry, I could not reach my language model. Please try again."),
          "a cut connection: error '%s'", ddis ? ddis->detail : "");

    /* Stuck providers (slow first token, endless stream) and a session
     * that must not wait for them. */
    int64_t t0 = time_mono_us();
    s_final(bpub, "o-slow", 1, "[slow] take your time");
    s_final(bpub, "o-endless", 1, "[endless] go on");
    s_pump(bsub, 300);
    s_final(bpub, "o-fine", 1, "Are you there?");
    const s_ev_t *dfine = s_wait_done(bsub, "o-fine", 1, 5000);
    const s_ev_t *dslow = s_wait_done(bsub, "o-slow", 1, 6000);
    const s_ev_t *dend = s_wait_done(bsub, "o-endless", 1, 8000);
    CHECK(dslow && !strcmp(dslow->reason, "error") && strstr(dslow->detail, "no first token within 1500 ms")
          && !strcmp(s_sentences("o-slow", 1, NULL), apology),
          "slow first token: '%s' after %lld ms", dslow ? dslow->detail : "", dslow ? (long long)(dslow->at_us - t0) / 1000 : -1);
    CHECK(dend && !strcmp(dend->reason, "error") && strstr(dend->detail, "not complete within 4000 ms")
          && strstr(s_sentences("o-endless", 1, NULL), "Tick 3."),
          "endless stream cut by the total deadline: '%s' after %lld ms, %u sentences", dend ? dend->detail : "",
          dend ? (long long)(dend->at_us - t0) / 1000 : -1, dend ? dend->sentences : 0);
    CHECK(dfine && dslow && dend && !strcmp(dfine->reason, "complete") && dfine->at_us < dslow->at_us && dfine->at_us < dend->at_us,
          "another session answered while two were stuck: done %lld ms after its transcript",
          dfine ? (long long)(dfine->at_us - t0) / 1000 - 300 : -1);

    /* A barge-in mid-reply. */
    s_final(bpub, "o-story", 1, "[story] tell me");
    int64_t end = time_mono_us() + 5000000;
    while (s_count(TOPIC_LLM_SENTENCE, "o-story", 1) < 2 && time_mono_us() < end) s_pump(bsub, 10);
    int64_t cut = time_mono_us();
    s_interrupt(bpub, "o-story");
    d = s_wait_done(bsub, "o-story", 1, 3000);
    int before = s_count(TOPIC_LLM_SENTENCE, "o-story", 1) + s_count(TOPIC_LLM_DELTA, "o-story", 1);
    s_pump(bsub, 400);
    int after = s_count(TOPIC_LLM_SENTENCE, "o-story", 1) + s_count(TOPIC_LLM_DELTA, "o-story", 1);
    CHECK(d && !strcmp(d->reason, "interrupted") && d->sentences >= 2 && before == after,
          "barge-in: done interrupted %.1f ms after the interrupt was sent, nothing after it (%u sentences)",
          d ? (d->at_us - cut) / 1000.0 : -1, d ? d->sentences : 0);
    for (int i = 0; i < 100 && !s_fake_lines("\"aborted\"", "[story] tell me"); i++) usleep(10000);
    CHECK(s_fake_lines("\"aborted\"", "[story] tell me") == 1, "the provider saw its stream closed");
    s_spoken(bpub, "o-story", 1, "This is sentence number 1 of the");
    s_pump(bsub, 100);
    s_final(bpub, "o-story", 2, "What was that?");
    d = s_wait_done(bsub, "o-story", 2, 5000);
    req = s_fake_request("What was that");
    msgs = json_get(req, "messages");
    CHECK(d && json_len(msgs) == 4
          && !strcmp(json_str(json_get(json_index(msgs, 2), "content")), "This is sentence number 1 of the\xE2\x80\xA6"),
          "the history has what the caller heard, marked cut: %s", json_str(json_get(json_index(msgs, 2), "content")));
    json_destroy(&req);

    /* A new transcript while a reply streams. */
    s_final(bpub, "o-again", 1, "[story] first");
    end = time_mono_us() + 5000000;
    while (s_count(TOPIC_LLM_SENTENCE, "o-again", 1) < 1 && time_mono_us() < end) s_pump(bsub, 10);
    s_final(bpub, "o-again", 2, "Never mind.");
    const s_ev_t *d1 = s_wait_done(bsub, "o-again", 1, 3000), *d2 = s_wait_done(bsub, "o-again", 2, 5000);
    CHECK(d1 && d2 && !strcmp(d1->reason, "interrupted") && !strcmp(d2->reason, "complete") && d1 < d2,
          "a new transcript: the old reply interrupted, the new one complete");

    /* A tool call round trip. */
    s_final(bpub, "o-tool", 1, "What is the weather in Paris? [tool]");
    d = s_wait_done(bsub, "o-tool", 1, 6000);
    s = s_sentences("o-tool", 1, NULL);
    CHECK(d && !strcmp(d->reason, "complete")
          && !strcmp(s, "The weather tool says: {\"temp_c\":21,\"sky\":\"sunny\"}.|Enjoy your day."),
          "tool call: the reply continues with the tool's result: %s", s);
    CHECK(s_fake_lines("\"event\":\"tool\"", "\"body\":\"{\\\"city\\\": \\\"Paris\\\", \\\"unit\\\": \\\"celsius\\\"}\"") == 1
          && s_fake_lines("\"event\":\"tool\"", "application/json") == 1,
          "the webhook got exactly the streamed arguments, as JSON");
    req = s_fake_request("\"role\":\"tool\"");
    msgs = json_get(req, "messages");
    const json_t *call = json_index(json_get(json_index(msgs, 2), "tool_calls"), 0);
    CHECK(json_len(msgs) == 4 && !strcmp(json_str(json_get(call, "id")), "call_fake_1")
          && !strcmp(json_str(json_get(json_get(call, "function"), "arguments")), "{\"city\": \"Paris\", \"unit\": \"celsius\"}")
          && !strcmp(json_str(json_get(json_index(msgs, 3), "tool_call_id")), "call_fake_1")
          && !strcmp(json_str(json_get(json_index(msgs, 3), "content")), "{\"temp_c\":21,\"sky\":\"sunny\"}"),
          "the continued request holds the assistant's tool call and the tool's result");
    json_destroy(&req);

    /* Metrics, then the sessions end. */
    char *text = s_read(log);
    char *m = strstr(text, "metrics on http://127.0.0.1:");
    int mport = m ? atoi(m + strlen("metrics on http://127.0.0.1:")) : 0;
    free(text);
    const char *sessions[] = { "o-normal", "o-429", "o-500", "o-malformed", "o-disconnect", "o-slow", "o-endless", "o-fine",
                               "o-story", "o-again", "o-tool" };
    for (size_t i = 0; i < sizeof sessions / sizeof *sessions; i++) s_end(bpub, sessions[i]);
    s_pump(bsub, 200);
    char cmd[PATH_MAX + 96], mpath[PATH_MAX + 32];
    snprintf(mpath, sizeof mpath, "%s/metrics.txt", s_dir);
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics > %s", mport, mpath);
    int crc = mport ? system(cmd) : -1;
    text = s_read(mpath);
    CHECK(crc == 0 && s_metric(text, "voxmesh_llm_retries_total") == 3 && s_metric(text, "voxmesh_llm_errors_total") == 5
          && s_metric(text, "voxmesh_llm_interrupts_total") == 2 && s_metric(text, "voxmesh_llm_tool_calls_total") == 1
          && s_metric(text, "voxmesh_llm_turns_total") == 14 && s_metric(text, "voxmesh_llm_first_token_seconds_count") >= 9
          && s_metric(text, "voxmesh_llm_first_sentence_from_origin_seconds_count") >= 9,
          "metrics: retries %d, errors %d, interrupts %d, tool calls %d, turns %d, first tokens %d",
          s_metric(text, "voxmesh_llm_retries_total"), s_metric(text, "voxmesh_llm_errors_total"),
          s_metric(text, "voxmesh_llm_interrupts_total"), s_metric(text, "voxmesh_llm_tool_calls_total"),
          s_metric(text, "voxmesh_llm_turns_total"), s_metric(text, "voxmesh_llm_first_token_seconds_count"));
    CHECK(s_metric(text, "voxmesh_llm_sessions") == 0, "every session freed at its end");
    free(text);

    CHECK(s_stop(pid) == 0, "openai daemon: SIGTERM, exit 0");
    text = s_read(log);
    CHECK(strstr(text, "POST http://127.0.0.1:") && !strstr(text, API_KEY) && !strstr(text, "SECRET"),
          "the API key is nowhere in the daemon's debug log (%zu bytes)", strlen(text));
    free(text);
    bus_destroy(&bpub);
    bus_destroy(&bsub);
    bus_proxy_destroy(&proxy);
}

/* ---- the injector for tests/llm.sh ----------------------------------------------------------------- */

static int s_say(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: stack_test --say PUB SUB SESSION TURN TEXT\n");
        return 2;
    }
    log_init("stack_test", LOG_LEVEL_WARN, false);
    bus_t *pub = bus_new("llm-say", argv[2], NULL, NULL);
    bus_t *sub = bus_new("llm-say-sub", NULL, argv[3], NULL);
    bus_subscribe(sub, TOPIC_LLM_DONE);
    uint64_t turn = strtoull(argv[5], NULL, 10);
    const s_ev_t *d = NULL;
    for (int i = 0; i < 50 && !d; i++) {
        s_final(pub, argv[4], turn, argv[6]);
        d = s_wait_done(sub, argv[4], turn, 300);
    }
    if (d) printf("%s %s\n", d->reason, d->detail);
    bus_destroy(&pub);
    bus_destroy(&sub);
    return d ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--say")) return s_say(argc, argv);
    log_init("stack_test", LOG_LEVEL_ERROR, false);
    signal(SIGPIPE, SIG_IGN);
    if (system("node --version > /dev/null 2>&1") != 0) {
        SKIP("node is not installed: the fake provider cannot run");
        return TEST_DONE();
    }
    if (s_find_top() < 0) {
        CHECK(false, "tests/fake-providers/openai.mjs not found (run from the repository's top)");
        return TEST_DONE();
    }
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char bin[PATH_MAX + 64];
    if (build[0] == '/') snprintf(bin, sizeof bin, "%s/bin/voxmesh-llm", build);
    else snprintf(bin, sizeof bin, "%s/%s/bin/voxmesh-llm", s_top, build);
    snprintf(s_dir, sizeof s_dir, "/tmp/llm-stack-test-%d", getpid());
    mkdir(s_dir, 0700);
    pid_t fake;
    int port = s_start_fake(&fake);
    CHECK(port > 0, "the fake provider listens on 127.0.0.1:%d", port);
    if (port > 0) {
        s_rules_daemon(bin);
        s_openai_daemon(bin, port);
    }
    s_stop(fake);
    if (!getenv("LLM_STACK_TEST_KEEP")) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
        if (system(cmd) != 0) printf("     (could not remove %s)\n", s_dir);
    } else {
        printf("     logs kept in %s\n", s_dir);
    }
    return TEST_DONE();
}
