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

typedef struct bus_proxy_t bus_proxy_t;

/* Binds both endpoints and starts the thread; returns once it runs, or NULL
 * (logged) when an endpoint cannot be bound. */
bus_proxy_t *bus_proxy_new(const char *frontend, const char *backend);
void bus_proxy_destroy(bus_proxy_t **self_p);

/* Live subscriptions on the backend whose prefix is exactly `topic`. */
int bus_proxy_subscriptions(bus_proxy_t *self, const char *topic);

/* Messages forwarded from publishers to subscribers. */
uint64_t bus_proxy_forwarded(bus_proxy_t *self);

#endif
