/* graph — a deployment graph: which services run, how many replicas, with
 * which settings, on which bus; and what each of them publishes and
 * subscribes to, as the programs themselves say with --describe.
 *
 * The file format is in docs/graph.md. A graph is loaded in two steps that
 * graph_load does together: the file is parsed and validated, then every
 * service's program is run as `PROGRAM --describe --key=value...` (all at
 * once, bounded by a timeout) and its ZPL answer is parsed into the topic
 * lists. The model is read-only afterwards. */
#ifndef VOXMESH_GRAPH_H
#define VOXMESH_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "busconf.h"

#define GRAPH_MAX_REPLICAS    64
#define GRAPH_MAX_SERVICES    256
#define GRAPH_MAX_TOPICS      256       /* per service and direction */
#define GRAPH_MAX_TOPIC_LEN   255
#define GRAPH_DESCRIBE_TIMEOUT_MS 5000
#define GRAPH_DESCRIBE_MAX_OUTPUT (64 << 10)

typedef struct graph graph_t;

/* One service of the graph. Owned by the graph; read-only. */
typedef struct {
    char *name;             /* instance name, [A-Za-z][A-Za-z0-9_-]* */
    char *program;          /* as written in the graph, default "voxmesh-<name>" */
    char *path;             /* the executable it resolved to */
    char *kind;             /* what --describe said: "service = <kind>" */
    int replicas;           /* 1..GRAPH_MAX_REPLICAS */
    bool remote;            /* runs on another host: checked and waited for, not started here */
    int line;               /* line of the service in the graph file */
    int metrics_port;       /* replica 0's /metrics port, replica r's is +r; 0: any free; -1: none */
    int metrics_line;       /* line of its metrics-port key, 0 if none */
    char **settings;        /* "--key=value" (or "--key"), in file order */
    size_t settings_size;
    char **publishes;       /* topics, each ending in '.' */
    size_t publishes_size;
    char **subscribes;      /* subscription prefixes, each ending in '.' */
    size_t subscribes_size;
    char **listens;         /* optional subscriptions: consume, need no publisher */
    size_t listens_size;
} graph_service_t;

typedef struct {
    /* Directory holding the programs. NULL: $VOXMESH_BIN_DIR when set. When
     * either is set, programs are looked up only there; otherwise in the
     * directory of the running executable, then along $PATH. */
    const char *bin_dir;
    /* How long all --describe runs together may take; 0: the default. */
    int timeout_ms;
    /* Only parse and validate the file: programs are neither resolved nor
     * described (path, kind and the topic lists stay empty). For tools that
     * must not run programs, such as the systemd generator (conf.c). */
    bool parse_only;
} graph_options_t;

/* Loads, validates and describes the graph in `path`. `options` may be NULL.
 * Returns the graph, or NULL with *err set to a malloc'd text of one or more
 * lines "FILE:LINE: reason" (no final newline) that the caller prints and
 * frees. All problems found are reported, not just the first. Runs and
 * waits for child processes: a SIGCHLD handler that reaps every child
 * (waitpid(-1)) hides their exit status from it. */
graph_t *graph_load(const char *path, const graph_options_t *options, char **err);

/* Destroys the graph and sets *self_p to NULL. */
void graph_destroy(graph_t **self_p);

/* The graph file's path, as given to graph_load. */
const char *graph_file(const graph_t *self);

/* The bus endpoints: publishers connect to pub (the proxy's XSUB binds
 * it), subscribers connect to sub (the proxy's XPUB binds it). */
const char *graph_bus_pub(const graph_t *self);
const char *graph_bus_sub(const graph_t *self);

/* True when the bus proxy runs on another host (`external = true` under
 * bus): this host's services only connect to it. */
bool graph_bus_external(const graph_t *self);

/* The direct data plane (`direct = true` under bus; docs/bus.md): every
 * replica's PUB also binds an endpoint of its own, and subscribers connect
 * to those of the services that publish their topics instead of the proxy.
 * graph_direct_endpoint: replica `replica`'s endpoint (BUS-PUB.INSTANCE
 * over ipc, tcp://BUS-HOST:direct-port+N over tcp); graph_direct_sources:
 * the comma-separated endpoints `service` connects to ("" for none). Both
 * malloc'd, NULL when direct is off. */
bool graph_bus_direct(const graph_t *self);
char *graph_direct_endpoint(const graph_t *self, const graph_service_t *service, int replica);
char *graph_direct_sources(const graph_t *self, const graph_service_t *service);

/* The rest of the bus section: CURVE (curve_line != 0 when it is on) and
 * the proxy's metrics endpoint. Paths are resolved against the graph's
 * directory. */
const busconf_t *graph_busconf(const graph_t *self);

/* The /metrics port of a replica: from the service's metrics-port key, else
 * the next ones from the graph's 'metrics' section (in file order, one per
 * replica); 0 when the service picks any free port; -1 when it serves no
 * metrics. And the address every endpoint binds ('metrics' addr, default
 * 127.0.0.1). */
int graph_metrics_port(const graph_t *self, const graph_service_t *service, int replica);
const char *graph_metrics_addr(const graph_t *self);

/* Number of services, and the one at `index` (file order); NULL if out of range. */
size_t graph_size(const graph_t *self);
const graph_service_t *graph_service(const graph_t *self, size_t index);

/* The service named `name`, or NULL. */
const graph_service_t *graph_find(const graph_t *self, const char *name);

/* Builds the argv that starts replica `replica` (0-based) of `service`:
 *   PATH --name=NAME[.REPLICA] --replica=I --replicas=N
 *        --bus-pub=ENDPOINT --bus-sub=ENDPOINT [--bus-cert=FILE --bus-server-key=FILE]
 *        [--bus-bind=ENDPOINT --bus-direct=ENDPOINTS]
 *        [--metrics-port=P --metrics-addr=A] SETTINGS...
 * (the ".REPLICA" suffix only when replicas > 1; the direct ones when the
 * bus is direct; the metrics options when
 * graph_metrics_port is not -1). argv[0] is the program's
 * path, ready for execv(argv[0], argv). Returns a NULL-terminated malloc'd
 * array to free with graph_argv_destroy, or NULL on bad arguments or ENOMEM. */
char **graph_argv(const graph_t *self, const graph_service_t *service, int replica);

/* Frees an argv from graph_argv and sets *argv_p to NULL. */
void graph_argv_destroy(char ***argv_p);

/* ZeroMQ subscription semantics: true when `topic` starts with `subscription`.
 * Because topics end with '.', "stt." matches "stt.final." but "stt.w1."
 * does not match "stt.w10.". */
bool graph_topic_matches(const char *subscription, const char *topic);

/* Renders the graph as SVG with graphviz (svg.c): a box per service, an arrow
 * per (publisher, subscriber, topic). Returns 0 with *data (malloc'd, caller
 * frees) and *size set, or -1 with *err set to a malloc'd reason. */
int graph_svg(const graph_t *self, char **data, size_t *size, char **err);

#endif
