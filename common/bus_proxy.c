/* bus_proxy — see bus_proxy.h and docs/bus.md. */
#include "bus_proxy.h"
#include "bus_cert.h"
#include "event.h"
#include "log.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PROXY_MAX_TOPICS 1024
#define PROXY_MAX_PENDING 64

typedef struct { char topic[EVENT_TOPIC_MAX]; int count; } s_sub_t;
typedef struct { uint16_t id; uint32_t value; } s_failure_t;

/* One side of the proxy (publishers' XSUB or subscribers' XPUB), as its
 * socket monitor sees it. Touched by the proxy thread only. */
typedef struct {
    const char *name;                /* "publisher", "subscriber" */
    void *mon;                       /* PAIR end of the socket monitor */
    zhashx_t *peers;                 /* descriptor -> peer address, accepted connections */
    s_failure_t pending[PROXY_MAX_PENDING];  /* failed handshakes awaiting their disconnect */
    int npending;
    log_ratelimit_t refusal_rl;
    metric_t *m_refused;
} s_side_t;

struct bus_proxy_t {
    void *ctx;
    bool own_ctx;                    /* false: CZMQ's, shared with zauth */
    bool curve;                      /* holds the process's one CURVE proxy slot */
    zactor_t *auth;                  /* zauth, CURVE only */
    void *frontend, *backend;        /* XSUB, XPUB */
    s_side_t front, back;
    void *ctl_main, *ctl_thread;     /* PAIR: stop command */
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    s_sub_t subs[PROXY_MAX_TOPICS];
    int nsubs;
    uint64_t forwarded;
    metric_t *m_forwarded;
    uint64_t refused;
    uint64_t health_seq;
};

/* ZeroMQ has one ZAP handler per context, and CZMQ one context per process. */
static atomic_bool s_curve_taken;

static void s_count_subscription(bus_proxy_t *self, const uint8_t *data, size_t size)
{
    /* XPUB hands up "\1topic" for subscribe and "\0topic" for unsubscribe. */
    if (size < 1 || size - 1 >= EVENT_TOPIC_MAX || (data[0] != 0 && data[0] != 1)) return;
    int delta = data[0] == 1 ? 1 : -1;
    pthread_mutex_lock(&self->lock);
    int i;
    for (i = 0; i < self->nsubs; i++)
        if (strlen(self->subs[i].topic) == size - 1 && !memcmp(self->subs[i].topic, data + 1, size - 1))
            break;
    if (i == self->nsubs && self->nsubs < PROXY_MAX_TOPICS && delta > 0) {
        memcpy(self->subs[i].topic, data + 1, size - 1);
        self->subs[i].topic[size - 1] = 0;
        self->nsubs++;
    }
    if (i < self->nsubs) {
        self->subs[i].count += delta;
        if (self->subs[i].count < 0) self->subs[i].count = 0;
    }
    pthread_mutex_unlock(&self->lock);
}

/* Moves one multipart message from `from` to `to`; returns bytes of the first part. */
static int s_forward(void *from, void *to, zmq_msg_t *first_copy)
{
    zmq_msg_t part;
    int first = 1, more;
    do {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, from, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        more = zmq_msg_more(&part);
        if (first && first_copy) zmq_msg_copy(first_copy, &part);
        first = 0;
        if (zmq_msg_send(&part, to, more ? ZMQ_SNDMORE : 0) < 0) zmq_msg_close(&part);
    } while (more);
    return 0;
}

static const char *s_event_name(uint16_t id)
{
    return id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "handshake-failed-protocol"
         : id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "handshake-failed-auth"
         : "handshake-failed";
}

/* The peer of an accepted connection, while we still hold its descriptor:
 * "10.0.0.2:41234", "[fd00::2]:41234", or "pid 1234" over ipc. */
static void s_peer_name(int fd, char *out, size_t size)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    struct ucred cred;
    socklen_t clen = sizeof cred;
    bool named = getpeername(fd, (struct sockaddr *)&sa, &len) == 0;
    if (named && sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, size, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (named && sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    } else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid > 0) {
        /* ipc; still known when the peer has already hung up */
        snprintf(out, size, "pid %d", (int)cred.pid);
    } else {
        snprintf(out, size, "?");
    }
}

/* Why a handshake failed, for the log. */
static void s_refusal_reason(uint16_t id, uint32_t value, char *out, size_t size)
{
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        snprintf(out, size, "its public key is not among the authorised keys (ZAP status %u)", value);
    else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        snprintf(out, size, "it does not speak the bus's security mechanism (CURVE on one side only)");
    else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        snprintf(out, size, "cryptographic error (not this bus's server key?)");
    else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        snprintf(out, size, "protocol error 0x%x", value);
    else
        snprintf(out, size, "handshake failed: %s", zmq_strerror((int)value));
}

