/* mon — `voxmesh mon [options] [TOPIC-PREFIX...]`: taps the bus and prints
 * every event on one line (or as JSON), or live per-topic statistics.
 *
 * It is an ordinary subscriber, so what it shows is what services see:
 * per-hop latency is the envelope's sent time to our receive time, end-to-end
 * latency the origin (capture) time to now, and gaps come from the
 * per-publisher sequence numbers. The bus proxy's connection events arrive as
 * health events on "health.bus.", and the monitor's own connection to the bus
 * is watched with ZeroMQ's socket monitor.
 *
 * --health is another view of the same bus: every service instance's latest
 * health event (they come every --health-interval, 2 s by default, from any
 * host on the bus), one line per instance with host, pid, state, when it was
 * last heard from, its uptime and its /metrics endpoint; an instance silent
 * for longer than --stale seconds shows as "stale". */
#include "cli.h"
#include "bus.h"
#include "busconf.h"
#include "registry.h"
#include "zpl.h"
#include "log.h"

#include <czmq.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MON_MAX_TOPICS 128
#define MON_SAMPLES 2048

typedef struct {
    char topic[EVENT_TOPIC_MAX];
    uint64_t msgs, bytes;           /* in the current interval */
    uint64_t total;
    double hop_ms[MON_SAMPLES];     /* per-hop latency samples in the interval */
    double e2e_ms[MON_SAMPLES];
    int nsamples;
    uint64_t gaps_seen;
} s_topic_stats_t;

static volatile sig_atomic_t s_interrupted = 0;
static void s_on_sigint(int sig) { (void)sig; s_interrupted = 1; }

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(double *v, int n, double p)
{
    if (n == 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, s_cmp_double);
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i];
}

/* "1.23ms", or "-" when the interval had no sample. */
static void s_ms(char *buf, size_t size, double ms)
{
    if (isnan(ms)) snprintf(buf, size, "-");
    else snprintf(buf, size, "%.2fms", ms);
}

static s_topic_stats_t *s_stats_for(s_topic_stats_t *t, int *n, const char *topic)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(t[i].topic, topic)) return &t[i];
    if (*n == MON_MAX_TOPICS) return NULL;
    s_topic_stats_t *s = &t[(*n)++];
    memset(s, 0, sizeof *s);
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    return s;
}

static void s_print_stats(s_topic_stats_t *t, int n, double secs, bus_stats_t bs)
{
    printf("\n%-22s %8s %10s %9s %9s %9s %9s\n", "topic", "msg/s", "bytes/s", "hop p50", "hop p99",
           "e2e p50", "total");
    for (int i = 0; i < n; i++) {
        s_topic_stats_t *s = &t[i];
        char hop50[16], hop99[16], e2e50[16];
        s_ms(hop50, sizeof hop50, s_pct(s->hop_ms, s->nsamples, 0.5));
        s_ms(hop99, sizeof hop99, s_pct(s->hop_ms, s->nsamples, 0.99));
        s_ms(e2e50, sizeof e2e50, s_pct(s->e2e_ms, s->nsamples, 0.5));
        printf("%-22s %8.1f %10.0f %9s %9s %9s %9" PRIu64 "\n", s->topic, s->msgs / secs, s->bytes / secs, hop50,
               hop99, e2e50, s->total);
        s->msgs = s->bytes = 0;
        s->nsamples = 0;
    }
    printf("sequence gaps: %" PRIu64 "   bad frames: %" PRIu64 "   received: %" PRIu64 "\n", bs.seq_gaps,
           bs.bad_frames, bs.received);
    fflush(stdout);
}

/* The monitor's own connection, watched with ZeroMQ's socket monitor from
 * before the SUB connects (bus_new_watched): set later, it would miss a
 * handshake done in between, and whoever waits for "handshake-succeeded"
 * would wait in vain. */
typedef struct {
    void *pair;     /* the monitor's events; NULL for --health (no events shown) */
    bool health;
} s_watch_t;

