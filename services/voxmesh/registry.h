/* registry — the running stacks on this machine, so that `voxmesh mon` (and
 * anything else that must find a running stack) needs no --bus.
 *
 * `voxmesh up` and `voxmesh bus` each write one small file while they run:
 * RUNDIR/stacks/NAME-PID.stack with the graph's name, its file, the bus
 * endpoints and the pid. RUNDIR is $VOXMESH_RUNTIME_DIR, else
 * $XDG_RUNTIME_DIR/voxmesh, else /run/voxmesh as root, else
 * /tmp/voxmesh-UID. A file whose process is gone is stale: listing skips and
 * removes it, so a SIGKILLed supervisor leaves nothing that misleads. */
#ifndef VOXMESH_REGISTRY_H
#define VOXMESH_REGISTRY_H

#include <stddef.h>
#include <sys/types.h>

#define REGISTRY_MAX 64

typedef struct {
    char name[128];       /* the graph file's base name: "parrot", "agent" */
    char graph[1024];     /* absolute path of the graph file */
    char pub[256], sub[256];
    pid_t pid;
    char path[1200];      /* the registry file itself */
} registry_entry_t;

/* The directory the stack files live in (no trailing slash). */
const char *registry_dir(void);

/* Records that this process runs GRAPH (its file) on these endpoints.
 * Returns 0, or a negative errno (logged once: a stack that cannot be
 * registered still runs). The file is removed by registry_remove(). */
int registry_add(const char *graph_file, const char *pub, const char *sub);
void registry_remove(void);

/* Fills out[] with the live stacks, oldest first; returns how many. */
int registry_list(registry_entry_t *out, int max);

/* Finds the bus subscriber endpoint to tap: `graph` is NULL (the one running
 * stack), a graph file (its bus/sub), or the name of a running stack. On
 * failure prints why to stderr — no stack, several (listed), unknown name —
 * and returns NULL. `what` names the caller in messages ("voxmesh mon").
 * The result stays valid until the next call. */
const char *registry_find_sub(const char *graph, const char *what);

/* The graph file behind the last registry_find_sub that succeeded (the
 * file given, or the running stack's), or NULL: where `voxmesh mon` finds
 * this host's CURVE certificate. */
const char *registry_found_graph(void);

#endif
