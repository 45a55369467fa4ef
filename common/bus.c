/* bus — see bus.h and docs/bus.md. */
#include "bus.h"
#include "bus_cert.h"
#include "log.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sequence state is kept per (publisher, topic); a subscriber sees a bounded
 * number of them, and beyond the cap new streams are simply not tracked. */
#define BUS_MAX_STREAMS 4096

typedef struct {
    uint64_t next_seq;      /* per topic: next to publish; per stream: next expected */
} s_seq_t;

struct bus_t {
    char *publisher;
    zsock_t *pub;
    zsock_t *sub;
    pthread_mutex_t pub_lock;
    zhashx_t *pub_seq;      /* topic -> s_seq_t, our own counters */
    zhashx_t *rx_seq;       /* "publisher\ttopic" -> s_seq_t */
    bus_stats_t stats;
    log_ratelimit_t bad_rl;
    metric_t *m_published, *m_dropped, *m_received, *m_bad, *m_gaps;
    bool curve;
    zactor_t *direct_monitor;   /* watches the direct SUB's connections */
    int direct_total;           /* endpoints the direct SUB connects to */
    bus_linked_fn *on_linked;
    void *on_linked_arg;
};

static void s_free_seq(void **item)
{
    free(*item);
    *item = NULL;
}

static zsock_t *s_socket(int type, const char *endpoint, zcert_t *cert, const char *server_key,
                         bus_before_connect_fn *before_connect, void *arg)
{
    zsock_t *s = zsock_new(type);
    if (!s) return NULL;
    if (cert) {   /* before the connect: the handshake is per connection */
        zcert_apply(cert, s);
        zsock_set_curve_serverkey(s, server_key);
    }
    zsock_set_linger(s, 0);
    /* Audio is real time: a frame that cannot be delivered within ~1 s of
     * buffering is worthless, and memory must stay bounded. */
    zsock_set_sndhwm(s, 10000);
    zsock_set_rcvhwm(s, 10000);
    if (before_connect) before_connect(zsock_resolve(s), arg);
    if (zsock_connect(s, "%s", endpoint) != 0) {
        log_error("bus: cannot connect to '%s'", endpoint);
        zsock_destroy(&s);
    }
    return s;
}

bus_t *bus_new(const char *publisher, const char *pub_endpoint, const char *sub_endpoint,
               metrics_t *metrics)
{
    return bus_new_curve(publisher, pub_endpoint, sub_endpoint, metrics, NULL);
}

bus_t *bus_new_curve(const char *publisher, const char *pub_endpoint, const char *sub_endpoint,
                     metrics_t *metrics, const bus_curve_t *curve)
{
    return bus_new_watched(publisher, pub_endpoint, sub_endpoint, metrics, curve, NULL, NULL);
}

bus_t *bus_new_watched(const char *publisher, const char *pub_endpoint, const char *sub_endpoint,
                       metrics_t *metrics, const bus_curve_t *curve, bus_before_connect_fn *sub_before_connect,
                       void *arg)
{
    /* CZMQ would install its own SIGINT/SIGTERM handlers; services handle
     * signals themselves (service.c), so switch that off before any socket. */
    zsys_handler_set(NULL);
    bus_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->publisher = strdup(publisher ? publisher : "anonymous");
    pthread_mutex_init(&self->pub_lock, NULL);
    self->pub_seq = zhashx_new();
    self->rx_seq = zhashx_new();
    self->bad_rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    zcert_t *cert = NULL, *server = NULL;
    if (!self->publisher || !self->pub_seq || !self->rx_seq) goto fail;
    zhashx_set_destructor(self->pub_seq, s_free_seq);
    zhashx_set_destructor(self->rx_seq, s_free_seq);
    if (curve) {
        char err[512];
        if (!(cert = bus_cert_load(curve->cert, true, err, sizeof err))
            || !(server = bus_cert_load(curve->server_key, false, err, sizeof err))) {
            log_error("bus: CURVE: %s", err);
            goto fail;
        }
    }
    self->curve = cert != NULL;
    const char *server_key = server ? zcert_public_txt(server) : NULL;
    if (pub_endpoint && !(self->pub = s_socket(ZMQ_PUB, pub_endpoint, cert, server_key, NULL, NULL))) goto fail;
    if (sub_endpoint
        && !(self->sub = s_socket(ZMQ_SUB, sub_endpoint, cert, server_key, sub_before_connect, arg)))
        goto fail;
    zcert_destroy(&cert);
    zcert_destroy(&server);
    if (metrics) {
        self->m_published = metrics_counter(metrics, "voxmesh_bus_published_total", NULL, "Events published");
        self->m_dropped = metrics_counter(metrics, "voxmesh_bus_publish_dropped_total", NULL,
                                          "Events dropped at the high-water mark");
        self->m_received = metrics_counter(metrics, "voxmesh_bus_received_total", NULL, "Events received");
        self->m_bad = metrics_counter(metrics, "voxmesh_bus_bad_frames_total", NULL,
                                      "Malformed frames dropped");
        self->m_gaps = metrics_counter(metrics, "voxmesh_bus_sequence_gaps_total", NULL,
                                       "Events missing according to sequence numbers");
    }
    return self;
fail:
    zcert_destroy(&cert);
    zcert_destroy(&server);
    bus_destroy(&self);
    return NULL;
}

