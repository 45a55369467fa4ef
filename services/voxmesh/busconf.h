/* busconf — the keys of a graph's `bus` section beyond its endpoints:
 * CURVE (`curve` with cert, server-key, server-cert, authorized-keys) and
 * the bus proxy's metrics endpoint (metrics-port, metrics-addr). Read by
 * graph_load (`voxmesh up`, `voxmesh check`), by `voxmesh bus` and by
 * `voxmesh mon`; docs/graph.md and docs/bus.md ("CURVE"). */
#ifndef VOXMESH_BUSCONF_H
#define VOXMESH_BUSCONF_H

#include <stdbool.h>
#include "bus.h"
#include "bus_proxy.h"
#include "metrics.h"
#include "zpl.h"

typedef struct {
    int curve_line;          /* line of `curve`; 0: the bus is not secured */
    char *cert;              /* this host's client certificate (NAME.key_secret) */
    char *server_key;        /* the bus's public certificate (its NAME.key) */
    char *server_cert;       /* the bus's own certificate: only where the proxy runs */
    char *authorized_keys;   /* directory of the clients' public certificates: idem */
    long metrics_port;       /* -1: no metrics endpoint for the proxy */
    char *metrics_addr;      /* default 127.0.0.1 */
} busconf_t;

/* Reports one problem at a line of the graph file. */
typedef void (busconf_error_fn)(void *arg, int line, const char *message);

void busconf_init(busconf_t *self);
void busconf_fini(busconf_t *self);

/* Takes `key`, a child of `bus`, when it is one of ours (returns true; its
 * problems are reported through err), else returns false. Relative paths
 * are relative to dir, the graph file's directory. Certificates are loaded
 * here, so that `voxmesh check` finds a missing or wrong one. */
bool busconf_take(busconf_t *self, const zpl_node_t *key, const char *dir, busconf_error_fn *err, void *arg);

/* The checks that need the whole section: a client certificate and the
 * server key always; the server certificate and the authorised keys when
 * this host runs the proxy (proxy_here), and not otherwise. */
void busconf_finish(busconf_t *self, bool proxy_here, busconf_error_fn *err, void *arg);

/* All of the above for the `bus` node of a graph file that is not loaded
 * as a whole (`voxmesh bus`, `voxmesh mon`): problems are printed as
 * FILE:LINE: reason on stderr. Returns 0, or -1 when there was any. */
int busconf_read(busconf_t *self, const zpl_node_t *bus, const char *file, bool proxy_here);

/* The bus client side of this host: NULL when CURVE is off, else *out filled. */
const bus_curve_t *busconf_client(const busconf_t *self, bus_curve_t *out);

/* The proxy of a graph, as `voxmesh up` and `voxmesh bus` run it: CURVE
 * server when configured, and its metrics served on metrics-addr:port when
 * metrics-port is set. */
typedef struct {
    bus_proxy_t *proxy;
    metrics_t *metrics;
    metrics_server_t *server;
} busconf_proxy_t;

/* Returns 0, or -1 (logged). */
int busconf_proxy_start(busconf_proxy_t *out, const busconf_t *self, const char *pub, const char *sub);
void busconf_proxy_stop(busconf_proxy_t *p);

#endif