static void s_watch(void *sub, void *arg)
{
    s_watch_t *w = arg;
    if (w->health) return;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://mon-%d", (int)getpid());
    zmq_socket_monitor(sub, ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                       | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                       | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    w->pair = zmq_socket(zsys_init(), ZMQ_PAIR);
    if (w->pair) zmq_connect(w->pair, ep);
}

static void s_print_monitor_event(void *mon, bool json, bool *refusal_told)
{
    zmq_msg_t m1, m2;
    zmq_msg_init(&m1);
    zmq_msg_init(&m2);
    if (zmq_msg_recv(&m1, mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m1) && zmq_msg_recv(&m2, mon, 0) >= 0
        && zmq_msg_size(&m1) >= 6) {
        uint16_t id;
        memcpy(&id, zmq_msg_data(&m1), 2);
        const char *what = id == ZMQ_EVENT_CONNECTED ? "connected"
                         : id == ZMQ_EVENT_DISCONNECTED ? "disconnected"
                         : id == ZMQ_EVENT_CONNECT_RETRIED ? "connect-retried"
                         : id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? "handshake-succeeded"
                         : id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "handshake-failed-auth"
                         : id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "handshake-failed-protocol"
                         : "handshake-failed";
        int len = (int)zmq_msg_size(&m2);
        bool failed = id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                   || id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
        if (failed && !*refusal_told) {   /* it retries every 100 ms: say it once */
            *refusal_told = true;
            fprintf(stderr, "voxmesh mon: the bus at %.*s refused this monitor (%s)%s\n", len, (char *)zmq_msg_data(&m2),
                    what, id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                    ? ": its certificate is not among the bus's authorised keys"
                    : ": CURVE on one side only, or not this bus's server key? (docs/bus.md, CURVE)");
        }
        if (json)
            printf("{\"topic\":\"$monitor\",\"event\":\"%s\",\"endpoint\":\"%.*s\"}\n", what, len,
                   (char *)zmq_msg_data(&m2));
        else
            printf("%-18s %-16s %.*s\n", "$monitor", what, len, (char *)zmq_msg_data(&m2));
        fflush(stdout);
    }
    zmq_msg_close(&m1);
    zmq_msg_close(&m2);
}

/* The conversation, readably: one line per transcript, reply sentence,
 * reply end and cut, with the session and the turn. False for other events
 * (printed the generic way). */
static bool s_format_dialogue(const event_t *ev, char *line, size_t size)
{
    const char *who = NULL, *text = NULL;
    uint64_t turn = 0;
    char extra[160] = "";
    switch (ev->payload_case) {
    case VOXMESH__ENVELOPE__PAYLOAD_STT_PARTIAL:
        who = "caller …", text = ev->stt_partial->text, turn = ev->stt_partial->utterance_id;
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_STT_FINAL:
        who = "caller", text = ev->stt_final->text, turn = ev->stt_final->utterance_id;
        if (ev->stt_final->worker && *ev->stt_final->worker)
            snprintf(extra, sizeof extra, "  (%s)", ev->stt_final->worker);
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_SENTENCE:
        who = "agent", text = ev->llm_sentence->text, turn = ev->llm_sentence->turn_id;
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_TTS_SPOKEN:
        who = "heard", text = ev->tts_spoken->text, turn = ev->tts_spoken->turn_id;
        snprintf(extra, sizeof extra, "  (cut: what the caller heard)");
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_LLM_DONE:
        who = "agent", turn = ev->llm_done->turn_id;
        snprintf(extra, sizeof extra, "[%s, %u sentence%s%s%s]", ev->llm_done->reason ? ev->llm_done->reason : "",
                 ev->llm_done->sentences, ev->llm_done->sentences == 1 ? "" : "s",
                 ev->llm_done->detail && *ev->llm_done->detail ? ": " : "",
                 ev->llm_done->detail ? ev->llm_done->detail : "");
        break;
    case VOXMESH__ENVELOPE__PAYLOAD_WORKER_ASSIGN: {
        /* Which worker serves which session: the changes, not the
         * dispatcher's once-a-second refreshes or its beats. */
        const Voxmesh__WorkerAssign *a = ev->worker_assign;
        if (!ev->session_id || !*ev->session_id || (a->reason && !strcmp(a->reason, "refresh"))) {
            line[0] = 0;
            return true;
        }
        snprintf(line, size, "session %.12s %-3s -> %s  (%s%s%s)", ev->session_id, a->role ? a->role : "?",
                 a->worker && *a->worker ? a->worker : "(no live worker)", a->reason ? a->reason : "",
                 a->previous && *a->previous ? ", was " : "", a->previous ? a->previous : "");
        return true;
    }
    default:
        return false;
    }
    int64_t age = ev->sent_ts_us && ev->origin_ts_us ? ev->sent_ts_us - ev->origin_ts_us : 0;
    snprintf(line, size, "session %.12s turn %-3llu %-8s %s%s%s%s  +%.0fms", ev->session_id ? ev->session_id : "-",
             (unsigned long long)turn, who, text ? "\"" : "", text ? text : "", text ? "\"" : "", extra, age / 1000.0);
    return true;
}

/* ---- --health ---------------------------------------------------------------- */

#define MON_MAX_INSTANCES 256

typedef struct {
    char host[64], service[64], state[24], detail[96], metrics[64];
    uint32_t pid;
    uint64_t uptime_ms;
    int64_t seen_us;                /* monotonic, when its last event arrived */
} s_instance_t;

static s_instance_t *s_instance_for(s_instance_t *t, int *n, const char *host, const char *service)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(t[i].host, host) && !strcmp(t[i].service, service)) return &t[i];
    if (*n == MON_MAX_INSTANCES) return NULL;
    s_instance_t *x = &t[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->host, sizeof x->host, "%s", host);
    snprintf(x->service, sizeof x->service, "%s", service);
    return x;
}

