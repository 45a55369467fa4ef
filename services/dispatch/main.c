/* voxmesh-dispatch — routes sessions across the workers of a scaled-out
 * role (STT, TTS): each session's work of a role goes to one live worker,
 * the least loaded when the session starts, and moves to another when that
 * worker stops beating (docs/workers.md).
 *
 * Workers beat on health.worker. (common/lease.h); the dispatcher answers
 * on worker.assign.: one event per (session, role) when the assignment is
 * made or moved, all of them again every second (a worker that missed one,
 * or joined, learns the table), and an empty-session beat of its own every
 * heartbeat so that workers know a dispatcher routes them.
 *
 * Epochs are the dispatcher's wall clock at the assignment (µs), so a
 * restarted dispatcher's word is newer than its predecessor's; it rebuilds
 * its table from the session lists the workers send every second.
 *
 * The dispatcher holds no audio and no text: a worker that takes a session
 * over redoes the work in flight from what it kept itself (every worker
 * keeps every session's current utterance or reply). */
#include "service.h"
#include "lease.h"
#include "log.h"
#include "session_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DISPATCH_WORKERS_MAX 256
#define DISPATCH_ROLES_MAX 4
#define DISPATCH_REFRESH_MS 1000

typedef struct {
    char role[16];
    char id[160];              /* the worker's bus publisher id */
    int64_t last_us;           /* monotonic: its last beat */
    int64_t joined_us;
    unsigned sessions;         /* assigned by us */
    unsigned busy, capacity;   /* as it reported */
    bool alive;
} s_worker_t;

typedef struct {
    char role[16];
    char worker[160];          /* "" : none (no live worker of the role) */
    uint64_t epoch;
} s_slot_t;

typedef struct {
    s_slot_t slots[DISPATCH_ROLES_MAX];
    size_t nslots;
} s_session_t;

typedef struct {
    service_t *svc;
    session_map_t *sessions;
    s_worker_t workers[DISPATCH_WORKERS_MAX];
    size_t nworkers;
    long dead_ms;
    int64_t last_refresh_us;
    metric_t *m_assign, *m_failover, *m_orphans, *m_live, *m_detect;
    size_t orphans;
} s_disp_t;

/* Which role serves which input: a session is given a worker of the role
 * at its start, or at its first input for the role. */
static const struct {
    const char *topic;
    const char *role;
} s_routes[] = {
    { TOPIC_SPEECH_SEGMENT, "stt" },
    { TOPIC_LLM_SENTENCE, "tts" },
};

static uint64_t s_epoch(uint64_t previous)
{
    uint64_t now = (uint64_t)time_now_us();
    return now > previous ? now : previous + 1;
}

static s_worker_t *s_find_worker(s_disp_t *d, const char *id)
{
    for (size_t i = 0; i < d->nworkers; i++)
        if (!strcmp(d->workers[i].id, id)) return &d->workers[i];
    return NULL;
}

/* The live worker of the role with the fewest sessions (then the least
 * busy, then the oldest). */
static s_worker_t *s_least_loaded(s_disp_t *d, const char *role)
{
    s_worker_t *best = NULL;
    for (size_t i = 0; i < d->nworkers; i++) {
        s_worker_t *w = &d->workers[i];
        if (!w->alive || strcmp(w->role, role)) continue;
        if (!best || w->sessions < best->sessions || (w->sessions == best->sessions && w->busy < best->busy))
            best = w;
    }
    return best;
}

static void s_publish(s_disp_t *d, const char *session, const s_slot_t *slot, const char *previous,
                      const char *reason)
{
    Voxmesh__WorkerAssign a = VOXMESH__WORKER_ASSIGN__INIT;
    a.role = (char *)slot->role;
    a.worker = (char *)slot->worker;
    a.epoch = slot->epoch;
    a.previous = (char *)(previous ? previous : "");
    a.reason = (char *)reason;
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.session_id = (char *)session;
    ev.origin_ts_us = time_now_us();
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_WORKER_ASSIGN;
    ev.worker_assign = &a;
    bus_publish(service_bus(d->svc), TOPIC_WORKER_ASSIGN, &ev);
}