void bus_destroy(bus_t **self_p)
{
    if (!self_p || !*self_p) return;
    bus_t *self = *self_p;
    if (self->direct_monitor) {
        zmq_socket_monitor(zsock_resolve(self->sub), NULL, 0);
        zactor_destroy(&self->direct_monitor);
    }
    zsock_destroy(&self->pub);
    zsock_destroy(&self->sub);
    zhashx_destroy(&self->pub_seq);
    zhashx_destroy(&self->rx_seq);
    pthread_mutex_destroy(&self->pub_lock);
    free(self->publisher);
    free(self);
    *self_p = NULL;
}

/* ---- the direct data plane ---- */

int bus_bind_direct(bus_t *self, const char *endpoint)
{
    if (!self || !self->pub || !endpoint || !*endpoint) return -EINVAL;
    if (self->curve) {
        log_error("bus: direct connections are not available with CURVE (docs/bus.md)");
        return -ENOTSUP;
    }
    if (zsock_bind(self->pub, "%s", endpoint) < 0) {
        int err = errno;
        log_error("bus: cannot bind the direct endpoint '%s': %s", endpoint, zmq_strerror(err));
        return -err;
    }
    return 0;
}

/* The monitor of the direct SUB: counts the endpoints whose handshake is
 * done, tells the owner once when all are, and logs a publisher that goes
 * away (ZeroMQ reconnects by itself: a restarted replica binds again). */
static void s_direct_actor(zsock_t *pipe, void *arg)
{
    bus_t *self = arg;
    char inproc[64];
    snprintf(inproc, sizeof inproc, "inproc://bus-direct-%p", (void *)self);
    zsock_t *mon = zsock_new(ZMQ_PAIR);
    if (!mon || zsock_connect(mon, "%s", inproc) < 0) {
        zsock_destroy(&mon);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    zhashx_t *up = zhashx_new();   /* endpoint -> itself, while connected */
    bool told = false;
    zpoller_t *poller = zpoller_new(pipe, mon, NULL);
    while (poller && up) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe || !which) break;   /* $TERM, or interrupted */
        zmsg_t *msg = zmsg_recv(mon);
        if (!msg) break;
        zframe_t *head = zmsg_first(msg);
        zframe_t *addr = zmsg_next(msg);
        if (head && zframe_size(head) >= 6 && addr) {
            uint16_t event;
            memcpy(&event, zframe_data(head), sizeof event);
            char *ep = zframe_strdup(addr);
            if (ep && event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                if (!zhashx_lookup(up, ep)) zhashx_insert(up, ep, (void *)1);
                log_debug("bus: direct: connected to %s", ep);
            } else if (ep && event == ZMQ_EVENT_DISCONNECTED && zhashx_lookup(up, ep)) {
                zhashx_delete(up, ep);
                log_info("bus: direct: publisher %s went away; reconnecting", ep);
            }
            int n = (int)zhashx_size(up);
            if (!told && n >= self->direct_total) {
                told = true;
                if (self->on_linked) self->on_linked(self->on_linked_arg, self->direct_total);
            }
            free(ep);
        }
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zhashx_destroy(&up);
    zsock_destroy(&mon);
}

