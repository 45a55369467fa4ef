/* conf — a graph turned into what systemd runs (docs/deploy-systemd.md).
 *
 * Under systemd every service is a unit of its own, so nobody passes it the
 * command line `voxmesh up` would build. Instead:
 *   - conf_write() writes one config file per service of the graph that runs
 *     on this host (`key = value`, read by --config in common/service.c):
 *     its name, the bus endpoints, its replica count and its settings, the
 *     same values `voxmesh up` would pass as options;
 *   - conf_units() names the units that run the graph (the bus unless it is
 *     external, one unit per service, one template instance per replica) and
 *     links them into a .wants directory: the systemd generator's job.
 * Both read the graph only (no --describe run), so they are cheap enough
 * for a generator, and the configs cannot drift from the graph because they
 * are made from it every time the stack starts. */
#ifndef VOXMESH_CONF_H
#define VOXMESH_CONF_H

#include "graph.h"

#include <stdio.h>

/* Writes DIR/NAME.conf for every non-remote service of `graph` (each
 * replaced atomically). Returns the number of files written, or -1 with one
 * line per problem on `log`. */
int conf_write(const graph_t *graph, const char *dir, FILE *log);

/* The unit that runs `service`, looked up in `unit_dirs` (first match): the
 * template "voxmesh-NAME@.service" or "voxmesh-NAME.service". Returns its
 * malloc'd path and sets *is_template, or NULL (with a line on `log`) when
 * there is none, or when the service has replicas but no template unit. */
char *conf_unit_for(const graph_service_t *service, const char *const *unit_dirs, size_t ndirs,
                    bool *is_template, FILE *log);

/* Checks that every service that runs here has a unit (conf_unit_for) and
 * is the program that unit starts (voxmesh-NAME). With `wants_dir`, also
 * creates it and links in it, pointing at the unit files:
 *   voxmesh-bus.service                      unless bus/external
 *   voxmesh-NAME.service                     a service with one replica
 *   voxmesh-NAME@0.service ... @N-1.service  a service with a template unit
 * Returns 0, or -1 with one line per problem on `log` (the links that could
 * be made are made all the same). */
int conf_units(const graph_t *graph, const char *const *unit_dirs, size_t ndirs,
               const char *wants_dir, FILE *log);

#endif