static int s_instance_cmp(const void *a, const void *b)
{
    const s_instance_t *x = a, *y = b;
    int c = strcmp(x->host, y->host);
    return c ? c : strcmp(x->service, y->service);
}

static void s_print_health(s_instance_t *t, int n, double stale_s)
{
    qsort(t, (size_t)n, sizeof *t, s_instance_cmp);
    int64_t now = time_mono_us();
    printf("\n%-16s %-12s %8s %-9s %9s %9s  %-21s %s\n", "host", "service", "pid", "state", "last seen", "uptime",
           "metrics", "detail");
    for (int i = 0; i < n; i++) {
        const s_instance_t *x = &t[i];
        double age = (now - x->seen_us) / 1e6;
        char seen[24], up[24];
        snprintf(seen, sizeof seen, "%.1fs ago", age);
        snprintf(up, sizeof up, "%.0fs", x->uptime_ms / 1000.0);
        printf("%-16s %-12s %8u %-9s %9s %9s  %-21s %s\n", x->host, x->service, x->pid,
               age > stale_s && strcmp(x->state, "stopping") ? "stale" : x->state, seen, up,
               x->metrics[0] ? x->metrics : "-", x->detail);
    }
    if (n == 0) printf("(no health event yet)\n");
    fflush(stdout);
}

/* Taps health. and prints the table every second until --seconds or a signal. */
static int s_run_health(bus_t *bus, double seconds, double stale_s)
{
    static s_instance_t inst[MON_MAX_INSTANCES];
    int n = 0;
    if (bus_subscribe(bus, TOPIC_HEALTH) < 0) return 1;
    void *sub = zsock_resolve(bus_sub_socket(bus));
    int64_t start = time_mono_us(), last_print = start;
    while (!s_interrupted) {
        int64_t now = time_mono_us();
        if (seconds >= 0 && now - start >= (int64_t)(seconds * 1e6)) break;
        zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&item, 1, 100);
        bus_msg_t *m;
        while ((m = bus_recv(bus, 0))) {
            const Voxmesh__ServiceHealth *h = m->ev->health;
            /* The proxy's connection events (health.bus.) are not an instance's. */
            if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_HEALTH && h->pid && h->service) {
                s_instance_t *x = s_instance_for(inst, &n, h->host && *h->host ? h->host : "?", h->service);
                if (x) {
                    x->pid = h->pid;
                    x->uptime_ms = h->uptime_ms;
                    x->seen_us = time_mono_us();
                    snprintf(x->state, sizeof x->state, "%s", h->state ? h->state : "");
                    snprintf(x->detail, sizeof x->detail, "%s", h->detail ? h->detail : "");
                    snprintf(x->metrics, sizeof x->metrics, "%s", h->metrics ? h->metrics : "");
                }
            }
            bus_msg_destroy(&m);
        }
        now = time_mono_us();
        if (now - last_print >= 1000000) {
            s_print_health(inst, n, stale_s);
            last_print = now;
        }
    }
    s_print_health(inst, n, stale_s);
    return 0;
}

