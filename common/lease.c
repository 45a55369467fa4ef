/* lease — see lease.h. */
#include "lease.h"
#include "log.h"
#include "session_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A session the dispatcher has said something about. */
typedef struct {
    lease_t *lease;
    char worker[160];          /* its worker */
    uint64_t epoch;
    bool mine;
} s_entry_t;

struct lease {
    service_t *svc;
    lease_config_t cfg;
    char role[16];
    bool dispatched;
    bool dispatcher_lost;      /* logged once per silence */
    int64_t dispatcher_seen_us; /* monotonic */
    char dispatcher[160];
    session_map_t *map;
    size_t nmine;
    unsigned beats;
    metric_t *m_gains, *m_losses, *m_assigned;
};

#define LEASE_SESSIONS_MAX 100000
#define LEASE_IDLE_US (60 * 1000000LL)      /* the dispatcher refreshes every second */
#define LEASE_DISPATCHER_SILENT_US (3 * 1000000LL)
#define LEASE_LIST_EVERY 10                  /* beats between full session lists */

static void *s_make(const char *id, void *arg)
{
    (void)id;
    s_entry_t *e = calloc(1, sizeof *e);
    if (e) e->lease = arg;
    return e;
}

static void s_free(void *state, const char *id, const char *why, void *arg)
{
    (void)id; (void)why; (void)arg;
    s_entry_t *e = state;
    if (e->mine) e->lease->nmine--;
    free(e);
}

const char *lease_worker(const lease_t *self)
{
    bus_t *bus = service_bus(self->svc);
    return bus ? bus_publisher(bus) : "";
}

static void s_metrics(lease_t *self)
{
    if (self->m_gains || !service_metrics(self->svc)) return;
    metrics_t *mx = service_metrics(self->svc);
    self->m_gains = metrics_counter(mx, "voxmesh_worker_sessions_gained_total", NULL,
                                    "Sessions the dispatcher gave this worker (new or taken over)");
    self->m_losses = metrics_counter(mx, "voxmesh_worker_sessions_lost_total", NULL,
                                     "Sessions the dispatcher moved to another worker");
    self->m_assigned = metrics_gauge(mx, "voxmesh_worker_sessions", NULL, "Sessions assigned to this worker");
}

static int s_on_assign(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    lease_t *self = arg;
    const event_t *ev = m->ev;
    if (ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_WORKER_ASSIGN) return 0;
    const Voxmesh__WorkerAssign *a = ev->worker_assign;
    if (!a->role || strcmp(a->role, self->role)) return 0;
    s_metrics(self);
    bool was_dispatched = self->dispatched;
    self->dispatcher_seen_us = time_mono_us();
    if (!self->dispatched || self->dispatcher_lost) {
        log_info("dispatcher %s routes the %s sessions: this worker (%s) serves the ones it is given",
                 ev->publisher ? ev->publisher : "?", self->role, lease_worker(self));
        self->dispatched = true;
        self->dispatcher_lost = false;
    }
    snprintf(self->dispatcher, sizeof self->dispatcher, "%s", ev->publisher ? ev->publisher : "");
    if (!ev->session_id || !*ev->session_id || !a->worker) return 0;   /* the dispatcher's beat */
    bool known = session_map_get(self->map, ev->session_id) != NULL;
    s_entry_t *e = session_map_open(self->map, ev->session_id);
    if (!e) return 0;
    if (known && a->epoch < e->epoch) return 0;                          /* an older word */
    /* A session served before any dispatcher was heard of was this worker's. */
    bool old_mine = known ? e->mine : !was_dispatched;
    bool new_mine = !strcmp(a->worker, lease_worker(self));
    snprintf(e->worker, sizeof e->worker, "%s", a->worker);
    e->epoch = a->epoch;
    if (e->mine != new_mine) self->nmine += new_mine ? 1 : (size_t)-1;
    e->mine = new_mine;
    metric_set(self->m_assigned, (double)self->nmine);
    if (new_mine && !old_mine) {
        metric_add(self->m_gains, 1);
        log_info("session %s: %s assigned here (epoch %llu, %s%s%s)", ev->session_id, self->role,
                 (unsigned long long)a->epoch, a->reason ? a->reason : "", a->previous && *a->previous ? ", was " : "",
                 a->previous ? a->previous : "");
        if (self->cfg.gain) self->cfg.gain(self->cfg.arg, ev->session_id);
    } else if (!new_mine && old_mine) {
        metric_add(self->m_losses, 1);
        log_info("session %s: %s moved to %s (epoch %llu): its work here is dropped", ev->session_id, self->role,
                 a->worker, (unsigned long long)a->epoch);
        if (self->cfg.loss) self->cfg.loss(self->cfg.arg, ev->session_id);
    }
    return 0;
}

