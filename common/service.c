/* service — see service.h. */
#include "service.h"
#include "log.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define SVC_MAX_OPTS 64
#define SVC_MAX_TOPICS 32
#define SVC_MAX_HANDLERS 32
#define SVC_MAX_TIMERS 16

typedef struct { char *name; char *value; } s_kv_t;
typedef struct { char *topic; service_handler_fn *fn; void *arg; } s_handler_t;
typedef struct { service_t *svc; service_timer_fn *fn; void *arg; int interval_ms; } s_timer_t;

struct service_t {
    char *name;                 /* the service kind, "codec" */
    char *summary;
    const service_option_t *options;
    s_kv_t given[SVC_MAX_OPTS]; /* from argv and --config */
    size_t ngiven;
    char *instance;             /* --name, "codec.1" */
    bool describe, help;
    char *publishes[SVC_MAX_TOPICS];
    size_t npublishes;
    char *subscribes[SVC_MAX_TOPICS];
    size_t nsubscribes;
    char *listens[SVC_MAX_TOPICS];  /* optional subscriptions: used when someone publishes them */
    size_t nlistens;
    s_handler_t handlers[SVC_MAX_HANDLERS];
    size_t nhandlers;
    s_timer_t timers[SVC_MAX_TIMERS];
    size_t ntimers;
    bus_t *bus;
    metrics_t *metrics;
    metrics_server_t *metrics_server;
    char metrics_endpoint[80];  /* "addr:port" of /metrics, "" when none */
    uint64_t watchdog_usec;
    int64_t started_us;
    metric_t *m_handler_latency;
    zloop_t *loop;              /* made on first use: watches may come before service_run */
    zlistx_t *watches;          /* s_watch_t, fds watched for a module (HTTP clients) */
    zlistx_t *onces;            /* s_once_t, one-shot timers not fired yet */
};

typedef struct {
    service_t *svc;
    zmq_pollitem_t item;
    service_fd_fn *fn;
    void *arg;
} s_watch_t;

typedef struct {
    service_t *svc;
    int id;
    service_timer_fn *fn;
    void *arg;
} s_once_t;

static const service_option_t s_common_options[] = {
    { "name", NULL, "instance name, unique on the bus (default: the service name)" },
    { "replica", "0", "replica index of this instance" },
    { "replicas", "1", "number of replicas of this service" },
    { "bus-pub", NULL, "endpoint to publish to (proxy frontend; env VOXMESH_BUS_PUB)" },
    { "bus-sub", NULL, "endpoint to subscribe from (proxy backend; env VOXMESH_BUS_SUB)" },
    { "bus-bind", NULL, "direct bus: also bind this endpoint for direct subscribers (docs/bus.md)" },
    { "bus-direct", NULL, "direct bus: connect to these publishers (comma-separated) instead of --bus-sub" },
    { "bus-cert", NULL, "CURVE: this client's certificate, NAME.key_secret (env VOXMESH_BUS_CERT)" },
    { "bus-server-key", NULL, "CURVE: the bus's public certificate, NAME.key (env VOXMESH_BUS_SERVER_KEY)" },
    { "metrics-port", NULL, "serve Prometheus metrics on this TCP port (0: any free port)" },
    { "metrics-addr", "127.0.0.1", "address for the metrics endpoint" },
    { "health-interval", "2000", "publish a health event every N ms (0: never)" },
    { "log-level", "info", "error, warn, info or debug" },
    { "log-target", "auto", "stderr, journal, or auto (journal under systemd)" },
    { "config", NULL, "file of `key = value` lines, same keys as the options" },
    { NULL, NULL, NULL }
};

static volatile sig_atomic_t s_stop = 0;
static int s_sig_pipe[2] = { -1, -1 };

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
    if (s_sig_pipe[1] >= 0) {
        int saved = errno;
        if (write(s_sig_pipe[1], "x", 1) < 0) { /* pipe full: already signalled */ }
        errno = saved;
    }
}

static const service_option_t *s_find_opt(const service_option_t *table, const char *name)
{
    for (const service_option_t *o = table; o && o->name; o++)
        if (!strcmp(o->name, name)) return o;
    return NULL;
}

static bool s_known(service_t *self, const char *name)
{
    return s_find_opt(s_common_options, name) || s_find_opt(self->options, name);
}

