/* compose — a graph as a docker-compose file (`voxmesh compose GRAPH`).
 *
 * One container per replica of every service the graph starts here, the
 * bus proxy in a container of its own (`voxmesh bus`) reached over tcp at
 * the name "bus", a one-shot "check" container that runs `voxmesh check
 * GRAPH` before anything else starts. The mapping and its reasons are in
 * docs/deploy-compose.md; deploy/docker-compose.yml is this output for
 * deploy/graphs/agent, and tests/compose.sh regenerates and compares it. */
#ifndef VOXMESH_COMPOSE_H
#define VOXMESH_COMPOSE_H

#include "graph.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define COMPOSE_IMAGE         "voxmesh:bookworm"
#define COMPOSE_CONTEXT       ".."                   /* the source tree, from deploy/ */
#define COMPOSE_DOCKERFILE    "deploy/Dockerfile"    /* relative to the context */
#define COMPOSE_BUS_HOST      "bus"
#define COMPOSE_BUS_PUB_PORT  5560                   /* when the graph's bus is not tcp */
#define COMPOSE_BUS_SUB_PORT  5561
#define COMPOSE_METRICS_PORT  9100                   /* when the graph names none */

/* Writes the compose file of `graph` to `out`. The graph's path (as given
 * to graph_load) must be relative to the top of the source tree, which is
 * the image's working directory: the check and bus containers read it
 * there. Returns 0, or -1 with *err set to a malloc'd reason (nothing
 * useful is written then). */
int compose_write(const graph_t *graph, FILE *out, char **err);

/* A listen address ADDR:PORT (ADDR an IPv4 address, "localhost", "*",
 * or an IPv6 address in brackets). On success returns 0 and sets
 * *port and, in host[] (size >= 64), the host address to publish the
 * port on: "" for every address (0.0.0.0, ::, *), "127.0.0.1" for
 * loopback (127.0.0.1, localhost, [::1]), else ADDR as written. Returns
 * -1 when `value` is not of that form. */
int compose_listen_parse(const char *value, char *host, size_t host_size, int *port);

/* `s` as a YAML double-quoted scalar, '$' doubled so that compose does not
 * interpolate it. Malloc'd; NULL on ENOMEM. */
char *compose_quote(const char *s);

#endif
