/* metrics — counters, gauges and latency histograms, rendered as
 * Prometheus text (exposition format 0.0.4). Thread-safe: one mutex per
 * registry, held only to update a number. */
#ifndef VOXMESH_METRICS_H
#define VOXMESH_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics_t metrics_t;
typedef struct metric_t metric_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);

/* Registers (or finds, when name and labels were registered before) a
 * metric. labels is the inside of the braces, e.g. "session=\"ab12\"", or
 * NULL. Names must be Prometheus names. */
metric_t *metrics_counter(metrics_t *self, const char *name, const char *labels, const char *help);
metric_t *metrics_gauge(metrics_t *self, const char *name, const char *labels, const char *help);

/* Histogram with upper bounds in ascending order; NULL bounds give latency
 * buckets in seconds from 100 us to 10 s. */
metric_t *metrics_histogram(metrics_t *self, const char *name, const char *labels,
                            const char *help, const double *bounds, size_t nbounds);

/* Unregisters and frees a metric (per-session metrics at session end). */
void metrics_remove(metrics_t *self, metric_t **metric_p);

void metric_add(metric_t *m, double v);      /* counter or gauge */
void metric_set(metric_t *m, double v);      /* gauge */
void metric_observe(metric_t *m, double v);  /* histogram */
double metric_value(metric_t *m);            /* counter/gauge value, histogram count */

/* The whole registry as Prometheus text; the caller frees it. */
char *metrics_render(metrics_t *self);

/* A tiny HTTP server on its own thread answering GET /metrics and
 * GET /health on addr:port (port 0 picks one; see metrics_server_port). */
typedef struct metrics_server_t metrics_server_t;
metrics_server_t *metrics_server_new(metrics_t *metrics, const char *addr, int port);
int metrics_server_port(metrics_server_t *self);
void metrics_server_destroy(metrics_server_t **self_p);

#endif