static s_slot_t *s_slot(s_session_t *s, const char *role, bool make)
{
    for (size_t i = 0; i < s->nslots; i++)
        if (!strcmp(s->slots[i].role, role)) return &s->slots[i];
    if (!make || s->nslots == DISPATCH_ROLES_MAX) return NULL;
    s_slot_t *slot = &s->slots[s->nslots++];
    memset(slot, 0, sizeof *slot);
    snprintf(slot->role, sizeof slot->role, "%s", role);
    return slot;
}

static void s_count_orphans(const char *id, void *state, void *arg)
{
    (void)id;
    s_session_t *s = state;
    size_t *n = arg;
    for (size_t i = 0; i < s->nslots; i++)
        if (!s->slots[i].worker[0]) (*n)++;
}

static void s_orphans_update(s_disp_t *d)
{
    size_t n = 0;
    session_map_foreach(d->sessions, s_count_orphans, &n);
    d->orphans = n;
    metric_set(d->m_orphans, (double)n);
}

/* Gives the session's role to the least-loaded live worker (or leaves it
 * waiting for one). */
static void s_assign(s_disp_t *d, const char *session, s_slot_t *slot, const char *reason)
{
    char previous[160];
    snprintf(previous, sizeof previous, "%s", slot->worker);
    s_worker_t *old = previous[0] ? s_find_worker(d, previous) : NULL;
    if (old && old->sessions) old->sessions--;
    s_worker_t *w = s_least_loaded(d, slot->role);
    if (!w) {
        if (slot->worker[0] || !slot->epoch)
            log_warn("session %s: no live %s worker: the session waits for one", session, slot->role);
        slot->worker[0] = 0;
        slot->epoch = s_epoch(slot->epoch);
        return;
    }
    w->sessions++;
    snprintf(slot->worker, sizeof slot->worker, "%s", w->id);
    slot->epoch = s_epoch(slot->epoch);
    metric_add(d->m_assign, 1);
    log_info("session %s: %s -> %s (%s%s%s, %u sessions there)", session, slot->role, w->id, reason,
             previous[0] ? ", was " : "", previous, w->sessions);
    s_publish(d, session, slot, previous, reason);
}

static bool s_role_known(s_disp_t *d, const char *role)
{
    for (size_t i = 0; i < d->nworkers; i++)
        if (!strcmp(d->workers[i].role, role)) return true;
    return false;
}

/* The session needs a worker of the role (its start, or an input for it). */
static void s_need(s_disp_t *d, const char *session, const char *role, const char *reason)
{
    s_session_t *s = session_map_open(d->sessions, session);
    if (!s) return;
    s_slot_t *slot = s_slot(s, role, false);
    if (slot) return;
    if (!(slot = s_slot(s, role, true))) return;
    s_assign(d, session, slot, reason);
    s_orphans_update(d);
}

static int s_on_session(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_disp_t *d = arg;
    const event_t *ev = m->ev;
    if (!ev->session_id || !*ev->session_id) return 0;
    if (ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_STARTED) {
        for (size_t r = 0; r < sizeof s_routes / sizeof s_routes[0]; r++)
            if (s_role_known(d, s_routes[r].role)) s_need(d, ev->session_id, s_routes[r].role, "new");
    } else if (ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_SESSION_ENDED) {
        session_map_end(d->sessions, ev->session_id, "ended");
        s_orphans_update(d);
    }
    return 0;
}

static int s_on_input(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_disp_t *d = arg;
    const event_t *ev = m->ev;
    if (!ev->session_id || !*ev->session_id) return 0;
    for (size_t r = 0; r < sizeof s_routes / sizeof s_routes[0]; r++)
        if (!strncmp(m->topic, s_routes[r].topic, strlen(s_routes[r].topic)) && s_role_known(d, s_routes[r].role)) {
            s_session_t *s = session_map_get(d->sessions, ev->session_id);
            if (!s || !s_slot(s, s_routes[r].role, false)) s_need(d, ev->session_id, s_routes[r].role, "new");
        }
    return 0;
}

typedef struct {
    s_disp_t *d;
    const char *role;
    const char *worker;        /* the sessions of this worker (NULL: orphans of the role) */
    const char *reason;
    size_t moved;
} s_move_t;

static void s_move_one(const char *id, void *state, void *arg)
{
    s_move_t *mv = arg;
    s_session_t *s = state;
    s_slot_t *slot = s_slot(s, mv->role, false);
    if (!slot) return;
    if (mv->worker ? strcmp(slot->worker, mv->worker) : slot->worker[0] != 0) return;
    s_assign(mv->d, id, slot, mv->reason);
    mv->moved++;
}

