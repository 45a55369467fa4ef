/* service — the runtime every voxmesh daemon stands on.
 *
 * It parses the command line (common options plus the service's own),
 * an optional config file, sets up logging (stderr or the journal), the bus,
 * the metrics registry and its HTTP endpoint, clean SIGTERM/SIGINT shutdown,
 * sd_notify READY/STATUS/WATCHDOG under systemd, and answers --describe with
 * the topics the service publishes and subscribes to (ZPL on stdout), which is
 * what `voxmesh check` verifies a graph against.
 *
 * A step is about fifty lines (services/parrot/main.c):
 *
 *     service_t *svc = service_new("parrot", "echoes caller audio", NULL, argc, argv);
 *     service_publishes(svc, TOPIC_AUDIO_OUT_PCM);
 *     service_on(svc, TOPIC_AUDIO_IN_PCM, s_on_pcm, NULL);
 *     int rc = service_start(svc);        // > 0: --describe/--help answered
 *     if (rc == 0) rc = service_run(svc); // until SIGTERM
 *     service_destroy(&svc);
 */
#ifndef VOXMESH_SERVICE_H
#define VOXMESH_SERVICE_H

#include <stdbool.h>
#include "bus.h"
#include "metrics.h"

typedef struct service_t service_t;

typedef struct {
    const char *name;           /* without the leading "--" */
    const char *default_value;  /* NULL: no default */
    const char *help;
} service_option_t;

/* Handles one event; return 0 to go on, -1 to stop the service. */
typedef int (service_handler_fn)(service_t *svc, bus_msg_t *msg, void *arg);
/* A periodic timer; return 0 to go on, -1 to stop the service. */
typedef int (service_timer_fn)(service_t *svc, void *arg);

/* Parses argv: the common options (see --help) and `options`, a table ended
 * by a {NULL} entry. Returns NULL after printing a usage error. */
service_t *service_new(const char *name, const char *summary, const service_option_t *options,
                       int argc, char **argv);
void service_destroy(service_t **self_p);

/* Declare the topics; subscriptions are made at service_start. */
void service_publishes(service_t *self, const char *topic);
void service_subscribes(service_t *self, const char *topic);
/* An optional subscription (see service_on_optional). */
void service_listens(service_t *self, const char *topic);

/* Subscribes to `topic` and calls fn for every event whose topic starts
 * with it (in service_run's loop). */
int service_on(service_t *self, const char *topic, service_handler_fn *fn, void *arg);

/* The same for a topic the service can do without: it is listed under
 * "listens" in --describe, and `voxmesh check` does not require a publisher
 * for it (the edge and the codec listen to tts.spoken., which only a graph
 * with a TTS has). */
int service_on_optional(service_t *self, const char *topic, service_handler_fn *fn, void *arg);

/* Calls fn every interval_ms (in service_run's loop). */
int service_every(service_t *self, int interval_ms, service_timer_fn *fn, void *arg);

/* Watches a file descriptor in service_run's loop (before or while it runs):
 * fn(svc, fd, revents, arg) when it is ready for `events` (ZMQ_POLLIN,
 * ZMQ_POLLOUT). Watching an fd again replaces its watch. For modules with
 * sockets of their own, such as the HTTP client (libcurl's multi interface).
 * fn returns 0 to go on, -1 to stop the service. */
typedef int (service_fd_fn)(service_t *svc, int fd, short revents, void *arg);
int service_watch_fd(service_t *self, int fd, short events, service_fd_fn *fn, void *arg);
void service_unwatch_fd(service_t *self, int fd);

/* Calls fn once, delay_ms from now, in the loop. Returns a timer id (>= 0)
 * for service_cancel, or a negative errno. */
int service_after(service_t *self, int delay_ms, service_timer_fn *fn, void *arg);
void service_cancel(service_t *self, int id);

/* Answers --describe/--help (returns 1: exit 0), or connects the bus,
 * starts the metrics endpoint and signal handling (returns 0). Negative on
 * error, already logged. */
int service_start(service_t *self);

/* Runs the event loop until SIGTERM/SIGINT or a handler returns -1. Sends
 * READY=1 when entering the loop, WATCHDOG=1 from it, STOPPING=1 at the end.
 * Returns the process exit code. */
int service_run(service_t *self);

/* For services with their own loop (the edge runs GLib): call once ready,
 * and regularly from the loop that does the work. */
void service_notify_ready(service_t *self);
void service_watchdog(service_t *self);
void service_notify_status(service_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Publishes a health event (service_run does it every --health-interval;
 * services with their own loop call it themselves). */
void service_publish_health(service_t *self, const char *state, const char *detail);

/* The --health-interval option in ms (0: never). */
long service_health_interval_ms(service_t *self);

/* Readable when SIGTERM/SIGINT arrived; service_stopping() then is true. */
int service_signal_fd(service_t *self);
bool service_stopping(service_t *self);

/* Option value as given, from the config file, or the default; NULL if none. */
const char *service_opt(service_t *self, const char *name);
/* Integer option in [min, max]; on a bad value logs "--name: ..." and returns -EINVAL. */
int service_opt_int(service_t *self, const char *name, long min, long max, long *out);
bool service_opt_bool(service_t *self, const char *name);

const char *service_name(service_t *self);      /* instance name, e.g. "codec.1" */
bus_t *service_bus(service_t *self);
metrics_t *service_metrics(service_t *self);

#endif
