/* bus — publish and subscribe voxmesh events over ZeroMQ.
 *
 * Every process has one bus_t. It connects a PUB socket to the proxy's
 * frontend and a SUB socket to the proxy's backend (the Espresso pattern of
 * the ZeroMQ guide: an XSUB/XPUB proxy, run by `voxmesh up`; docs/bus.md).
 * Publishing is safe from any thread; receiving belongs to one thread.
 *
 * Subscribers check every frame: a malformed one is dropped and counted (its
 * log line rate-limited), never a crash. They track per-publisher, per-topic
 * sequence numbers, because PUB silently drops at the high-water mark: gaps
 * are counted and visible in the metrics and the monitor. */
#ifndef VOXMESH_BUS_H
#define VOXMESH_BUS_H

#include <stdbool.h>
#include <stdint.h>
#include "event.h"
#include "metrics.h"

typedef struct bus_t bus_t;

typedef struct {
    char topic[EVENT_TOPIC_MAX];
    event_t *ev;          /* decoded; owned by the message */
    size_t size;          /* encoded size in bytes */
    int64_t recv_ts_us;   /* wall clock when received */
} bus_msg_t;

typedef struct {
    uint64_t published;
    uint64_t publish_dropped;   /* would have blocked: HWM reached */
    uint64_t received;
    uint64_t bad_frames;
    uint64_t seq_gaps;          /* messages missing according to sequence numbers */
    uint64_t publisher_restarts;
} bus_stats_t;

/* Creates a bus for `publisher` (unique per process, e.g. "codec.0").
 * pub_endpoint or sub_endpoint may be NULL for a publish- or subscribe-only
 * bus. metrics may be NULL; otherwise the bus registers its counters there. */
bus_t *bus_new(const char *publisher, const char *pub_endpoint, const char *sub_endpoint,
               metrics_t *metrics);

/* CURVE (docs/bus.md): the bus proxy is the CURVE server, every bus a client
 * with a certificate of its own and the server's public key. */
typedef struct {
    const char *cert;         /* our certificate, with its secret key (NAME.key_secret) */
    const char *server_key;   /* the bus proxy's public certificate (its NAME.key) */
} bus_curve_t;

/* bus_new over CURVE when curve is not NULL (both files are then required;
 * a missing or bad one is logged and gives NULL). */
bus_t *bus_new_curve(const char *publisher, const char *pub_endpoint, const char *sub_endpoint,
                     metrics_t *metrics, const bus_curve_t *curve);

/* bus_new_curve, and sub_before_connect(the SUB's ZeroMQ socket, arg) is
 * called before the SUB connects: for one that watches its own connection
 * with zmq_socket_monitor (voxmesh mon), which reports only the handshakes
 * after it is set. */
typedef void bus_before_connect_fn(void *zmq_socket, void *arg);
bus_t *bus_new_watched(const char *publisher, const char *pub_endpoint, const char *sub_endpoint,
                       metrics_t *metrics, const bus_curve_t *curve, bus_before_connect_fn *sub_before_connect,
                       void *arg);

void bus_destroy(bus_t **self_p);

/* The direct data plane (docs/bus.md, "Direct"), opt-in per graph.
 *
 * bus_bind_direct: the PUB socket also binds `endpoint`, for subscribers
 * that connect to it directly; it stays connected to the proxy, which the
 * monitor taps (one socket, so every event is sent once to each peer).
 *
 * bus_connect_direct: makes the SUB socket, connected to each of the
 * comma-separated `endpoints` (the direct endpoints of the publishers of our
 * topics; "" for none) and not to the proxy: no event arrives twice. Call
 * it on a bus made without a sub endpoint, before bus_subscribe. Once every
 * endpoint has completed a ZMTP handshake (ZeroMQ's socket monitor),
 * on_linked(arg) is called once, from a thread of the bus: at once when
 * there are none. Refused (-ENOTSUP) on a CURVE bus. */
typedef void (bus_linked_fn)(void *arg, int endpoints);
int bus_bind_direct(bus_t *self, const char *endpoint);
int bus_connect_direct(bus_t *self, const char *endpoints, bus_linked_fn *on_linked, void *arg);

/* Subscribes to every topic that starts with `topic` (which must end in '.'). */
int bus_subscribe(bus_t *self, const char *topic);

/* Stamps the envelope (version, per-topic sequence number, publisher,
 * sent time; origin time too when it is 0) and publishes it. Never blocks:
 * when the high-water mark is reached the message is dropped and counted. */
int bus_publish(bus_t *self, const char *topic, event_t *ev);

/* Receives the next valid message, waiting at most timeout_ms (-1 forever,
 * 0 not at all). Returns NULL on timeout, interruption or when only bad
 * frames were pending (they are counted). */
bus_msg_t *bus_recv(bus_t *self, int timeout_ms);

void bus_msg_destroy(bus_msg_t **msg_p);

/* The SUB socket (a zsock_t *) for zloop/zpoller, and its file descriptor for
 * foreign event loops (edge-triggered: drain with bus_recv(self, 0)). */
void *bus_sub_socket(bus_t *self);
int bus_sub_fd(bus_t *self);

bus_stats_t bus_stats(bus_t *self);
const char *bus_publisher(bus_t *self);

/* Default endpoints when neither an option nor the environment
 * (VOXMESH_BUS_PUB / VOXMESH_BUS_SUB) names one. */
#define BUS_DEFAULT_PUB "ipc://@voxmesh.pub"
#define BUS_DEFAULT_SUB "ipc://@voxmesh.sub"

#endif
