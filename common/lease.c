/* lease — see lease.h. */
#include "lease.h"
#include "log.h"
#include "session_map.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    /* The beat thread: beats go on while the loop is busy (a PocketSphinx
     * decode holds it for a while), but stop when the loop is stuck. */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_llong loop_alive_us;   /* monotonic: the loop's last tick */
    atomic_uint a_sessions, a_busy, a_capacity;
    metric_t *m_gains, *m_losses, *m_assigned;
};

#define LEASE_SESSIONS_MAX 100000
#define LEASE_IDLE_US (60 * 1000000LL)      /* the dispatcher refreshes every second */
#define LEASE_DISPATCHER_SILENT_US (3 * 1000000LL)
#define LEASE_LIST_MS 1000                   /* the loop sends the full session list this often */
#define LEASE_LOOP_STUCK_US (2 * 1000000LL)  /* no beats when the loop has not ticked for this long */

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
    /* The id lives only during the visit. */
    if (e->mine && l->n < l->cap && (l->ids[l->n] = strdup(id))) l->n++;
}

/* One beat: the load from the atomics (written by the loop's tick), and the
 * served sessions when a list is given. */
static void s_publish_beat(lease_t *self, const char *topic, char **serving, size_t n, bool full)
{
    Voxmesh__WorkerHeartbeat h = VOXMESH__WORKER_HEARTBEAT__INIT;
    h.role = self->role;
    h.sessions = atomic_load(&self->a_sessions);
    h.busy = atomic_load(&self->a_busy);
    h.capacity = atomic_load(&self->a_capacity);
    h.serving = serving;
    h.n_serving = n;
    h.full_list = full;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_WORKER_HEARTBEAT;
    ev.worker_heartbeat = &h;
    bus_publish(service_bus(self->svc), topic, &ev);
}

static void *s_beat_thread(void *arg)
{
    lease_t *self = arg;
    while (!atomic_load(&self->stop)) {
        if (time_mono_us() - atomic_load(&self->loop_alive_us) < LEASE_LOOP_STUCK_US)
            s_publish_beat(self, TOPIC_WORKER_HB, NULL, 0, false);
        struct timespec ts = { 0, LEASE_HEARTBEAT_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* The loop's side, every heartbeat: the load for the thread's beats; every
 * second the list of the sessions served (a restarted dispatcher adopts
 * them), on a topic of its own (health.worker.list.). */
static int s_tick(service_t *svc, void *arg)
{
    lease_t *self = arg;
    bus_t *bus = service_bus(svc);
    if (!bus) return 0;
    s_metrics(self);
    atomic_store(&self->loop_alive_us, time_mono_us());
    unsigned busy = 0, capacity = 0;
    if (self->cfg.load) self->cfg.load(self->cfg.arg, &busy, &capacity);
    atomic_store(&self->a_busy, busy);
    atomic_store(&self->a_capacity, capacity);
    atomic_store(&self->a_sessions, (unsigned)self->nmine);
    if (!self->thread_started) {
        atomic_store(&self->stop, false);
        if (pthread_create(&self->thread, NULL, s_beat_thread, self) == 0) self->thread_started = true;
        else log_warn("lease: cannot start the heartbeat thread: beats stop while the loop is busy");
    }
    if (!self->thread_started) s_publish_beat(self, TOPIC_WORKER_HB, NULL, 0, false);
    if (++self->beats % (LEASE_LIST_MS / LEASE_HEARTBEAT_MS) == 0) {
        if (self->dispatched) {
            s_list_t list = { NULL, 0, self->nmine };
            list.ids = list.cap ? calloc(list.cap, sizeof *list.ids) : NULL;
            if (list.ids) session_map_foreach(self->map, s_collect, &list);
            s_publish_beat(self, TOPIC_WORKER_LIST, list.ids, list.n, !list.cap || list.ids);
            for (size_t i = 0; i < list.n; i++) free(list.ids[i]);
            free(list.ids);
        }
        session_map_reap(self->map);
    }
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
    atomic_init(&self->stop, false);
    atomic_init(&self->loop_alive_us, 0);
    atomic_init(&self->a_sessions, 0);
    atomic_init(&self->a_busy, 0);
    atomic_init(&self->a_capacity, 0);
    service_publishes(svc, TOPIC_WORKER_HB);
    if (service_on_optional(svc, TOPIC_WORKER_ASSIGN, s_on_assign, self) < 0
        || service_every(svc, LEASE_HEARTBEAT_MS, s_tick, self) < 0) {
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
    if (self->thread_started) {
        atomic_store(&self->stop, true);
        pthread_join(self->thread, NULL);
    }
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