typedef struct {
    char **ids;
    size_t n, cap;
} s_list_t;

static void s_collect(const char *id, void *state, void *arg)
{
    s_entry_t *e = state;
    s_list_t *l = arg;
    if (e->mine && l->n < l->cap) l->ids[l->n++] = (char *)id;
}

static int s_beat(service_t *svc, void *arg)
{
    lease_t *self = arg;
    bus_t *bus = service_bus(svc);
    if (!bus) return 0;
    s_metrics(self);
    Voxmesh__WorkerHeartbeat h = VOXMESH__WORKER_HEARTBEAT__INIT;
    h.role = self->role;
    h.sessions = (uint32_t)self->nmine;
    unsigned busy = 0, capacity = 0;
    if (self->cfg.load) self->cfg.load(self->cfg.arg, &busy, &capacity);
    h.busy = busy;
    h.capacity = capacity;
    s_list_t list = { NULL, 0, 0 };
    if (self->dispatched && self->beats % LEASE_LIST_EVERY == 0) {
        list.cap = self->nmine;
        list.ids = list.cap ? calloc(list.cap, sizeof *list.ids) : NULL;
        if (list.ids) session_map_foreach(self->map, s_collect, &list);
        h.serving = list.ids;
        h.n_serving = list.n;
        h.full_list = !list.cap || list.ids;
    }
    self->beats++;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_WORKER_HEARTBEAT;
    ev.worker_heartbeat = &h;
    bus_publish(bus, TOPIC_WORKER_HB, &ev);
    free(list.ids);
    if (self->beats % LEASE_LIST_EVERY == 0) session_map_reap(self->map);
    if (self->dispatched && !self->dispatcher_lost
        && time_mono_us() - self->dispatcher_seen_us > LEASE_DISPATCHER_SILENT_US) {
        self->dispatcher_lost = true;
        log_warn("no word from the dispatcher %s for %lld s: the %zu sessions assigned here go on; new sessions "
                 "wait for it", self->dispatcher, (long long)(LEASE_DISPATCHER_SILENT_US / 1000000), self->nmine);
    }
    return 0;
}

lease_t *lease_new(service_t *svc, const lease_config_t *cfg)
{
    if (!svc || !cfg || !cfg->role || strlen(cfg->role) >= sizeof ((lease_t *)0)->role) return NULL;
    lease_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->svc = svc;
    self->cfg = *cfg;
    snprintf(self->role, sizeof self->role, "%s", cfg->role);
    self->map = session_map_new(LEASE_SESSIONS_MAX, LEASE_IDLE_US, s_make, s_free, self);
    if (!self->map) {
        free(self);
        return NULL;
    }
    service_publishes(svc, TOPIC_WORKER_HB);
    if (service_on_optional(svc, TOPIC_WORKER_ASSIGN, s_on_assign, self) < 0
        || service_every(svc, LEASE_HEARTBEAT_MS, s_beat, self) < 0) {
        log_error("lease: cannot register with the service");
        lease_destroy(&self);
        return NULL;
    }
    return self;
}

void lease_destroy(lease_t **self_p)
{
    if (!self_p || !*self_p) return;
    lease_t *self = *self_p;
    session_map_destroy(&self->map);
    free(self);
    *self_p = NULL;
}

bool lease_mine(lease_t *self, const char *session)
{
    if (!self || !self->dispatched) return true;
    s_entry_t *e = session ? session_map_get(self->map, session) : NULL;
    return e && e->mine;
}

bool lease_dispatched(const lease_t *self)
{
    return self && self->dispatched;
}

void lease_end(lease_t *self, const char *session)
{
    if (self && session) session_map_end(self->map, session, "ended");
}

size_t lease_count(const lease_t *self)
{
    return self ? self->nmine : 0;
}