static int s_set(service_t *self, const char *name, const char *value)
{
    for (size_t i = 0; i < self->ngiven; i++) {
        if (!strcmp(self->given[i].name, name)) {
            char *v = strdup(value);
            if (!v) return -ENOMEM;
            free(self->given[i].value);
            self->given[i].value = v;
            return 0;
        }
    }
    if (self->ngiven == SVC_MAX_OPTS) return -E2BIG;
    self->given[self->ngiven].name = strdup(name);
    self->given[self->ngiven].value = strdup(value);
    if (!self->given[self->ngiven].name || !self->given[self->ngiven].value) return -ENOMEM;
    self->ngiven++;
    return 0;
}

static bool s_is_given(service_t *self, const char *name)
{
    for (size_t i = 0; i < self->ngiven; i++)
        if (!strcmp(self->given[i].name, name)) return true;
    return false;
}

static void s_usage(service_t *self, FILE *out)
{
    fprintf(out, "usage: voxmesh-%s [--option=value ...]\n%s\n\nservice options:\n",
            self->name, self->summary ? self->summary : "");
    for (const service_option_t *o = self->options; o && o->name; o++)
        fprintf(out, "  --%-18s %s%s%s%s\n", o->name, o->help ? o->help : "",
                o->default_value ? " [" : "", o->default_value ? o->default_value : "",
                o->default_value ? "]" : "");
    fprintf(out, "common options:\n  --describe           print the topics published and subscribed (ZPL) and exit\n");
    for (const service_option_t *o = s_common_options; o->name; o++)
        fprintf(out, "  --%-18s %s%s%s%s\n", o->name, o->help, o->default_value ? " [" : "",
                o->default_value ? o->default_value : "", o->default_value ? "]" : "");
}

/* Reads `key = value` lines; options given on the command line win. */
static int s_load_config(service_t *self, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "voxmesh-%s: %s: %s\n", self->name, path, strerror(errno));
        return -1;
    }
    char line[8192]; /* a graph line (docs/graph.md: up to 4096 bytes) fits */
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r\n")] = 0;
        if (!*p || *p == '#') continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr, "%s:%d: expected `key = value`\n", path, lineno);
            rc = -1;
            break;
        }
        char *key = p, *val = eq + 1;
        for (char *e = eq; e > key && (e[-1] == ' ' || e[-1] == '\t'); e--) e[-1] = 0;
        *eq = 0;
        val += strspn(val, " \t");
        size_t vl = strlen(val);
        while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t')) val[--vl] = 0;
        if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
            val[vl - 1] = 0;
            val++;
        }
        if (!s_known(self, key) || !strcmp(key, "config")) {
            fprintf(stderr, "%s:%d: unknown option '%s'\n", path, lineno, key);
            rc = -1;
            break;
        }
        if (!s_is_given(self, key) && s_set(self, key, val) < 0) { rc = -1; break; }
    }
    fclose(f);
    return rc;
}

service_t *service_new(const char *name, const char *summary, const service_option_t *options,
                       int argc, char **argv)
{
    service_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->name = strdup(name);
    self->summary = summary ? strdup(summary) : NULL;
    self->options = options;
    self->started_us = time_mono_us();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--describe")) { self->describe = true; continue; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { self->help = true; continue; }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "voxmesh-%s: unexpected argument '%s' (see --help)\n", name, a);
            goto fail;
        }
        char key[128];
        const char *value;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", a + 2);
            if (i + 1 >= argc) {
                fprintf(stderr, "voxmesh-%s: option --%s needs a value\n", name, key);
                goto fail;
            }
            value = argv[++i];
        }
        if (!s_known(self, key)) {
            fprintf(stderr, "voxmesh-%s: unknown option --%s (see --help)\n", name, key);
            goto fail;
        }
        if (s_set(self, key, value) < 0) goto fail;
    }
    const char *config = service_opt(self, "config");
    if (config && s_load_config(self, config) < 0) goto fail;
    const char *inst = service_opt(self, "name");
    self->instance = strdup(inst ? inst : name);
    if (!self->instance) goto fail;

    int level = log_level_parse(service_opt(self, "log-level"));
    if (level < 0) {
        fprintf(stderr, "voxmesh-%s: --log-level must be error, warn, info or debug\n", name);
        goto fail;
    }
    const char *target = service_opt(self, "log-target");
    bool journal = !strcmp(target, "journal") || (!strcmp(target, "auto") && getenv("JOURNAL_STREAM"));
    log_init(self->instance, level, journal);
    return self;
