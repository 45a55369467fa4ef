/* bus_proxy — the bus itself: an XSUB/XPUB proxy (the ZeroMQ guide's
 * Espresso pattern) on a thread of its own.
 *
 * Publishers connect to the frontend (XSUB), subscribers to the backend
 * (XPUB). Because every subscription passes through it, the proxy knows
 * which topics are live: `voxmesh up` waits on that before it reports ready,
 * so no declared subscriber misses the first events (no slow joiners).
 * It also watches both sockets with ZeroMQ's socket monitor and publishes
 * what happens to connections as health events on "health.bus.". */
#ifndef VOXMESH_BUS_PROXY_H
#define VOXMESH_BUS_PROXY_H

#include <stdint.h>
#include "metrics.h"

typedef struct bus_proxy_t bus_proxy_t;

/* Binds both endpoints and starts the thread; returns once it runs, or NULL
 * (logged) when an endpoint cannot be bound. */
bus_proxy_t *bus_proxy_new(const char *frontend, const char *backend);

typedef struct {
    /* CURVE (docs/bus.md): with cert set, both sockets are CURVE servers
     * with this certificate (NAME.key_secret), and a zauth handler accepts
     * only the clients whose public certificate is in authorized_keys (a
     * directory, re-read when it changes). Others are refused, logged with
     * their address, counted, and published as health events. One CURVE
     * proxy per process: ZeroMQ has one ZAP handler per context. */
    const char *cert;
    const char *authorized_keys;
    /* May be NULL; otherwise voxmesh_bus_refused_total{side=...} lives here. */
    metrics_t *metrics;
} bus_proxy_options_t;

/* bus_proxy_new with options (NULL: the same as bus_proxy_new). */
bus_proxy_t *bus_proxy_new_with(const char *frontend, const char *backend, const bus_proxy_options_t *options);
void bus_proxy_destroy(bus_proxy_t **self_p);

/* Live subscriptions on the backend whose prefix is exactly `topic`. */
int bus_proxy_subscriptions(bus_proxy_t *self, const char *topic);

/* Messages forwarded from publishers to subscribers. */
uint64_t bus_proxy_forwarded(bus_proxy_t *self);

/* Connections refused at the handshake (wrong key, no CURVE...), both sides. */
uint64_t bus_proxy_refused(bus_proxy_t *self);

#endif
