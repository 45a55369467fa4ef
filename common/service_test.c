/* service_test — the runtime: options from argv and a config file, usage
 * errors, --describe output (what `voxmesh check` reads), and a service
 * that runs, handles an event, and stops on SIGTERM. */
#include "service.h"
#include <zmq.h>
#include "bus_proxy.h"
#include "log.h"
#include "test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const service_option_t s_opts[] = {
    { "rate", "16000", "a rate" },
    { "mode", NULL, "a mode" },
    { NULL, NULL, NULL }
};

static service_t *s_new(int argc, const char **argv)
{
    return service_new("demo", "a demo", s_opts, argc, (char **)argv);
}

static void s_options(void)
{
    const char *a1[] = { "x", "--rate=48000", "--mode", "fast", "--log-level=error" };
    service_t *s = s_new(5, a1);
    CHECK(s != NULL, "options parse");
    long rate = 0;
    CHECK(service_opt_int(s, "rate", 8000, 48000, &rate) == 0 && rate == 48000, "--rate=48000 form");
    CHECK(!strcmp(service_opt(s, "mode"), "fast"), "--mode fast form");
    CHECK(!strcmp(service_name(s), "demo"), "instance name defaults to the service name");
    CHECK(service_opt_int(s, "rate", 8000, 16000, &rate) < 0, "a value out of range is refused");
    service_destroy(&s);
    CHECK(s == NULL, "destroy sets the pointer to NULL");

    const char *a2[] = { "x", "--bogus=1" };
    CHECK(s_new(2, a2) == NULL, "an unknown option is a usage error");
    const char *a3[] = { "x", "--mode" };
    CHECK(s_new(2, a3) == NULL, "an option without its value is a usage error");
    const char *a4[] = { "x", "stray" };
    CHECK(s_new(2, a4) == NULL, "a stray argument is a usage error");
    const char *a5[] = { "x", "--log-level=loud" };
    CHECK(s_new(2, a5) == NULL, "a bad log level is refused");

    char path[64];
    snprintf(path, sizeof path, "/tmp/service-test-%d.conf", getpid());
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\nrate = 8000\nmode = \"from file\"\nname = demo.3\n");
    fclose(f);
    char cfg[96];
    snprintf(cfg, sizeof cfg, "--config=%s", path);
    const char *a6[] = { "x", cfg, "--rate=22050", "--log-level=error" };
    s = s_new(4, a6);
    CHECK(s && service_opt_int(s, "rate", 0, 100000, &rate) == 0 && rate == 22050, "the command line wins over the file");
    CHECK(s && !strcmp(service_opt(s, "mode"), "from file"), "quoted values from the config file");
    CHECK(s && !strcmp(service_name(s), "demo.3"), "--name from the file");
    service_destroy(&s);
    f = fopen(path, "w");
    fprintf(f, "rate = 8000\nwhat is this\n");
    fclose(f);
    CHECK(s_new(2, (const char *[]){ "x", cfg }) == NULL, "a bad config line is refused (file:line printed)");
    unlink(path);
}

static void s_describe(void)
{
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        const char *a[] = { "x", "--describe" };
        service_t *s = s_new(2, a);
        service_publishes(s, "out.a.");
        service_subscribes(s, "in.b.");
        int rc = service_start(s);
        service_destroy(&s);
        _exit(rc == 1 ? 0 : 1);
    }
    close(fds[1]);
    char buf[1024] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "--describe answers and exits 0");
    CHECK(strstr(buf, "service = demo") && strstr(buf, "publishes\n        topic = out.a.")
          && strstr(buf, "subscribes\n        topic = in.b.") && strstr(buf, "topic = health."),
          "--describe prints ZPL with the topics:\n%s", buf);
}

static int s_on_ping(service_t *svc, bus_msg_t *msg, void *arg)
{
    (void)arg;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = msg->ev->session_id;
    ev.origin_ts_us = msg->ev->origin_ts_us;
    bus_publish(service_bus(svc), "pong.", &ev);
    return 0;
}

static void s_run(void)
{
    char front[96], back[96], pub[128], sub[128];
    snprintf(front, sizeof front, "ipc://@service-test-%d.pub", getpid());
    snprintf(back, sizeof back, "ipc://@service-test-%d.sub", getpid());
    snprintf(pub, sizeof pub, "--bus-pub=%s", front);
    snprintf(sub, sizeof sub, "--bus-sub=%s", back);
    /* Fork before any thread runs here (the proxy's): a child forked while
     * another thread holds a lock (ASan's allocator's) waits for it forever.
     * The child's connects wait for the proxy to bind. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        const char *a[] = { "x", pub, sub, "--log-level=error", "--health-interval=100" };
        service_t *s = s_new(5, a);
        service_publishes(s, "pong.");
        service_on(s, "ping.", s_on_ping, NULL);
        int rc = service_start(s);
        if (rc == 0) rc = service_run(s);
        service_destroy(&s);
        _exit(rc);
    }
    bus_proxy_t *proxy = bus_proxy_new(front, back);
    bus_t *bus = bus_new("test", front, back, NULL);
    bus_subscribe(bus, "pong.");
    bus_subscribe(bus, "health.");
    for (int i = 0; i < 300 && bus_proxy_subscriptions(proxy, "ping.") < 1; i++) usleep(10000);
    /* The ping goes out again every 200 ms until the answer comes: our own
     * publisher's connection to the proxy may not be up yet (slow joiner). */
    bool pong = false, health = false;
    int64_t end = time_mono_us() + 10000000, next_ping = 0;
    while (time_mono_us() < end && !(pong && health)) {
        if (!pong && time_mono_us() >= next_ping) {
            event_t ev = VOXMESH__ENVELOPE__INIT;
            ev.session_id = "s42";
            bus_publish(bus, "ping.", &ev);
            next_ping = time_mono_us() + 200000;
        }
        bus_msg_t *m = bus_recv(bus, 50);
        if (!m) continue;
        if (!strcmp(m->topic, "pong.") && !strcmp(m->ev->session_id, "s42")) pong = true;
        if (!strcmp(m->topic, "health.") && m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_HEALTH) health = true;
        bus_msg_destroy(&m);
    }
    CHECK(pong, "the service handles an event and publishes its answer");
    CHECK(health, "the service publishes health events");
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM stops the loop cleanly");
    bus_destroy(&bus);
    bus_proxy_destroy(&proxy);
}