fail:
    service_destroy(&self);
    return NULL;
}

void service_destroy(service_t **self_p)
{
    if (!self_p || !*self_p) return;
    service_t *self = *self_p;
    zlistx_destroy(&self->watches);
    zlistx_destroy(&self->onces);
    zloop_destroy(&self->loop);
    metrics_server_destroy(&self->metrics_server);
    bus_destroy(&self->bus);
    metrics_destroy(&self->metrics);
    for (size_t i = 0; i < self->ngiven; i++) {
        free(self->given[i].name);
        free(self->given[i].value);
    }
    for (size_t i = 0; i < self->npublishes; i++) free(self->publishes[i]);
    for (size_t i = 0; i < self->nsubscribes; i++) free(self->subscribes[i]);
    for (size_t i = 0; i < self->nlistens; i++) free(self->listens[i]);
    for (size_t i = 0; i < self->nhandlers; i++) free(self->handlers[i].topic);
    free(self->name);
    free(self->summary);
    free(self->instance);
    free(self);
    *self_p = NULL;
}

static void s_add_topic(char **list, size_t *n, const char *topic)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(list[i], topic)) return;
    if (*n < SVC_MAX_TOPICS) {
        char *t = strdup(topic);
        if (t) list[(*n)++] = t;
    }
}

void service_publishes(service_t *self, const char *topic)
{
    s_add_topic(self->publishes, &self->npublishes, topic);
}

void service_subscribes(service_t *self, const char *topic)
{
    s_add_topic(self->subscribes, &self->nsubscribes, topic);
}

void service_listens(service_t *self, const char *topic)
{
    s_add_topic(self->listens, &self->nlistens, topic);
}

int service_on(service_t *self, const char *topic, service_handler_fn *fn, void *arg)
{
    if (self->nhandlers == SVC_MAX_HANDLERS) return -E2BIG;
    char *t = strdup(topic);
    if (!t) return -ENOMEM;
    self->handlers[self->nhandlers++] = (s_handler_t){ t, fn, arg };
    service_subscribes(self, topic);
    return 0;
}

int service_on_optional(service_t *self, const char *topic, service_handler_fn *fn, void *arg)
{
    if (self->nhandlers == SVC_MAX_HANDLERS) return -E2BIG;
    char *t = strdup(topic);
    if (!t) return -ENOMEM;
    self->handlers[self->nhandlers++] = (s_handler_t){ t, fn, arg };
    service_listens(self, topic);
    return 0;
}

int service_every(service_t *self, int interval_ms, service_timer_fn *fn, void *arg)
{
    if (self->ntimers == SVC_MAX_TIMERS || interval_ms <= 0) return -EINVAL;
    self->timers[self->ntimers++] = (s_timer_t){ self, fn, arg, interval_ms };
    return 0;
}

static void s_describe(service_t *self)
{
    /* ZPL, read back by `voxmesh check` (services/voxmesh/graph.c). */
    printf("service = %s\n", self->name);
    printf("    publishes\n");
    for (size_t i = 0; i < self->npublishes; i++) printf("        topic = %s\n", self->publishes[i]);
    printf("    subscribes\n");
    for (size_t i = 0; i < self->nsubscribes; i++) printf("        topic = %s\n", self->subscribes[i]);
    if (self->nlistens) {
        /* Optional: `voxmesh check` does not require a publisher for these. */
        printf("    listens\n");
        for (size_t i = 0; i < self->nlistens; i++) printf("        topic = %s\n", self->listens[i]);
    }
    fflush(stdout);
}