/* A worker's beat: its load, and (every second) the sessions it serves,
 * which a restarted dispatcher adopts. */
static int s_on_beat(service_t *svc, bus_msg_t *m, void *arg)
{
    (void)svc;
    s_disp_t *d = arg;
    const event_t *ev = m->ev;
    if (ev->payload_case != VOXMESH__ENVELOPE__PAYLOAD_WORKER_HEARTBEAT || !ev->publisher || !*ev->publisher) return 0;
    const Voxmesh__WorkerHeartbeat *h = ev->worker_heartbeat;
    if (!h->role || !*h->role || strlen(h->role) >= sizeof d->workers[0].role) return 0;
    s_worker_t *w = s_find_worker(d, ev->publisher);
    int64_t now = time_mono_us();
    if (!w) {
        /* A dead worker's slot is reused first. */
        for (size_t i = 0; i < d->nworkers && !w; i++)
            if (!d->workers[i].alive && !d->workers[i].sessions) w = &d->workers[i];
        if (!w && d->nworkers < DISPATCH_WORKERS_MAX) w = &d->workers[d->nworkers++];
        if (!w) {
            log_warn("worker %s: more than %d workers: ignored", ev->publisher, DISPATCH_WORKERS_MAX);
            return 0;
        }
        memset(w, 0, sizeof *w);
        snprintf(w->role, sizeof w->role, "%s", h->role);
        snprintf(w->id, sizeof w->id, "%s", ev->publisher);
        w->joined_us = now;
    }
    if (!w->alive) {
        w->alive = true;
        log_info("worker %s (%s) is live: it takes new sessions", w->id, w->role);
    }
    w->last_us = now;
    w->busy = h->busy;
    w->capacity = h->capacity;
    if (h->full_list) {
        for (size_t i = 0; i < h->n_serving; i++) {
            s_session_t *s = session_map_open(d->sessions, h->serving[i]);
            if (!s) continue;
            s_slot_t *slot = s_slot(s, w->role, false);
            if (slot) continue;
            if (!(slot = s_slot(s, w->role, true))) continue;
            snprintf(slot->worker, sizeof slot->worker, "%s", w->id);
            slot->epoch = s_epoch(0);
            w->sessions++;
            log_info("session %s: %s stays with %s (table rebuilt from its beat)", h->serving[i], w->role, w->id);
            s_publish(d, h->serving[i], slot, "", "rebuilt");
        }
    }
    /* Sessions waiting for a worker of this role get this one (or another). */
    if (d->orphans) {
        s_move_t mv = { d, w->role, NULL, "new", 0 };
        session_map_foreach(d->sessions, s_move_one, &mv);
        if (mv.moved) s_orphans_update(d);
    }
    return 0;
}

static void s_refresh_one(const char *id, void *state, void *arg)
{
    s_disp_t *d = arg;
    s_session_t *s = state;
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i].worker[0]) s_publish(d, id, &s->slots[i], "", "refresh");
}

static void s_live_metric(s_disp_t *d)
{
    metrics_t *mx = service_metrics(d->svc);
    for (size_t r = 0; r < sizeof s_routes / sizeof s_routes[0]; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "role=\"%s\"", s_routes[r].role);
        metric_t *g = metrics_gauge(mx, "voxmesh_dispatch_workers", labels, "Live workers per role");
        unsigned n = 0;
        for (size_t i = 0; i < d->nworkers; i++)
            if (d->workers[i].alive && !strcmp(d->workers[i].role, s_routes[r].role)) n++;
        metric_set(g, n);
    }
}

/* Every heartbeat: the dispatcher's own beat, dead workers' sessions moved;
 * every second the whole table again. */