static void s_usage(void)
{
    fprintf(stderr,
            "usage: voxmesh mon [--graph NAME|FILE | --bus ENDPOINT] [--json] [--stats] [--count N] [--seconds S]\n"
            "                   [PREFIX...]\n"
            "       voxmesh mon [--graph NAME|FILE | --bus ENDPOINT] --health [--stale S] [--seconds S]\n"
            "  --graph NAME|FILE  the running stack of that name (`voxmesh up` records it in %s/stacks),\n"
            "                  or that graph file's bus; default: the one stack running here\n"
            "  --bus ENDPOINT  the bus's subscriber side (default $VOXMESH_BUS_SUB)\n"
            "  --cert FILE     CURVE: this host's certificate, NAME.key_secret (default $VOXMESH_BUS_CERT,\n"
            "                  else the graph's bus/curve/cert)\n"
            "  --server-key FILE  CURVE: the bus's public certificate (default $VOXMESH_BUS_SERVER_KEY,\n"
            "                  else the graph's bus/curve/server-key)\n"
            "  --json          one JSON object per event\n"
            "  --stats         per-topic messages/s, bytes/s, latency and gaps every second\n"
            "  --count N       exit after N events of the PREFIXes;  --seconds S: exit after S seconds\n"
            "  --health        every service instance on the bus, any host: pid, state, last seen, uptime,\n"
            "                  metrics endpoint; a table every second\n"
            "  --stale S       --health: silent for S seconds is \"stale\" (default 6: three health intervals)\n"
            "  PREFIX          topic prefixes to tap, each ending in '.' (default: everything)\n",
            registry_dir());
}