int bus_connect_direct(bus_t *self, const char *endpoints, bus_linked_fn *on_linked, void *arg)
{
    if (!self || self->sub || !endpoints) return -EINVAL;
    if (self->curve) {
        log_error("bus: direct connections are not available with CURVE (docs/bus.md)");
        return -ENOTSUP;
    }
    self->sub = zsock_new(ZMQ_SUB);
    if (!self->sub) return -ENOMEM;
    zsock_set_linger(self->sub, 0);
    zsock_set_rcvhwm(self->sub, 10000);
    self->on_linked = on_linked;
    self->on_linked_arg = arg;
    char *list = strdup(endpoints);
    if (!list) return -ENOMEM;
    for (char *save = NULL, *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        if (*ep) self->direct_total++;
    int rc = 0;
    if (self->direct_total > 0) {
        /* The monitor first, and its reader connected, so that no event is missed. */
        char inproc[64];
        snprintf(inproc, sizeof inproc, "inproc://bus-direct-%p", (void *)self);
        if (zmq_socket_monitor(zsock_resolve(self->sub), inproc,
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) < 0
            || !(self->direct_monitor = zactor_new(s_direct_actor, self))) {
            log_error("bus: direct: cannot monitor the SUB socket: %s", zmq_strerror(errno));
            rc = -EIO;
        }
    }
    strcpy(list, endpoints);
    for (char *save = NULL, *ep = strtok_r(list, ",", &save); ep && rc == 0; ep = strtok_r(NULL, ",", &save)) {
        if (*ep && zsock_connect(self->sub, "%s", ep) < 0) {
            log_error("bus: direct: cannot connect to '%s'", ep);
            rc = -EINVAL;
        }
    }
    free(list);
    if (rc == 0 && self->direct_total == 0 && on_linked) on_linked(arg, 0);
    return rc;
}

bool event_topic_valid(const char *topic, size_t len)
{
    if (!topic || len == 0 || len >= EVENT_TOPIC_MAX || topic[len - 1] != '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (topic[i] <= ' ' || topic[i] > '~') return false;
    return true;
}

int bus_subscribe(bus_t *self, const char *topic)
{
    if (!self || !self->sub) return -EINVAL;
    if (!event_topic_valid(topic, strlen(topic))) {
        log_error("bus: invalid topic '%s' (topics end with '.')", topic);
        return -EINVAL;
    }
    zsock_set_subscribe(self->sub, topic);
    return 0;
}

static s_seq_t *s_seq_get(zhashx_t *table, const char *key)
{
    s_seq_t *s = zhashx_lookup(table, key);
    if (s || zhashx_size(table) >= BUS_MAX_STREAMS) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    zhashx_insert(table, key, s);
    return s;
}

int bus_publish(bus_t *self, const char *topic, event_t *ev)
{
    if (!self || !self->pub || !ev) return -EINVAL;
    size_t tlen = strlen(topic);
    if (!event_topic_valid(topic, tlen)) {
        log_error("bus: refusing to publish on invalid topic '%s'", topic);
        return -EINVAL;
    }
    pthread_mutex_lock(&self->pub_lock);
    s_seq_t *seq = s_seq_get(self->pub_seq, topic);
    ev->version = EVENT_VERSION;
    ev->seq = seq ? ++seq->next_seq : 0;
    ev->publisher = self->publisher;
    ev->sent_ts_us = time_now_us();
    if (ev->origin_ts_us == 0) ev->origin_ts_us = ev->sent_ts_us;

    /* Pack straight into the message: no intermediate copy on the hot path. */
    size_t size = voxmesh__envelope__get_packed_size(ev);
    zmq_msg_t msg;
    int rc = -ENOMEM;
    void *handle = zsock_resolve(self->pub);
    if (zmq_msg_init_size(&msg, size) == 0) {
        voxmesh__envelope__pack(ev, zmq_msg_data(&msg));
        if (zmq_send(handle, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
            rc = -errno;
            zmq_msg_close(&msg);
        } else if (zmq_msg_send(&msg, handle, ZMQ_DONTWAIT) < 0) {
            rc = -errno;
            zmq_msg_close(&msg);
        } else {
            rc = 0;
        }
    }
    if (rc == 0) self->stats.published++;
    else self->stats.publish_dropped++;
    pthread_mutex_unlock(&self->pub_lock);
    metric_add(rc == 0 ? self->m_published : self->m_dropped, 1);
    return rc;
}

static void s_bad_frame(bus_t *self, const char *why, const char *topic)
{
    self->stats.bad_frames++;
    metric_add(self->m_bad, 1);
    uint64_t suppressed = 0;
    if (log_ratelimit_ok(&self->bad_rl, &suppressed))
        log_warn("bus: dropped a malformed frame on '%.40s': %s (%llu similar lines suppressed)",
                 topic, why, (unsigned long long)suppressed);
}

static void s_track_seq(bus_t *self, bus_msg_t *m)
{
    const char *pub = m->ev->publisher ? m->ev->publisher : "";
    char key[256];
    snprintf(key, sizeof key, "%s\t%s", pub, m->topic);
    s_seq_t *s = s_seq_get(self->rx_seq, key);
    if (!s || m->ev->seq == 0) return;
    if (s->next_seq != 0 && m->ev->seq > s->next_seq) {
        uint64_t missing = m->ev->seq - s->next_seq;
        self->stats.seq_gaps += missing;
        metric_add(self->m_gaps, (double)missing);
    } else if (s->next_seq != 0 && m->ev->seq < s->next_seq) {
        self->stats.publisher_restarts++;   /* the publisher started over */
    }
    s->next_seq = m->ev->seq + 1;
}

/* Reads one multipart message; returns 1 for a valid one in *out, 0 when a bad
 * frame was dropped, -1 when nothing was pending. */
static int s_recv_one(bus_t *self, bus_msg_t **out)
{
    void *handle = zsock_resolve(self->sub);
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return -1;
    }
    char topic[EVENT_TOPIC_MAX] = "";
    size_t tlen = zmq_msg_size(&part);
    bool topic_ok = event_topic_valid(zmq_msg_data(&part), tlen);
    if (topic_ok) {
        memcpy(topic, zmq_msg_data(&part), tlen);
        topic[tlen] = 0;
    }
    int nparts = 1;
    bus_msg_t *m = NULL;
    const char *why = topic_ok ? NULL : "invalid topic frame";
    while (zmq_msg_more(&part)) {
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, handle, 0) < 0) break;
        nparts++;
        if (nparts == 2 && topic_ok) {
            event_t *ev = voxmesh__envelope__unpack(NULL, zmq_msg_size(&part), zmq_msg_data(&part));
            if (!ev) { why = "envelope does not decode"; continue; }
            if (ev->version != EVENT_VERSION) {
                why = "unsupported envelope version";
                voxmesh__envelope__free_unpacked(ev, NULL);
                continue;
            }
            m = calloc(1, sizeof *m);
            if (!m) { voxmesh__envelope__free_unpacked(ev, NULL); why = "out of memory"; continue; }
            memcpy(m->topic, topic, tlen + 1);
            m->ev = ev;
            m->size = zmq_msg_size(&part);
            m->recv_ts_us = time_now_us();
        }
    }
    zmq_msg_close(&part);
    if (m && nparts != 2) { why = "wrong number of frames"; bus_msg_destroy(&m); }
    if (!m && !why) why = "missing envelope frame";
    if (!m) {
        s_bad_frame(self, why, topic);
        return 0;
    }
    self->stats.received++;
    metric_add(self->m_received, 1);
    s_track_seq(self, m);
    *out = m;
    return 1;
}

