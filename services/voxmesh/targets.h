/* targets — the Prometheus file_sd targets file that `voxmesh up` keeps:
 * RUNDIR/targets/NAME-PID.json (RUNDIR as in registry.h), one entry per
 * running replica with a /metrics endpoint, labelled with the graph, the
 * service, the instance name and the host. A Prometheus on this machine
 * scrapes every stack with a file_sd_config on every .json file of
 * RUNDIR/targets (deploy/prometheus/prometheus.yml). The file is rewritten (atomically) as
 * replicas come and go, and removed when `up` exits; files of supervisors
 * that are gone are removed by the next one that starts. */
#ifndef VOXMESH_TARGETS_H
#define VOXMESH_TARGETS_H

#include <stddef.h>

typedef struct {
    const char *service;     /* "stt" */
    const char *name;        /* the instance, "stt.1" */
    const char *endpoint;    /* "addr:port" as the replica reported it; NULL or "": left out */
} targets_entry_t;

/* Opens this process's targets file for `graph_file` (an empty list until
 * the first write) after pruning stale ones. Returns 0 or a negative errno
 * (logged: a stack without a targets file still runs). */
int targets_open(const char *graph_file);

/* Rewrites the file with these entries. An endpoint on 0.0.0.0 is written
 * with this machine's host name, which a scraper can reach. */
int targets_write(const targets_entry_t *entries, size_t n);

/* Removes the file. */
void targets_close(void);

/* The file's path ("" before targets_open). */
const char *targets_path(void);

#endif