static void s_publish_health(bus_proxy_t *self, const char *what, const char *detail)
{
    Voxmesh__ServiceHealth h = VOXMESH__SERVICE_HEALTH__INIT;
    h.service = "bus";
    h.state = (char *)what;
    h.detail = (char *)detail;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.version = EVENT_VERSION;
    ev.publisher = "bus";
    ev.seq = ++self->health_seq;
    ev.origin_ts_us = ev.sent_ts_us = time_now_us();
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_HEALTH;
    ev.health = &h;
    size_t size = voxmesh__envelope__get_packed_size(&ev);
    uint8_t *buf = malloc(size);
    if (!buf) return;
    voxmesh__envelope__pack(&ev, buf);
    zmq_send(self->backend, "health.bus.", 11, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->backend, buf, size, ZMQ_DONTWAIT);
    free(buf);
}

/* One socket monitor event of a side, published as a health event.
 *
 * ZeroMQ's events name the bound endpoint, not the peer: the peer's address
 * is read from the descriptor that ACCEPTED carries, and DISCONNECTED
 * carries the same descriptor. A failed handshake (wrong key, no CURVE)
 * comes as HANDSHAKE_FAILED_*, without a descriptor, just before the
 * DISCONNECTED of that connection: it is held until then and reported as
 * a refusal of that peer. */
static void s_on_monitor_event(bus_proxy_t *self, s_side_t *side)
{
    zmq_msg_t m1, m2;
    zmq_msg_init(&m1);
    zmq_msg_init(&m2);
    if (zmq_msg_recv(&m1, side->mon, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&m1)
        || zmq_msg_recv(&m2, side->mon, 0) < 0 || zmq_msg_size(&m1) < 6) {
        zmq_msg_close(&m1);
        zmq_msg_close(&m2);
        return;
    }
    uint16_t id;
    uint32_t value;
    memcpy(&id, zmq_msg_data(&m1), 2);
    memcpy(&value, (uint8_t *)zmq_msg_data(&m1) + 2, 4);
    char endpoint[256], peer[128] = "";
    snprintf(endpoint, sizeof endpoint, "%.*s", (int)zmq_msg_size(&m2), (char *)zmq_msg_data(&m2));
    zmq_msg_close(&m1);
    zmq_msg_close(&m2);

    char key[16];
    const char *what = NULL;
    bool refused = false;
    s_failure_t failure = { 0, 0 };
    switch (id) {
    case ZMQ_EVENT_ACCEPTED:
        what = "accepted";
        s_peer_name((int)value, peer, sizeof peer);
        snprintf(key, sizeof key, "%u", value);
        zhashx_update(side->peers, key, strdup(peer));
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        if (side->npending < PROXY_MAX_PENDING) side->pending[side->npending++] = (s_failure_t){ id, value };
        return;   /* reported with its peer at the disconnect that follows */
    case ZMQ_EVENT_DISCONNECTED: {
        snprintf(key, sizeof key, "%u", value);
        const char *p = zhashx_lookup(side->peers, key);
        snprintf(peer, sizeof peer, "%s", p ? p : "?");
        zhashx_delete(side->peers, key);
        if (side->npending > 0) {
            refused = true;
            failure = side->pending[0];
            memmove(side->pending, side->pending + 1, (size_t)--side->npending * sizeof *side->pending);
        }
        what = refused ? s_event_name(failure.id) : "disconnected";
        break;
    }
    case ZMQ_EVENT_ACCEPT_FAILED:
        what = "accept-failed";
        break;
    default:
        return;
    }
    char detail[512];
    snprintf(detail, sizeof detail, "%s %s %s%s%s", side->name, what, endpoint, *peer ? " from " : "", peer);
    if (refused) {
        pthread_mutex_lock(&self->lock);
        self->refused++;
        pthread_mutex_unlock(&self->lock);
        metric_add(side->m_refused, 1);
        /* A client without CURVE comes back every 100 ms: bounded lines and events. */
        uint64_t suppressed = 0;
        if (!log_ratelimit_ok(&side->refusal_rl, &suppressed)) return;
        char reason[160];
        s_refusal_reason(failure.id, failure.value, reason, sizeof reason);
        char more[64] = "";
        if (suppressed) snprintf(more, sizeof more, " (%llu more refusals not logged)", (unsigned long long)suppressed);
        log_warn("bus: refused the %s %s on %s: %s%s", side->name, peer, endpoint, reason, more);
    }
    s_publish_health(self, what, detail);
}