int mon_main(int argc, char **argv)
{
    const char *endpoint = getenv("VOXMESH_BUS_SUB"), *graph = NULL;
    const char *cert = getenv("VOXMESH_BUS_CERT"), *server_key = getenv("VOXMESH_BUS_SERVER_KEY");
    bool json = false, stats = false, health = false;
    double stale_s = 6;
    long count = -1;
    double seconds = -1;
    const char *prefixes[32];
    int nprefixes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--bus") && i + 1 < argc) endpoint = argv[++i];
        else if (!strncmp(a, "--bus=", 6)) endpoint = a + 6;
        else if (!strcmp(a, "--cert") && i + 1 < argc) cert = argv[++i];
        else if (!strncmp(a, "--cert=", 7)) cert = a + 7;
        else if (!strcmp(a, "--server-key") && i + 1 < argc) server_key = argv[++i];
        else if (!strncmp(a, "--server-key=", 13)) server_key = a + 13;
        else if (!strcmp(a, "--graph") && i + 1 < argc) graph = argv[++i];
        else if (!strncmp(a, "--graph=", 8)) graph = a + 8;
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--stats")) stats = true;
        else if (!strcmp(a, "--health")) health = true;
        else if (!strcmp(a, "--stale") && i + 1 < argc) stale_s = atof(argv[++i]);
        else if (!strcmp(a, "--count") && i + 1 < argc) count = atol(argv[++i]);
        else if (!strcmp(a, "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (a[0] != '-' && nprefixes < 32) {
            if (!event_topic_valid(a, strlen(a))) {
                fprintf(stderr, "voxmesh mon: '%s' is not a topic prefix (they end with '.')\n", a);
                return 2;
            }
            prefixes[nprefixes++] = a;
        } else {
            s_usage();
            return 2;
        }
    }
    bool from_graph = false;
    if (health && (stats || json || nprefixes || count >= 0)) {
        fprintf(stderr, "voxmesh mon: --health is a view of its own: no --stats, --json, --count or PREFIX with it\n");
        return 2;
    }
    if (graph || !endpoint || !*endpoint) {
        endpoint = registry_find_sub(graph, "voxmesh mon");
        if (!endpoint) return 1;
        from_graph = true;
    }
    log_init("voxmesh-mon", LOG_LEVEL_WARN, false);
    signal(SIGINT, s_on_sigint);
    signal(SIGTERM, s_on_sigint);

    /* CURVE: the options, else the environment, else the graph we found. */
    if (cert && !*cert) cert = NULL;
    if (server_key && !*server_key) server_key = NULL;
    busconf_t conf;
    busconf_init(&conf);
    if (!cert && !server_key && from_graph && registry_found_graph()) {
        const char *file = registry_found_graph();
        zpl_node_t *root = zpl_load(file, NULL);
        const char *ext = root ? zpl_get(root, "bus/external", "false") : "false";
        if (root && zpl_locate(root, "bus/curve")
            && busconf_read(&conf, zpl_locate(root, "bus"), file, strcmp(ext, "true") != 0) < 0) {
            zpl_destroy(&root);
            return 1;
        }
        zpl_destroy(&root);
        cert = conf.cert;
        server_key = conf.server_key;
    }
    if (!cert != !server_key) {
        fprintf(stderr, "voxmesh mon: CURVE needs both --cert and --server-key\n");
        busconf_fini(&conf);
        return 2;
    }
    bus_curve_t curve = { cert, server_key };
    s_watch_t watch = { NULL, health };
    bus_t *bus = bus_new_watched("mon", NULL, endpoint, NULL, cert ? &curve : NULL, s_watch, &watch);
    busconf_fini(&conf);
    if (!bus) {
        if (watch.pair) zmq_close(watch.pair);
        return 1;
    }
    bool refusal_told = false;
    if (health) {
        int rc = s_run_health(bus, seconds, stale_s);
        bus_destroy(&bus);
        return rc;
    }
    void *sub = zsock_resolve(bus_sub_socket(bus));
    void *mon = watch.pair;
    if (!mon) {
        fprintf(stderr, "voxmesh mon: cannot watch the connection to the bus: %s\n", zmq_strerror(errno));
        bus_destroy(&bus);
        return 1;
    }
    for (int i = 0; i < nprefixes; i++) bus_subscribe(bus, prefixes[i]);
    bool show_deltas = false, show_beats = false;
    for (int i = 0; i < nprefixes; i++) show_deltas |= !strncmp(prefixes[i], "llm.delta.", 10);
    for (int i = 0; i < nprefixes; i++) show_beats |= !strncmp(prefixes[i], "health.worker.", 14);
    if (nprefixes == 0) zsock_set_subscribe(bus_sub_socket(bus), "");
    else bus_subscribe(bus, "health.bus.");

    static s_topic_stats_t topics[MON_MAX_TOPICS];
    int ntopics = 0;
    int64_t start = time_mono_us(), last_print = start;
    long seen = 0;
    while (!s_interrupted && (count < 0 || seen < count)) {
        int64_t now = time_mono_us();
        if (seconds >= 0 && now - start >= (int64_t)(seconds * 1e6)) break;
        zmq_pollitem_t items[] = { { sub, 0, ZMQ_POLLIN, 0 }, { mon, 0, ZMQ_POLLIN, 0 } };
        zmq_poll(items, 2, 100);
        if (items[1].revents & ZMQ_POLLIN) s_print_monitor_event(mon, json, &refusal_told);
        bus_msg_t *m;
        while ((count < 0 || seen < count) && (m = bus_recv(bus, 0))) {
            /* --count counts what was asked for, not the bus's own
             * health.bus. events that come with any prefix. */
            bool asked = nprefixes == 0;
            for (int i = 0; i < nprefixes && !asked; i++) asked = !strncmp(m->topic, prefixes[i], strlen(prefixes[i]));
            if (asked) seen++;
            if (stats) {
                s_topic_stats_t *s = s_stats_for(topics, &ntopics, m->topic);
                if (s) {
                    s->msgs++;
                    s->total++;
                    s->bytes += m->size;
                    if (s->nsamples < MON_SAMPLES) {
                        s->hop_ms[s->nsamples] = (m->recv_ts_us - m->ev->sent_ts_us) / 1000.0;
                        s->e2e_ms[s->nsamples] = (m->recv_ts_us - m->ev->origin_ts_us) / 1000.0;
                        s->nsamples++;
                    }
                }
            } else {
                char line[2048];
                if (json) event_format_json(m->ev, m->topic, line, sizeof line);
                else if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_LLM_DELTA && !show_deltas) line[0] = 0;
                else if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_WORKER_HEARTBEAT && !show_beats) line[0] = 0;
                else if (!s_format_dialogue(m->ev, line, sizeof line)) event_format(m->ev, m->topic, line, sizeof line);
                if (!line[0]) {   /* a token of a reply: its sentences show it (ask for llm.delta. to see them) */
                    bus_msg_destroy(&m);
                    continue;
                }
                puts(line);
                fflush(stdout);
            }
            bus_msg_destroy(&m);
        }
        now = time_mono_us();
        if (stats && now - last_print >= 1000000) {
            s_print_stats(topics, ntopics, (now - last_print) / 1e6, bus_stats(bus));
            last_print = now;
        }
    }
    if (stats) s_print_stats(topics, ntopics, (time_mono_us() - last_print) / 1e6 + 1e-9, bus_stats(bus));
    zmq_socket_monitor(sub, NULL, 0);
    zmq_close(mon);
    bus_destroy(&bus);
    return 0;
}
