/* bus_proxy — see bus_proxy.h and docs/bus.md. */
#include "bus_proxy.h"
#include "event.h"
#include "log.h"

#include <czmq.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_MAX_TOPICS 1024

typedef struct { char topic[EVENT_TOPIC_MAX]; int count; } s_sub_t;

struct bus_proxy_t {
    void *ctx;
    void *frontend, *backend;        /* XSUB, XPUB */
    void *mon_front, *mon_back;      /* PAIR ends of the socket monitors */
    void *ctl_main, *ctl_thread;     /* PAIR: stop command */
    pthread_t thread;
    pthread_mutex_t lock;
    s_sub_t subs[PROXY_MAX_TOPICS];
    int nsubs;
    uint64_t forwarded;
    uint64_t health_seq;
};

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

/* Publishes a connection event as a health event, straight out of the XPUB. */
static void s_publish_monitor_event(bus_proxy_t *self, void *mon, const char *side)
{
    zmq_msg_t m1, m2;
    zmq_msg_init(&m1);
    zmq_msg_init(&m2);
    if (zmq_msg_recv(&m1, mon, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&m1)
        || zmq_msg_recv(&m2, mon, 0) < 0 || zmq_msg_size(&m1) < 6) {
        zmq_msg_close(&m1);
        zmq_msg_close(&m2);
        return;
    }
    uint16_t id;
    memcpy(&id, zmq_msg_data(&m1), 2);
    char addr[256];
    snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&m2), (char *)zmq_msg_data(&m2));
    zmq_msg_close(&m1);
    zmq_msg_close(&m2);
    const char *what = id == ZMQ_EVENT_ACCEPTED ? "accepted"
                     : id == ZMQ_EVENT_DISCONNECTED ? "disconnected"
                     : id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ? "handshake-failed"
                     : id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "handshake-failed-protocol"
                     : id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "handshake-failed-auth"
                     : id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? "handshake-succeeded"
                     : id == ZMQ_EVENT_ACCEPT_FAILED ? "accept-failed" : NULL;
    if (!what) return;
    char detail[320];
    snprintf(detail, sizeof detail, "%s %s %s", side, what, addr);

    Voxmesh__ServiceHealth h = VOXMESH__SERVICE_HEALTH__INIT;
    h.service = "bus";
    h.state = (char *)what;
    h.detail = detail;
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

static void *s_run(void *arg)
{
    bus_proxy_t *self = arg;
    zmq_pollitem_t items[] = {
        { self->frontend, 0, ZMQ_POLLIN, 0 },
        { self->backend, 0, ZMQ_POLLIN, 0 },
        { self->ctl_thread, 0, ZMQ_POLLIN, 0 },
        { self->mon_front, 0, ZMQ_POLLIN, 0 },
        { self->mon_back, 0, ZMQ_POLLIN, 0 },
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
        if (items[3].revents & ZMQ_POLLIN) s_publish_monitor_event(self, self->mon_front, "publisher");
        if (items[4].revents & ZMQ_POLLIN) s_publish_monitor_event(self, self->mon_back, "subscriber");
    }
    return NULL;
}

static void *s_monitor(bus_proxy_t *self, void *sock, const char *name)
{
    char ep[96];
    snprintf(ep, sizeof ep, "inproc://bus-proxy-mon-%s-%p", name, (void *)self);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_ACCEPT_FAILED
               | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_socket_monitor(sock, ep, events) != 0) return NULL;
    void *pair = zmq_socket(self->ctx, ZMQ_PAIR);
    if (pair && zmq_connect(pair, ep) != 0) {
        zmq_close(pair);
        return NULL;
    }
    return pair;
}

bus_proxy_t *bus_proxy_new(const char *frontend, const char *backend)
{
    bus_proxy_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->ctx = zmq_ctx_new();
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
    zmq_setsockopt(self->frontend, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->backend, ZMQ_SNDHWM, &hwm, sizeof hwm);
    /* Every subscribe and unsubscribe comes up to us, so the counts are exact. */
    zmq_setsockopt(self->backend, ZMQ_XPUB_VERBOSER, &one, sizeof one);
    if (zmq_bind(self->frontend, frontend) != 0) {
        log_error("bus: cannot bind the publisher side '%s': %s", frontend, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_bind(self->backend, backend) != 0) {
        log_error("bus: cannot bind the subscriber side '%s': %s", backend, zmq_strerror(zmq_errno()));
        goto fail;
    }
    self->mon_front = s_monitor(self, self->frontend, "front");
    self->mon_back = s_monitor(self, self->backend, "back");
    if (!self->mon_front || !self->mon_back) goto fail;
    char ctl[64];
    snprintf(ctl, sizeof ctl, "inproc://bus-proxy-ctl-%p", (void *)self);
    if (zmq_bind(self->ctl_thread, ctl) != 0 || zmq_connect(self->ctl_main, ctl) != 0) goto fail;
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) goto fail;
    return self;
fail:
    if (self->mon_front) zmq_close(self->mon_front);
    if (self->mon_back) zmq_close(self->mon_back);
    if (self->frontend) zmq_close(self->frontend);
    if (self->backend) zmq_close(self->backend);
    if (self->ctl_main) zmq_close(self->ctl_main);
    if (self->ctl_thread) zmq_close(self->ctl_thread);
    if (self->ctx) zmq_ctx_term(self->ctx);
    pthread_mutex_destroy(&self->lock);
    free(self);
    return NULL;
}

void bus_proxy_destroy(bus_proxy_t **self_p)
{
    if (!self_p || !*self_p) return;
    bus_proxy_t *self = *self_p;
    zmq_send(self->ctl_main, "$TERM", 5, 0);
    pthread_join(self->thread, NULL);
    zmq_socket_monitor(self->frontend, NULL, 0);
    zmq_socket_monitor(self->backend, NULL, 0);
    zmq_close(self->mon_front);
    zmq_close(self->mon_back);
    zmq_close(self->frontend);
    zmq_close(self->backend);
    zmq_close(self->ctl_main);
    zmq_close(self->ctl_thread);
    zmq_ctx_term(self->ctx);
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