static void *s_run(void *arg)
{
    bus_proxy_t *self = arg;
    zmq_pollitem_t items[] = {
        { self->frontend, 0, ZMQ_POLLIN, 0 },
        { self->backend, 0, ZMQ_POLLIN, 0 },
        { self->ctl_thread, 0, ZMQ_POLLIN, 0 },
        { self->front.mon, 0, ZMQ_POLLIN, 0 },
        { self->back.mon, 0, ZMQ_POLLIN, 0 },
    };
    for (;;) {
        if (zmq_poll(items, 5, -1) < 0) {
            if (zmq_errno() == EINTR) continue;
            break;
        }
        if (items[2].revents) break;
        /* Drain each side completely before polling again: fewer syscalls
         * per message under load, same latency when idle. */
        if (items[0].revents & ZMQ_POLLIN) {
            uint64_t n = 0;
            while (s_forward(self->frontend, self->backend, NULL) == 0) n++;
            pthread_mutex_lock(&self->lock);
            self->forwarded += n;
            pthread_mutex_unlock(&self->lock);
            metric_add(self->m_forwarded, (double)n);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            for (;;) {
                zmq_msg_t first;
                zmq_msg_init(&first);
                int rc = s_forward(self->backend, self->frontend, &first);
                if (rc == 0) s_count_subscription(self, zmq_msg_data(&first), zmq_msg_size(&first));
                zmq_msg_close(&first);
                if (rc < 0) break;
            }
        }
        if (items[3].revents & ZMQ_POLLIN) s_on_monitor_event(self, &self->front);
        if (items[4].revents & ZMQ_POLLIN) s_on_monitor_event(self, &self->back);
    }
    return NULL;
}

static void s_free_str(void **item)
{
    free(*item);
    *item = NULL;
}

static int s_side_init(bus_proxy_t *self, s_side_t *side, void *sock, const char *name, metrics_t *metrics)
{
    side->name = name;
    side->refusal_rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    side->peers = zhashx_new();
    if (!side->peers) return -1;
    zhashx_set_destructor(side->peers, s_free_str);
    if (metrics) {
        char labels[64];
        snprintf(labels, sizeof labels, "side=\"%s\"", name);
        side->m_refused = metrics_counter(metrics, "voxmesh_bus_refused_total", labels,
                                          "Connections refused at the handshake (unknown key, no CURVE)");
    }
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://bus-proxy-mon-%s-%p", name, (void *)self);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_ACCEPT_FAILED
               | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(sock, ep, events) != 0) return -1;
    side->mon = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!side->mon) return -1;
    int zero = 0;
    zmq_setsockopt(side->mon, ZMQ_LINGER, &zero, sizeof zero);
    return zmq_connect(side->mon, ep);
}

static void s_side_fini(s_side_t *side)
{
    if (side->mon) zmq_close(side->mon);
    zhashx_destroy(&side->peers);
}

/* Makes both sockets CURVE servers guarded by zauth. The sockets and zauth's
 * ZAP handler must share a context (libzmq asks the handler of the socket's
 * own context, and a CURVE server with no handler lets every key in): hence
 * CZMQ's context for a CURVE proxy. */
static int s_curve_setup(bus_proxy_t *self, const bus_proxy_options_t *o)
{
    char err[512];
    if (!zmq_has("curve")) {
        log_error("bus: CURVE: this libzmq is built without CURVE support");
        return -1;
    }
    if (bus_cert_check_dir(o->authorized_keys, err, sizeof err) < 0) {
        log_error("bus: CURVE authorised keys: %s", err);
        return -1;
    }
    zcert_t *cert = bus_cert_load(o->cert, true, err, sizeof err);
    if (!cert) {
        log_error("bus: CURVE server certificate: %s", err);
        return -1;
    }
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth) {
        zcert_destroy(&cert);
        return -1;
    }
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        zstr_sendx(self->auth, "VERBOSE", NULL);
        zsock_wait(self->auth);
    }
    zstr_sendx(self->auth, "CURVE", o->authorized_keys, NULL);
    zsock_wait(self->auth);
    void *socks[2] = { self->frontend, self->backend };
    for (int i = 0; i < 2; i++) {
        zcert_apply(cert, socks[i]);
        zsock_set_curve_server(socks[i], 1);
        zsock_set_zap_domain(socks[i], "voxmesh");
    }
    zcert_destroy(&cert);
    return 0;
}

bus_proxy_t *bus_proxy_new(const char *frontend, const char *backend)
{
    return bus_proxy_new_with(frontend, backend, NULL);
}