/* fd watches and one-shot timers in the loop: a timer writes to a pipe, the
 * watch reads it, cancels a second timer and stops the service. */
typedef struct {
    int pipe[2];
    int fired, read, cancelled_fired, id, same_pass_id;
} s_watch_state_t;

/* Due in the same pass as s_watch_never's twin: cancels it from inside. */
static int s_watch_cancel_twin(service_t *svc, void *arg)
{
    s_watch_state_t *w = arg;
    service_cancel(svc, w->same_pass_id);
    return 0;
}

static int s_watch_timer(service_t *svc, void *arg)
{
    (void)svc;
    s_watch_state_t *w = arg;
    w->fired++;
    return write(w->pipe[1], "x", 1) == 1 ? 0 : -1;
}

static int s_watch_never(service_t *svc, void *arg)
{
    (void)svc;
    ((s_watch_state_t *)arg)->cancelled_fired++;
    return 0;
}

static int s_watch_read(service_t *svc, int fd, short revents, void *arg)
{
    s_watch_state_t *w = arg;
    char c;
    if ((revents & ZMQ_POLLIN) && read(fd, &c, 1) == 1) w->read++;
    service_cancel(svc, w->id);
    service_unwatch_fd(svc, fd);
    return -1;   /* stop */
}

static void s_watch(void)
{
    const char *a[] = { "x", "--bus-pub=ipc://@service-test-w.pub", "--bus-sub=ipc://@service-test-w.sub",
                        "--log-level=error", "--health-interval=0" };
    service_t *s = s_new(5, a);
    s_watch_state_t w = { 0 };
    CHECK(pipe(w.pipe) == 0, "pipe");
    CHECK(service_watch_fd(s, w.pipe[0], ZMQ_POLLIN, s_watch_read, &w) == 0, "watch an fd before the loop runs");
    CHECK(service_after(s, 20, s_watch_timer, &w) >= 0, "a one-shot timer");
    w.id = service_after(s, 200, s_watch_never, &w);
    CHECK(w.id >= 0, "a second one-shot timer");
    CHECK(service_after(s, 5, s_watch_cancel_twin, &w) >= 0, "a timer that cancels another due at the same time");
    w.same_pass_id = service_after(s, 5, s_watch_never, &w);
    int rc = service_start(s);
    int64_t t0 = time_mono_us();
    if (rc == 0) rc = service_run(s);
    CHECK(w.fired == 1 && w.read == 1, "the timer fired once and the watch saw the byte (%d, %d)", w.fired, w.read);
    usleep(250000);
    CHECK(w.cancelled_fired == 0 && time_mono_us() - t0 < 200000 + 250000,
          "the cancelled timers never fired (one of them cancelled in the pass it was due)");
    service_destroy(&s);
    close(w.pipe[0]);
    close(w.pipe[1]);
}

static void s_metrics(void)
{
    metrics_t *m = metrics_new();
    metric_t *c = metrics_counter(m, "demo_events_total", NULL, "Events");
    metric_t *g = metrics_gauge(m, "demo_sessions", "session=\"a\"", "Sessions");
    metric_t *h = metrics_histogram(m, "demo_latency_seconds", NULL, "Latency", NULL, 0);
    metric_add(c, 3);
    metric_set(g, 7);
    metric_observe(h, 0.0003);
    metric_observe(h, 0.02);
    CHECK(metrics_counter(m, "demo_events_total", NULL, "Events") == c, "registering twice finds the same metric");
    char *text = metrics_render(m);
    CHECK(strstr(text, "# TYPE demo_events_total counter\ndemo_events_total 3\n") != NULL, "counter rendered");
    CHECK(strstr(text, "demo_sessions{session=\"a\"} 7") != NULL, "labelled gauge rendered");
    CHECK(strstr(text, "demo_latency_seconds_bucket{le=\"0.0005\"} 1") && strstr(text, "demo_latency_seconds_bucket{le=\"+Inf\"} 2")
          && strstr(text, "demo_latency_seconds_count 2"), "histogram buckets are cumulative");
    free(text);
    metrics_remove(m, &g);
    text = metrics_render(m);
    CHECK(g == NULL && !strstr(text, "demo_sessions{"), "a removed metric is gone");
    free(text);

    metrics_server_t *srv = metrics_server_new(m, "127.0.0.1", 0);
    CHECK(srv && metrics_server_port(srv) > 0, "metrics served on an ephemeral port");
    char cmd[160];
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics | grep -q '^demo_events_total 3'",
             metrics_server_port(srv));
    CHECK(system(cmd) == 0, "GET /metrics over HTTP");
    metrics_server_destroy(&srv);
    metrics_destroy(&m);
}

int main(void)
{
    log_init("service_test", LOG_LEVEL_ERROR, false);
    s_options();
    s_describe();
    s_run();
    s_watch();
    s_metrics();
    return TEST_DONE();
}
