/* check — the rules a graph must meet before it runs (docs/graph.md):
 * every subscription is fed by some other service, and (a warning only)
 * every published topic is consumed by some other service. */
#ifndef VOXMESH_CHECK_H
#define VOXMESH_CHECK_H

#include "graph.h"

#include <stdio.h>

/* Checks `graph` and writes one line per problem to `out` (may be NULL):
 *   FILE:LINE: service 'vad' subscribes to 'audio.in.pmc.' but no service
 *   publishes it (did you mean 'audio.in.pcm.' published by 'codec'?)
 *   FILE:LINE: warning: service 'codec' publishes 'video.frame.' but no
 *   other service subscribes to it
 * Returns the number of errors (warnings are not counted). */
int graph_check(const graph_t *graph, FILE *out);

/* Same, also giving the number of warnings and of (publisher, subscriber,
 * topic) connections. */
int graph_check_counts(const graph_t *graph, FILE *out, int *warnings, int *connections);

/* Parses the arguments shared by `check` and `svg`:
 *   [--bin-dir DIR] [--timeout SECONDS] [-o FILE] GRAPH
 * (-o only when `output` is not NULL). Returns 0, or 2 after printing
 * `usage` to stderr. */
int check_args(int argc, char **argv, const char *usage, graph_options_t *options,
               const char **graph_path, const char **output);

/* Loads the graph at path; NULL after printing why to stderr. */
graph_t *check_load(const char *path, const graph_options_t *options);

/* check_args, then check_load: the graph, or NULL with *rc the exit code
 * (2: usage printed, 1: the graph did not load). */
graph_t *check_open(int argc, char **argv, const char *usage, const char **graph_path, const char **output,
                    int *rc);

#endif