bus_proxy_t *bus_proxy_new_with(const char *frontend, const char *backend, const bus_proxy_options_t *options)
{
    bool curve = options && options->cert;
    if (curve && atomic_exchange(&s_curve_taken, true)) {
        log_error("bus: one CURVE bus proxy per process (ZeroMQ has one ZAP handler per context)");
        return NULL;
    }
    bus_proxy_t *self = calloc(1, sizeof *self);
    if (!self) {
        if (curve) atomic_store(&s_curve_taken, false);
        return NULL;
    }
    self->curve = curve;
    pthread_mutex_init(&self->lock, NULL);
    if (curve) {
        zsys_handler_set(NULL);   /* signals are ours (service.c, up.c) */
        self->ctx = zsys_init();
    } else {
        /* Without CURVE the proxy keeps a context (and an I/O thread) of its own. */
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
    }
    if (!self->ctx) goto fail;
    self->frontend = zmq_socket(self->ctx, ZMQ_XSUB);
    self->backend = zmq_socket(self->ctx, ZMQ_XPUB);
    self->ctl_main = zmq_socket(self->ctx, ZMQ_PAIR);
    self->ctl_thread = zmq_socket(self->ctx, ZMQ_PAIR);
    if (!self->frontend || !self->backend || !self->ctl_main || !self->ctl_thread) goto fail;
    /* Audio that waited a second is worthless: a short queue drops (and the
     * subscribers count the gaps) rather than letting latency pile up. At
     * 100 sessions a subscriber of inbound audio takes 5000 messages/s. */
    int zero = 0, one = 1, hwm = 5000;
    zmq_setsockopt(self->frontend, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->backend, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->ctl_main, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->ctl_thread, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->frontend, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->backend, ZMQ_SNDHWM, &hwm, sizeof hwm);
    /* Every subscribe and unsubscribe comes up to us, so the counts are exact. */
    zmq_setsockopt(self->backend, ZMQ_XPUB_VERBOSER, &one, sizeof one);
    if (curve && s_curve_setup(self, options) < 0) goto fail;
    metrics_t *metrics = options ? options->metrics : NULL;
    /* Monitors before the binds: no connection goes unseen. */
    if (metrics)   /* with a direct bus (docs/bus.md), only what the monitors tap */
        self->m_forwarded = metrics_counter(metrics, "voxmesh_bus_forwarded_total", NULL,
                                            "Events the proxy forwarded to its subscribers");
    if (s_side_init(self, &self->front, self->frontend, "publisher", metrics) < 0
        || s_side_init(self, &self->back, self->backend, "subscriber", metrics) < 0)
        goto fail;
    if (zmq_bind(self->frontend, frontend) != 0) {
        log_error("bus: cannot bind the publisher side '%s': %s", frontend, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_bind(self->backend, backend) != 0) {
        log_error("bus: cannot bind the subscriber side '%s': %s", backend, zmq_strerror(zmq_errno()));
        goto fail;
    }
    char ctl[64];
    snprintf(ctl, sizeof ctl, "inproc://bus-proxy-ctl-%p", (void *)self);
    if (zmq_bind(self->ctl_thread, ctl) != 0 || zmq_connect(self->ctl_main, ctl) != 0) goto fail;
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) goto fail;
    self->running = true;
    return self;
fail:
    bus_proxy_destroy(&self);
    return NULL;
}

void bus_proxy_destroy(bus_proxy_t **self_p)
{
    if (!self_p || !*self_p) return;
    bus_proxy_t *self = *self_p;
    if (self->running) {
        zmq_send(self->ctl_main, "$TERM", 5, 0);
        pthread_join(self->thread, NULL);
    }
    if (self->front.mon) zmq_socket_monitor(self->frontend, NULL, 0);
    if (self->back.mon) zmq_socket_monitor(self->backend, NULL, 0);
    s_side_fini(&self->front);
    s_side_fini(&self->back);
    if (self->frontend) zmq_close(self->frontend);
    if (self->backend) zmq_close(self->backend);
    if (self->ctl_main) zmq_close(self->ctl_main);
    if (self->ctl_thread) zmq_close(self->ctl_thread);
    zactor_destroy(&self->auth);
    if (self->curve) atomic_store(&s_curve_taken, false);
    if (self->own_ctx && self->ctx) zmq_ctx_term(self->ctx);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int bus_proxy_subscriptions(bus_proxy_t *self, const char *topic)
{
    int n = 0;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->nsubs; i++)
        if (!strcmp(self->subs[i].topic, topic)) { n = self->subs[i].count; break; }
    pthread_mutex_unlock(&self->lock);
    return n;
}

uint64_t bus_proxy_forwarded(bus_proxy_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t n = self->forwarded;
    pthread_mutex_unlock(&self->lock);
    return n;
}

uint64_t bus_proxy_refused(bus_proxy_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t n = self->refused;
    pthread_mutex_unlock(&self->lock);
    return n;
}
