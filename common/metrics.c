/* metrics — see metrics.h.
 *
 * A registry is a linked list in registration order, grouped by name when
 * rendered. Services register tens of metrics, the edge a few per session:
 * lookups are O(N) at registration time only, never on the update path. */
#include "metrics.h"
#include "log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } metric_kind_t;

struct metric_t {
    metrics_t *owner;
    metric_kind_t kind;
    char *name;
    char *labels;
    char *help;
    double value;         /* counter/gauge; histogram sum */
    uint64_t count;       /* histogram */
    size_t nbounds;
    double *bounds;
    uint64_t *buckets;    /* nbounds entries; +Inf is `count` */
    metric_t *next;
};

struct metrics_t {
    pthread_mutex_t lock;
    metric_t *head, *tail;
};

static const double s_latency_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

metrics_t *metrics_new(void)
{
    metrics_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void s_metric_free(metric_t *m)
{
    free(m->name);
    free(m->labels);
    free(m->help);
    free(m->bounds);
    free(m->buckets);
    free(m);
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p) return;
    metrics_t *self = *self_p;
    for (metric_t *m = self->head, *n; m; m = n) {
        n = m->next;
        s_metric_free(m);
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static metric_t *s_register(metrics_t *self, metric_kind_t kind, const char *name,
                            const char *labels, const char *help,
                            const double *bounds, size_t nbounds)
{
    if (!self || !name) return NULL;
    labels = labels ? labels : "";
    pthread_mutex_lock(&self->lock);
    for (metric_t *m = self->head; m; m = m->next) {
        if (!strcmp(m->name, name) && !strcmp(m->labels, labels)) {
            pthread_mutex_unlock(&self->lock);
            return m->kind == kind ? m : NULL;
        }
    }
    metric_t *m = calloc(1, sizeof *m);
    if (!m) goto fail;
    m->owner = self;
    m->kind = kind;
    m->name = strdup(name);
    m->labels = strdup(labels);
    m->help = strdup(help ? help : "");
    if (!m->name || !m->labels || !m->help) goto fail;
    if (kind == M_HISTOGRAM) {
        if (!bounds) {
            bounds = s_latency_bounds;
            nbounds = sizeof s_latency_bounds / sizeof s_latency_bounds[0];
        }
        m->nbounds = nbounds;
        m->bounds = malloc(nbounds * sizeof *m->bounds);
        m->buckets = calloc(nbounds, sizeof *m->buckets);
        if (!m->bounds || !m->buckets) goto fail;
        memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
    }
    if (self->tail) self->tail->next = m; else self->head = m;
    self->tail = m;
    pthread_mutex_unlock(&self->lock);
    return m;
fail:
    pthread_mutex_unlock(&self->lock);
    if (m) s_metric_free(m);
    return NULL;
}

metric_t *metrics_counter(metrics_t *self, const char *name, const char *labels, const char *help)
{
    return s_register(self, M_COUNTER, name, labels, help, NULL, 0);
}

metric_t *metrics_gauge(metrics_t *self, const char *name, const char *labels, const char *help)
{
    return s_register(self, M_GAUGE, name, labels, help, NULL, 0);
}

metric_t *metrics_histogram(metrics_t *self, const char *name, const char *labels,
                            const char *help, const double *bounds, size_t nbounds)
{
    return s_register(self, M_HISTOGRAM, name, labels, help, bounds, nbounds);
}

void metrics_remove(metrics_t *self, metric_t **metric_p)
{
    if (!self || !metric_p || !*metric_p) return;
    metric_t *target = *metric_p;
    pthread_mutex_lock(&self->lock);
    metric_t *prev = NULL;
    for (metric_t *m = self->head; m; prev = m, m = m->next) {
        if (m != target) continue;
        if (prev) prev->next = m->next; else self->head = m->next;
        if (self->tail == m) self->tail = prev;
        s_metric_free(m);
        break;
    }
    pthread_mutex_unlock(&self->lock);
    *metric_p = NULL;
}

void metric_add(metric_t *m, double v)
{
    if (!m) return;
    pthread_mutex_lock(&m->owner->lock);
    m->value += v;
    pthread_mutex_unlock(&m->owner->lock);
}

void metric_set(metric_t *m, double v)
{
    if (!m) return;
    pthread_mutex_lock(&m->owner->lock);
    m->value = v;
    pthread_mutex_unlock(&m->owner->lock);
}

void metric_observe(metric_t *m, double v)
{
    if (!m || m->kind != M_HISTOGRAM) return;
    pthread_mutex_lock(&m->owner->lock);
    m->count++;
    m->value += v;
    for (size_t i = 0; i < m->nbounds; i++)
        if (v <= m->bounds[i]) m->buckets[i]++;
    pthread_mutex_unlock(&m->owner->lock);
}

double metric_value(metric_t *m)
{
    if (!m) return NAN;
    pthread_mutex_lock(&m->owner->lock);
    double v = m->kind == M_HISTOGRAM ? (double)m->count : m->value;
    pthread_mutex_unlock(&m->owner->lock);
    return v;
}

/* A growable string for rendering. */
typedef struct { char *buf; size_t len, cap; bool failed; } s_str_t;

static void s_printf(s_str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(s_str_t *s, const char *fmt, ...)
{
    if (s->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0) { s->failed = true; return; }
        if ((size_t)n < s->cap - s->len) { s->len += n; return; }
        size_t cap = s->cap * 2 + n + 1;
        char *b = realloc(s->buf, cap);
        if (!b) { s->failed = true; return; }
        s->buf = b;
        s->cap = cap;
    }
}

static const char *s_type_name(metric_kind_t k)
{
    return k == M_COUNTER ? "counter" : k == M_GAUGE ? "gauge" : "histogram";
}

static void s_render_one(s_str_t *s, const metric_t *m)
{
    const char *sep = *m->labels ? "," : "";
    if (m->kind != M_HISTOGRAM) {
        if (*m->labels) s_printf(s, "%s{%s} %.17g\n", m->name, m->labels, m->value);
        else s_printf(s, "%s %.17g\n", m->name, m->value);
        return;
    }
    for (size_t i = 0; i < m->nbounds; i++)
        s_printf(s, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->name, m->labels, sep, m->bounds[i],
                 (unsigned long long)m->buckets[i]);
    s_printf(s, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->name, m->labels, sep,
             (unsigned long long)m->count);
    s_printf(s, "%s_sum%s%s%s %.17g\n", m->name, *m->labels ? "{" : "", m->labels,
             *m->labels ? "}" : "", m->value);
    s_printf(s, "%s_count%s%s%s %llu\n", m->name, *m->labels ? "{" : "", m->labels,
             *m->labels ? "}" : "", (unsigned long long)m->count);
}

char *metrics_render(metrics_t *self)
{
    s_str_t s = { malloc(4096), 0, 4096, false };
    if (!s.buf) return NULL;
    s.buf[0] = 0;
    pthread_mutex_lock(&self->lock);
    /* Prometheus wants all samples of one name together, after one HELP/TYPE:
     * render each name at its first appearance, with every metric of that name. */
    for (metric_t *m = self->head; m; m = m->next) {
        bool seen = false;
        for (metric_t *p = self->head; p != m; p = p->next)
            if (!strcmp(p->name, m->name)) { seen = true; break; }
        if (seen) continue;
        s_printf(&s, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, s_type_name(m->kind));
        for (metric_t *p = m; p; p = p->next)
            if (!strcmp(p->name, m->name)) s_render_one(&s, p);
    }
    pthread_mutex_unlock(&self->lock);
    if (s.failed) { free(s.buf); return NULL; }
    return s.buf;
}