static int s_tick(service_t *svc, void *arg)
{
    s_disp_t *d = arg;
    int64_t now = time_mono_us();
    for (size_t i = 0; i < d->nworkers; i++) {
        s_worker_t *w = &d->workers[i];
        if (!w->alive || now - w->last_us <= d->dead_ms * 1000) continue;
        w->alive = false;
        unsigned had = w->sessions;
        log_warn("worker %s (%s): no beat for %lld ms: dead; its %u sessions move", w->id, w->role,
                 (long long)((now - w->last_us) / 1000), had);
        s_move_t mv = { d, w->role, w->id, "failover", 0 };
        session_map_foreach(d->sessions, s_move_one, &mv);
        w->sessions = 0;
        metric_add(d->m_failover, (double)mv.moved);
        metric_observe(d->m_detect, (now - w->last_us) / 1e6);
        s_orphans_update(d);
    }
    Voxmesh__WorkerAssign a = VOXMESH__WORKER_ASSIGN__INIT;
    for (size_t r = 0; r < sizeof s_routes / sizeof s_routes[0]; r++) {
        if (!s_role_known(d, s_routes[r].role)) continue;
        a.role = (char *)s_routes[r].role;
        event_t ev = VOXMESH__ENVELOPE__INIT;
        ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_WORKER_ASSIGN;
        ev.worker_assign = &a;
        bus_publish(service_bus(svc), TOPIC_WORKER_ASSIGN, &ev);
    }
    if (now - d->last_refresh_us >= DISPATCH_REFRESH_MS * 1000) {
        d->last_refresh_us = now;
        session_map_foreach(d->sessions, s_refresh_one, d);
        session_map_reap(d->sessions);
        s_live_metric(d);
    }
    return 0;
}

static void *s_make(const char *id, void *arg)
{
    (void)id; (void)arg;
    return calloc(1, sizeof(s_session_t));
}

static void s_free(void *state, const char *id, const char *why, void *arg)
{
    (void)id; (void)why;
    s_disp_t *d = arg;
    s_session_t *s = state;
    for (size_t i = 0; i < s->nslots; i++) {
        s_worker_t *w = s->slots[i].worker[0] ? s_find_worker(d, s->slots[i].worker) : NULL;
        if (w && w->sessions) w->sessions--;
    }
    free(s);
}

static const service_option_t s_options[] = {
    { "dead-ms", "400", "a worker silent this long is dead and its sessions move (it beats every 100 ms)" },
    { "max-sessions", "100000", "sessions routed at once" },
    { "idle-timeout-ms", "600000", "forget a session without events this long (its end was missed)" },
    { NULL, NULL, NULL }
};

int main(int argc, char **argv)
{
    service_t *svc = service_new("dispatch", "Routes each session to one live STT and TTS worker; moves it when "
                                 "the worker dies.", s_options, argc, argv);
    if (!svc) return 2;
    s_disp_t d = { .svc = svc };
    service_publishes(svc, TOPIC_WORKER_ASSIGN);
    service_on(svc, TOPIC_WORKER_HB, s_on_beat, &d);
    service_on(svc, TOPIC_SESSION, s_on_session, &d);
    for (size_t r = 0; r < sizeof s_routes / sizeof s_routes[0]; r++)
        service_on_optional(svc, s_routes[r].topic, s_on_input, &d);
    service_every(svc, LEASE_HEARTBEAT_MS, s_tick, &d);
    int rc = service_start(svc);
    long max_sessions = 0, idle = 0;
    if (rc == 0 && (service_opt_int(svc, "dead-ms", 2 * LEASE_HEARTBEAT_MS, 600000, &d.dead_ms) < 0
                    || service_opt_int(svc, "max-sessions", 1, 10000000, &max_sessions) < 0
                    || service_opt_int(svc, "idle-timeout-ms", 1000, 86400000, &idle) < 0))
        rc = -1;
    if (rc == 0) {
        metrics_t *mx = service_metrics(svc);
        d.m_assign = metrics_counter(mx, "voxmesh_dispatch_assignments_total", NULL,
                                     "Sessions given to a worker (new or moved)");
        d.m_failover = metrics_counter(mx, "voxmesh_dispatch_failovers_total", NULL,
                                       "Sessions moved off a dead worker");
        d.m_orphans = metrics_gauge(mx, "voxmesh_dispatch_waiting_sessions", NULL,
                                    "Session roles waiting for a live worker");
        d.m_detect = metrics_histogram(mx, "voxmesh_dispatch_dead_detect_seconds", NULL,
                                       "A dead worker's last beat to its sessions moved", NULL, 0);
        d.sessions = session_map_new((size_t)max_sessions, idle * 1000, s_make, s_free, &d);
        rc = d.sessions ? service_run(svc) : -1;
    }
    session_map_destroy(&d.sessions);
    service_destroy(&svc);
    return rc < 0 ? 1 : rc == 1 ? 0 : rc;
}