static int s_setup_signals(void)
{
    if (s_sig_pipe[0] < 0 && pipe2(s_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return log_error_errno(errno, "pipe: %m");
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* From the bus's monitor thread: every direct publisher is connected. The
 * supervisor (`voxmesh up`) counts this as our subscriptions being live. */
static void s_on_linked(void *arg, int endpoints)
{
    (void)arg;
    log_info("bus: direct: connected to all %d publisher endpoints", endpoints);
    sd_notify(0, "VOXMESH_DIRECT=linked");
}

int service_start(service_t *self)
{
    service_publishes(self, TOPIC_HEALTH);
    if (self->help) {
        s_usage(self, stdout);
        return 1;
    }
    if (self->describe) {
        s_describe(self);
        return 1;
    }
    if (s_setup_signals() < 0) return -1;
    self->metrics = metrics_new();
    if (!self->metrics) return -ENOMEM;
    const char *pub = service_opt(self, "bus-pub");
    const char *sub = service_opt(self, "bus-sub");
    if (!pub) pub = getenv("VOXMESH_BUS_PUB");
    if (!sub) sub = getenv("VOXMESH_BUS_SUB");
    char publisher[160];
    snprintf(publisher, sizeof publisher, "%s/%d", self->instance, (int)getpid());
    /* CURVE (docs/bus.md): both or neither, from the options or the environment. */
    bus_curve_t curve = { service_opt(self, "bus-cert"), service_opt(self, "bus-server-key") };
    if (!curve.cert || !*curve.cert) curve.cert = getenv("VOXMESH_BUS_CERT");
    if (!curve.server_key || !*curve.server_key) curve.server_key = getenv("VOXMESH_BUS_SERVER_KEY");
    if (curve.cert && !*curve.cert) curve.cert = NULL;
    if (curve.server_key && !*curve.server_key) curve.server_key = NULL;
    if (!curve.cert != !curve.server_key) {
        log_error("CURVE needs both --bus-cert and --bus-server-key (or VOXMESH_BUS_CERT and VOXMESH_BUS_SERVER_KEY)");
        return -1;
    }
    /* The direct data plane (docs/bus.md): our own PUB endpoint, and our
     * publishers' in place of the proxy's backend. */
    const char *bind = service_opt(self, "bus-bind");
    const char *direct = service_opt(self, "bus-direct");
    bool subscribing = self->nsubscribes + self->nlistens > 0;
    if ((bind || direct) && curve.cert) {
        log_error("--bus-bind and --bus-direct cannot be used with CURVE (docs/bus.md)");
        return -1;
    }
    self->bus = bus_new_curve(publisher, pub ? pub : BUS_DEFAULT_PUB,
                              subscribing && !direct ? (sub ? sub : BUS_DEFAULT_SUB) : NULL, self->metrics,
                              curve.cert ? &curve : NULL);
    if (!self->bus) return -1;
    if (bind && bus_bind_direct(self->bus, bind) < 0) return -1;
    if (subscribing && direct && bus_connect_direct(self->bus, direct, s_on_linked, self) < 0) return -1;
    for (size_t i = 0; i < self->nsubscribes; i++)
        if (bus_subscribe(self->bus, self->subscribes[i]) < 0) return -1;
    for (size_t i = 0; i < self->nlistens; i++)
        if (bus_subscribe(self->bus, self->listens[i]) < 0) return -1;
    if (service_opt(self, "metrics-port")) {
        long port;
        if (service_opt_int(self, "metrics-port", 0, 65535, &port) < 0) return -1;
        self->metrics_server = metrics_server_new(self->metrics, service_opt(self, "metrics-addr"), (int)port);
        if (!self->metrics_server) return -1;
        log_info("metrics on http://%s:%d/metrics", service_opt(self, "metrics-addr"),
                 metrics_server_port(self->metrics_server));
        /* Told to the supervisor (its targets file) and in health events. */
        snprintf(self->metrics_endpoint, sizeof self->metrics_endpoint, "%s:%d",
                 service_opt(self, "metrics-addr"), metrics_server_port(self->metrics_server));
        sd_notifyf(0, "VOXMESH_METRICS=%s", self->metrics_endpoint);
    }
    self->m_handler_latency = metrics_histogram(self->metrics, "voxmesh_event_handler_seconds", NULL,
                                                "Time spent handling one event", NULL, 0);
    if (sd_watchdog_enabled(0, &self->watchdog_usec) <= 0) self->watchdog_usec = 0;
    return 0;
}

const char *service_opt(service_t *self, const char *name)
{
    for (size_t i = 0; i < self->ngiven; i++)
        if (!strcmp(self->given[i].name, name)) return self->given[i].value;
    const service_option_t *o = s_find_opt(self->options, name);
    if (!o) o = s_find_opt(s_common_options, name);
    return o ? o->default_value : NULL;
}

int service_opt_int(service_t *self, const char *name, long min, long max, long *out)
{
    const char *v = service_opt(self, name);
    char *end = NULL;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n < min || n > max) {
        log_error("--%s: '%s' is not a whole number from %ld to %ld", name, v ? v : "", min, max);
        return -EINVAL;
    }
    *out = n;
    return 0;
}

bool service_opt_bool(service_t *self, const char *name)
{
    const char *v = service_opt(self, name);
    return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"));
}

const char *service_name(service_t *self) { return self->instance; }
bus_t *service_bus(service_t *self) { return self->bus; }
metrics_t *service_metrics(service_t *self) { return self->metrics; }
int service_signal_fd(service_t *self) { (void)self; return s_sig_pipe[0]; }
bool service_stopping(service_t *self) { (void)self; return s_stop != 0; }

void service_notify_ready(service_t *self)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s ready", self->instance);
    log_info("ready");
}

void service_notify_status(service_t *self, const char *fmt, ...)
{
    (void)self;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sd_notifyf(0, "STATUS=%s", text);
}

void service_watchdog(service_t *self)
{
    if (self->watchdog_usec) sd_notify(0, "WATCHDOG=1");
}

void service_publish_health(service_t *self, const char *state, const char *detail)
{
    Voxmesh__ServiceHealth h = VOXMESH__SERVICE_HEALTH__INIT;
    h.service = self->instance;
    h.state = (char *)state;
    h.detail = (char *)(detail ? detail : "");
    h.uptime_ms = (uint64_t)(time_mono_us() - self->started_us) / 1000;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    h.host = host;
    h.pid = (uint32_t)getpid();
    h.metrics = self->metrics_endpoint;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_HEALTH;
    ev.health = &h;
    bus_publish(self->bus, TOPIC_HEALTH, &ev);
}

static int s_on_bus(zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop; (void)reader;
    service_t *self = arg;
    bus_msg_t *m;
    /* Drain what is pending (one wake-up may stand for many messages), but
     * for at most 20 ms at a time: zloop's timers (the watchdog, the
     * workers' lease ticks) must run under a flood too; zmq_poll sees the
     * rest at once (it is level-triggered on a ZeroMQ socket). */
    int64_t start = time_mono_us();
    while (time_mono_us() - start < 20000 && (m = bus_recv(self->bus, 0))) {
        int64_t t0 = time_mono_us();
        int rc = 0;
        for (size_t i = 0; i < self->nhandlers && rc == 0; i++)
            if (!strncmp(m->topic, self->handlers[i].topic, strlen(self->handlers[i].topic)))
                rc = self->handlers[i].fn(self, m, self->handlers[i].arg);
        metric_observe(self->m_handler_latency, (time_mono_us() - t0) / 1e6);
        bus_msg_destroy(&m);
        if (rc < 0) return -1;
    }
    return 0;
}

static int s_on_signal_pipe(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop; (void)item; (void)arg;
    char buf[16];
    while (read(s_sig_pipe[0], buf, sizeof buf) > 0) {}
    return -1;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop; (void)timer_id;
    s_timer_t *t = arg;
    return t->fn(t->svc, t->arg);
}

static int s_on_housekeeping(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop; (void)timer_id;
    service_watchdog(arg);
    return 0;
}

static int s_on_health(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop; (void)timer_id;
    service_publish_health(arg, "ready", NULL);
    return 0;
}

long service_health_interval_ms(service_t *self)
{
    long ms = 0;
    return service_opt_int(self, "health-interval", 0, 3600000, &ms) == 0 ? ms : 0;
}

static zloop_t *s_loop(service_t *self)
{
    if (!self->loop) self->loop = zloop_new();
    return self->loop;
}

/* zloop may still dispatch, in the pass that is running, a poller or a
 * timer that a handler has just ended (it rebuilds its poll set and drops
 * ended timers only at the next pass). So its callbacks get the service,
 * not the watch or timer, and look that up: one that is gone is skipped,
 * and ending one can free it at once. */
static s_watch_t *s_find_watch(service_t *self, int fd)
{
    if (!self->watches) return NULL;
    for (s_watch_t *w = zlistx_first(self->watches); w; w = zlistx_next(self->watches))
        if (w->item.fd == fd) return w;
    return NULL;
}

static int s_on_watch(zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    s_watch_t *w = s_find_watch(arg, item->fd);
    if (!w) return 0;   /* ended in this pass */
    return w->fn(w->svc, item->fd, item->revents, w->arg);
}

int service_watch_fd(service_t *self, int fd, short events, service_fd_fn *fn, void *arg)
{
    zloop_t *loop = s_loop(self);
    if (!loop || fd < 0 || !fn) return -EINVAL;
    service_unwatch_fd(self, fd);
    if (!self->watches) {
        self->watches = zlistx_new();
        if (!self->watches) return -ENOMEM;
        zlistx_set_destructor(self->watches, (zlistx_destructor_fn *)zstr_free);   /* plain free */
    }
    s_watch_t *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    *w = (s_watch_t){ self, { NULL, fd, events, 0 }, fn, arg };
    if (zloop_poller(loop, &w->item, s_on_watch, self) < 0 || !zlistx_add_end(self->watches, w)) {
        zloop_poller_end(loop, &w->item);
        free(w);
        return -ENOMEM;
    }
    zloop_poller_set_tolerant(loop, &w->item);   /* an fd closed under us is not fatal to the loop */
    return 0;
}

void service_unwatch_fd(service_t *self, int fd)
{
    if (!self->watches || !self->loop) return;
    for (s_watch_t *w = zlistx_first(self->watches); w; w = zlistx_next(self->watches)) {
        if (w->item.fd != fd) continue;
        zloop_poller_end(self->loop, &w->item);
        zlistx_delete(self->watches, zlistx_cursor(self->watches));
        return;
    }
}

static int s_on_once(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    service_t *svc = arg;
    if (!svc->onces) return 0;
    for (s_once_t *o = zlistx_first(svc->onces); o; o = zlistx_next(svc->onces)) {
        if (o->id != timer_id) continue;
        service_timer_fn *fn = o->fn;
        void *farg = o->arg;
        zlistx_delete(svc->onces, zlistx_cursor(svc->onces));   /* it fired: free it first, fn may add timers */
        return fn(svc, farg);
    }
    return 0;   /* cancelled in this pass */
}

int service_after(service_t *self, int delay_ms, service_timer_fn *fn, void *arg)
{
    zloop_t *loop = s_loop(self);
    if (!loop || !fn) return -EINVAL;
    if (!self->onces) {
        self->onces = zlistx_new();
        if (!self->onces) return -ENOMEM;
        zlistx_set_destructor(self->onces, (zlistx_destructor_fn *)zstr_free);
    }
    s_once_t *o = calloc(1, sizeof *o);
    if (!o) return -ENOMEM;
    *o = (s_once_t){ self, 0, fn, arg };
    o->id = zloop_timer(loop, (size_t)(delay_ms > 0 ? delay_ms : 0), 1, s_on_once, self);
    if (o->id < 0 || !zlistx_add_end(self->onces, o)) {
        if (o->id >= 0) zloop_timer_end(loop, o->id);
        free(o);
        return -ENOMEM;
    }
    return o->id;
}

void service_cancel(service_t *self, int id)
{
    if (!self->onces || !self->loop || id < 0) return;
    for (s_once_t *o = zlistx_first(self->onces); o; o = zlistx_next(self->onces)) {
        if (o->id != id) continue;
        zloop_timer_end(self->loop, id);
        zlistx_delete(self->onces, zlistx_cursor(self->onces));
        return;
    }
}

int service_run(service_t *self)
{
    zloop_t *loop = s_loop(self);
    if (!loop) return 1;
    if (self->nsubscribes + self->nlistens) zloop_reader(loop, bus_sub_socket(self->bus), s_on_bus, self);
    zmq_pollitem_t sig = { NULL, s_sig_pipe[0], ZMQ_POLLIN, 0 };
    zloop_poller(loop, &sig, s_on_signal_pipe, self);
    for (size_t i = 0; i < self->ntimers; i++)
        zloop_timer(loop, (size_t)self->timers[i].interval_ms, 0, s_on_timer, &self->timers[i]);
    if (self->watchdog_usec)
        zloop_timer(loop, (size_t)(self->watchdog_usec / 2000), 0, s_on_housekeeping, self);
    long health_ms = service_health_interval_ms(self);
    if (health_ms > 0)
        zloop_timer(loop, (size_t)health_ms, 0, s_on_health, self);
    service_publish_health(self, "ready", NULL);
    service_notify_ready(self);
    if (!s_stop) zloop_start(loop);
    sd_notify(0, "STOPPING=1");
    service_publish_health(self, "stopping", NULL);
    log_info("stopping");
    return 0;
}