bus_msg_t *bus_recv(bus_t *self, int timeout_ms)
{
    if (!self || !self->sub) return NULL;
    int64_t deadline = timeout_ms > 0 ? time_mono_us() + (int64_t)timeout_ms * 1000 : 0;
    for (;;) {
        bus_msg_t *m = NULL;
        int rc = s_recv_one(self, &m);
        if (rc == 1) return m;
        if (rc == 0) continue;   /* a bad frame: look for the next one */
        if (timeout_ms == 0) return NULL;
        long wait = -1;
        if (timeout_ms > 0) {
            int64_t left = deadline - time_mono_us();
            if (left <= 0) return NULL;
            wait = (long)(left / 1000) + 1;
        }
        zmq_pollitem_t item = { zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll(&item, 1, wait);
        if (n < 0) return NULL;          /* EINTR: let the caller look at its signals */
        if (n == 0 && timeout_ms > 0) return NULL;
    }
}

void bus_msg_destroy(bus_msg_t **msg_p)
{
    if (!msg_p || !*msg_p) return;
    voxmesh__envelope__free_unpacked((*msg_p)->ev, NULL);
    free(*msg_p);
    *msg_p = NULL;
}

void *bus_sub_socket(bus_t *self)
{
    return self ? self->sub : NULL;
}

int bus_sub_fd(bus_t *self)
{
    return self && self->sub ? zsock_fd(self->sub) : -1;
}

bus_stats_t bus_stats(bus_t *self)
{
    bus_stats_t s = { 0 };
    if (!self) return s;
    pthread_mutex_lock(&self->pub_lock);
    s = self->stats;
    pthread_mutex_unlock(&self->pub_lock);
    return s;
}

const char *bus_publisher(bus_t *self)
{
    return self ? self->publisher : NULL;
}
