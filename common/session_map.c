/* session_map — see session_map.h. */
#include "session_map.h"
#include "log.h"

#include <czmq.h>
#include <stdlib.h>

typedef struct {
    void *state;
    int64_t last_us;
} s_entry_t;

struct session_map {
    zhashx_t *table;            /* id -> s_entry_t */
    size_t max;
    int64_t idle_us;
    session_make_fn *make;
    session_free_fn *free_fn;
    void *arg;
    log_ratelimit_t rl;
};

session_map_t *session_map_new(size_t max, int64_t idle_us, session_make_fn *make, session_free_fn *free_fn,
                               void *arg)
{
    session_map_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->table = zhashx_new();
    if (!self->table) {
        free(self);
        return NULL;
    }
    self->max = max;
    self->idle_us = idle_us;
    self->make = make;
    self->free_fn = free_fn;
    self->arg = arg;
    self->rl = (log_ratelimit_t)LOG_RATELIMIT_INIT(5000, 5);
    return self;
}

static void s_free(session_map_t *self, const char *id, const char *why)
{
    s_entry_t *e = zhashx_lookup(self->table, id);
    if (!e) return;
    zhashx_delete(self->table, id);
    self->free_fn(e->state, id, why, self->arg);
    free(e);
}

void session_map_destroy(session_map_t **self_p)
{
    if (!self_p || !*self_p) return;
    session_map_t *self = *self_p;
    zlistx_t *keys = zhashx_keys(self->table);
    for (char *id = zlistx_first(keys); id; id = zlistx_next(keys)) s_free(self, id, "shutdown");
    zlistx_destroy(&keys);
    zhashx_destroy(&self->table);
    free(self);
    *self_p = NULL;
}

void *session_map_get(session_map_t *self, const char *id)
{
    s_entry_t *e = id ? zhashx_lookup(self->table, id) : NULL;
    if (!e) return NULL;
    e->last_us = time_mono_us();
    return e->state;
}

void *session_map_open(session_map_t *self, const char *id)
{
    if (!id || !*id) return NULL;
    void *state = session_map_get(self, id);
    if (state) return state;
    if (zhashx_size(self->table) >= self->max) {
        uint64_t sup = 0;
        if (log_ratelimit_ok(&self->rl, &sup))
            log_session_warn(id, "refused: already %zu sessions (%llu similar suppressed)", self->max,
                             (unsigned long long)sup);
        return NULL;
    }
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->state = self->make(id, self->arg);
    if (!e->state) {
        free(e);
        return NULL;
    }
    e->last_us = time_mono_us();
    zhashx_insert(self->table, id, e);
    return e->state;
}

void session_map_end(session_map_t *self, const char *id, const char *why)
{
    if (id) s_free(self, id, why);
}

size_t session_map_reap(session_map_t *self)
{
    int64_t now = time_mono_us();
    size_t n = 0;
    zlistx_t *keys = zhashx_keys(self->table);
    for (char *id = zlistx_first(keys); id; id = zlistx_next(keys)) {
        s_entry_t *e = zhashx_lookup(self->table, id);
        if (e && now - e->last_us > self->idle_us) {
            s_free(self, id, "idle");
            n++;
        }
    }
    zlistx_destroy(&keys);
    return n;
}

void session_map_foreach(session_map_t *self, session_visit_fn *fn, void *arg)
{
    zlistx_t *keys = zhashx_keys(self->table);
    for (char *id = zlistx_first(keys); id; id = zlistx_next(keys)) {
        s_entry_t *e = zhashx_lookup(self->table, id);
        if (e) fn(id, e->state, arg);
    }
    zlistx_destroy(&keys);
}

size_t session_map_size(const session_map_t *self)
{
    return zhashx_size(self->table);
}
