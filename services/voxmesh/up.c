/* up — `voxmesh up GRAPH`: check the graph, start the bus and every service
 * replica, wait until every declared subscription is live, then keep them
 * running (restart with backoff) until SIGTERM/SIGINT stops them all.
 *
 * Readiness is observed, not guessed: children get a NOTIFY_SOCKET of ours
 * and send sd_notify READY=1 like they would to systemd, and the bus proxy
 * counts the live subscriptions of every topic the graph declares. Only when
 * both are complete does `up` say ready — no sleep-and-hope, no slow joiners.
 *
 * Replicas that serve /metrics report the endpoint they bound the same way
 * (VOXMESH_METRICS=addr:port); `up` lists them in a Prometheus targets file
 * (targets.h).
 *
 * With a direct bus (docs/bus.md) the proxy no longer sees the data
 * subscriptions: a subscribing replica says VOXMESH_DIRECT=linked once its
 * SUB has completed a handshake with every publisher it was given. */
#include "cli.h"
#include "check.h"
#include "registry.h"
#include "targets.h"
#include "graph.h"
#include "bus.h"
#include "bus_proxy.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define UP_READY_TIMEOUT_MS  60000   /* model loading on a busy machine takes a while */
#define UP_STOP_TIMEOUT_MS   5000
#define UP_BACKOFF_MIN_MS    100
#define UP_BACKOFF_MAX_MS    10000
#define UP_STABLE_MS         30000   /* running this long resets the backoff */

typedef struct {
    const graph_service_t *svc;
    int replica;
    char label[160];
    pid_t pid;                /* 0: not running */
    bool ready;
    bool linked;              /* direct bus: connected to all its publishers */
    int64_t started_ms;
    int64_t restart_at_ms;    /* when to start again, 0: not scheduled */
    int backoff_ms;
    unsigned restarts;
    char metrics[80];         /* its /metrics "addr:port" (sd_notify VOXMESH_METRICS=), "" if none */
} s_proc_t;

typedef struct {
    graph_t *graph;
    busconf_proxy_t bus;      /* the proxy, when this host runs it */
    bus_proxy_t *proxy;       /* bus.proxy */
    bus_t *health;            /* we consume every service's health events */
    s_proc_t *procs;
    size_t nprocs;
    int sigfd;
    int notify_fd;
    char notify_path[108];
} s_up_t;

static int64_t s_now_ms(void) { return time_mono_us() / 1000; }

static int s_spawn(s_up_t *up, s_proc_t *p)
{
    char **argv = graph_argv(up->graph, p->svc, p->replica);
    if (!argv) return log_error_errno(ENOMEM, "%s: cannot build its command line", p->label);
    pid_t pid = fork();
    if (pid < 0) {
        graph_argv_destroy(&argv);
        return log_error_errno(errno, "%s: fork: %m", p->label);
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setenv("NOTIFY_SOCKET", up->notify_path, 1);
        execv(argv[0], argv);
        fprintf(stderr, "voxmesh: %s: exec %s: %s\n", p->label, argv[0], strerror(errno));
        _exit(127);
    }
    graph_argv_destroy(&argv);
    p->pid = pid;
    p->ready = false;
    p->linked = false;
    p->started_ms = s_now_ms();
    p->restart_at_ms = 0;
    log_info("started %s (pid %d)", p->label, (int)pid);
    return 0;
}

/* The Prometheus targets file: every running replica's /metrics. */
static void s_write_targets(s_up_t *up)
{
    targets_entry_t *t = calloc(up->nprocs ? up->nprocs : 1, sizeof *t);
    if (!t) return;
    for (size_t i = 0; i < up->nprocs; i++)
        t[i] = (targets_entry_t){ up->procs[i].svc->name, up->procs[i].label, up->procs[i].metrics };
    targets_write(t, up->nprocs);
    free(t);
}

static s_proc_t *s_find_pid(s_up_t *up, pid_t pid)
{
    for (size_t i = 0; i < up->nprocs; i++)
        if (up->procs[i].pid == pid) return &up->procs[i];
    return NULL;
}

/* Reaps exited children; schedules restarts unless we are stopping. */
static void s_reap(s_up_t *up, bool stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        s_proc_t *p = s_find_pid(up, pid);
        if (!p) continue;
        p->pid = 0;
        p->ready = false;
        p->linked = false;
        if (p->metrics[0] && !stopping) {
            p->metrics[0] = 0;
            s_write_targets(up);
        }
        char how[64];
        if (WIFSIGNALED(status)) snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
        else snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        if (stopping) {
            log_info("%s %s", p->label, how);
            continue;
        }
        int64_t ran = s_now_ms() - p->started_ms;
        if (ran >= UP_STABLE_MS) p->backoff_ms = 0;
        p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : UP_BACKOFF_MIN_MS;
        if (p->backoff_ms > UP_BACKOFF_MAX_MS) p->backoff_ms = UP_BACKOFF_MAX_MS;
        p->restart_at_ms = s_now_ms() + p->backoff_ms;
        p->restarts++;
        log_warn("%s %s after %lld ms; restarting in %d ms (restart #%u)", p->label, how,
                 (long long)ran, p->backoff_ms, p->restarts);
    }
}

/* Reads sd_notify datagrams; the sender is identified by its credentials. */
static void s_read_notify(s_up_t *up)
{
    for (;;) {
        char buf[1024];
        char cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = { buf, sizeof buf - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                             .msg_controllen = sizeof cbuf };
        ssize_t n = recvmsg(up->notify_fd, &mh, MSG_DONTWAIT);
        if (n < 0) return;
        buf[n] = 0;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_type != SCM_CREDENTIALS) continue;
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        s_proc_t *p = s_find_pid(up, cred.pid);
        if (p && strstr(buf, "READY=1") && !p->ready) {
            p->ready = true;
            log_debug("%s is ready", p->label);
        }
        if (p && strstr(buf, "VOXMESH_DIRECT=linked") && !p->linked) {
            p->linked = true;
            log_debug("%s is connected to its direct publishers", p->label);
        }
        const char *ep = p ? strstr(buf, "VOXMESH_METRICS=") : NULL;
        if (ep) {
            ep += strlen("VOXMESH_METRICS=");
            snprintf(p->metrics, sizeof p->metrics, "%.*s", (int)strcspn(ep, "\n"), ep);
            s_write_targets(up);
        }
    }
}

static int s_open_notify(s_up_t *up)
{
    up->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (up->notify_fd < 0) return log_error_errno(errno, "socket: %m");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    /* An abstract socket: nothing to clean up, private to this network namespace. */
    snprintf(up->notify_path, sizeof up->notify_path, "@voxmesh-up-%d", (int)getpid());
    strncpy(sa.sun_path + 1, up->notify_path + 1, sizeof sa.sun_path - 2);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(up->notify_path));
    if (bind(up->notify_fd, (struct sockaddr *)&sa, len) < 0)
        return log_error_errno(errno, "bind %s: %m", up->notify_path);
    int one = 1;
    setsockopt(up->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    return 0;
}

/* True when every declared subscription is live at the proxy, with one
 * subscription per subscribing replica. Logs what is missing when asked. */
static bool s_subscriptions_live(s_up_t *up, bool report)
{
    bool all = true;
    for (size_t i = 0; i < graph_size(up->graph); i++) {
        const graph_service_t *s = graph_service(up->graph, i);
        for (size_t t = 0; t < s->subscribes_size; t++) {
            const char *topic = s->subscribes[t];
            int want = 0;
            for (size_t j = 0; j < graph_size(up->graph); j++) {
                const graph_service_t *o = graph_service(up->graph, j);
                for (size_t u = 0; u < o->subscribes_size; u++)
                    if (!strcmp(o->subscribes[u], topic)) want += o->replicas;
            }
            int have = bus_proxy_subscriptions(up->proxy, topic);
            if (have < want) {
                all = false;
                if (report) log_error("subscription '%s' of '%s' is not live (%d of %d)", topic, s->name, have, want);
            }
        }
    }
    return all;
}

/* Logs health events that say something is wrong (degraded, and the bus
 * proxy's handshake failures); "ready" and "stopping" are routine. */
static void s_read_health(s_up_t *up)
{
    bus_msg_t *m;
    while ((m = bus_recv(up->health, 0))) {
        /* Our own proxy logs its refusals itself. */
        bool ours = up->proxy && m->ev->publisher && !strcmp(m->ev->publisher, "bus");
        if (m->ev->payload_case == VOXMESH__ENVELOPE__PAYLOAD_HEALTH && !ours) {
            const Voxmesh__ServiceHealth *h = m->ev->health;
            if (h->state && (!strcmp(h->state, "degraded") || strstr(h->state, "failed")))
                log_warn("health: %s is %s: %s", h->service, h->state, h->detail ? h->detail : "");
        }
        bus_msg_destroy(&m);
    }
}

/* Direct bus: every replica that subscribes has connected to every
 * publisher of its topics (the proxy sees only the monitor's). */
static bool s_direct_live(s_up_t *up, bool report)
{
    bool all = true;
    for (size_t i = 0; i < up->nprocs; i++) {
        const s_proc_t *p = &up->procs[i];
        if (p->svc->subscribes_size + p->svc->listens_size == 0 || p->linked) continue;
        all = false;
        if (report) log_error("%s did not connect to all its direct publishers", p->label);
    }
    return all;
}

static bool s_all_ready(s_up_t *up, bool report)
{
    /* With the bus on another host, its proxy sees the subscriptions: here
     * we know our own processes only. */
    bool all = graph_bus_direct(up->graph) ? s_direct_live(up, report)
             : up->proxy ? s_subscriptions_live(up, report) : true;
    for (size_t i = 0; i < up->nprocs; i++) {
        if (!up->procs[i].ready) {
            all = false;
            if (report) log_error("%s did not report ready", up->procs[i].label);
        }
    }
    return all;
}

static void s_stop_all(s_up_t *up)
{
    for (size_t i = 0; i < up->nprocs; i++)
        if (up->procs[i].pid > 0) kill(up->procs[i].pid, SIGTERM);
    int64_t deadline = s_now_ms() + UP_STOP_TIMEOUT_MS;
    for (;;) {
        s_reap(up, true);
        bool any = false;
        for (size_t i = 0; i < up->nprocs; i++) any |= up->procs[i].pid > 0;
        if (!any) return;
        if (s_now_ms() >= deadline) break;
        struct pollfd pfd = { up->sigfd, POLLIN, 0 };
        if (poll(&pfd, 1, 50) > 0) {
            struct signalfd_siginfo si;
            while (read(up->sigfd, &si, sizeof si) == sizeof si) {}
        }
    }
    for (size_t i = 0; i < up->nprocs; i++) {
        if (up->procs[i].pid > 0) {
            log_warn("%s did not stop within %d ms: SIGKILL", up->procs[i].label, UP_STOP_TIMEOUT_MS);
            kill(up->procs[i].pid, SIGKILL);
        }
    }
    while (waitpid(-1, NULL, 0) > 0) {}
}

static int s_build_procs(s_up_t *up)
{
    size_t n = 0;
    for (size_t i = 0; i < graph_size(up->graph); i++) n += (size_t)graph_service(up->graph, i)->replicas;
    up->procs = calloc(n ? n : 1, sizeof *up->procs);
    if (!up->procs) return -ENOMEM;
    for (size_t i = 0; i < graph_size(up->graph); i++) {
        const graph_service_t *s = graph_service(up->graph, i);
        if (s->remote) continue;          /* another host runs it */
        for (int r = 0; r < s->replicas; r++) {
            s_proc_t *p = &up->procs[up->nprocs++];
            p->svc = s;
            p->replica = r;
            if (s->replicas > 1) snprintf(p->label, sizeof p->label, "%s.%d", s->name, r);
            else snprintf(p->label, sizeof p->label, "%s", s->name);
        }
    }
    return 0;
}

/* The main loop: signals, children, readiness, restarts. */
static int s_supervise(s_up_t *up)
{
    bool announced = false;
    int64_t ready_deadline = s_now_ms() + UP_READY_TIMEOUT_MS;
    for (;;) {
        struct pollfd pfd[3] = { { up->sigfd, POLLIN, 0 }, { up->notify_fd, POLLIN, 0 },
                                 { bus_sub_fd(up->health), POLLIN, 0 } };
        poll(pfd, 3, 20);
        s_read_health(up);
        if (pfd[1].revents) s_read_notify(up);
        if (pfd[0].revents) {
            struct signalfd_siginfo si;
            while (read(up->sigfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    log_info("stopping on signal %d", (int)si.ssi_signo);
                    sd_notify(0, "STOPPING=1");
                    s_stop_all(up);
                    return 0;
                }
            }
            s_reap(up, false);
        }
        int64_t now = s_now_ms();
        for (size_t i = 0; i < up->nprocs; i++) {
            s_proc_t *p = &up->procs[i];
            if (p->pid == 0 && p->restart_at_ms && now >= p->restart_at_ms) s_spawn(up, p);
        }
        if (!announced && s_all_ready(up, false)) {
            announced = true;
            printf("voxmesh: ready: %zu processes of %zu services; bus %s -> %s%s%s\n", up->nprocs,
                   graph_size(up->graph), graph_bus_pub(up->graph), graph_bus_sub(up->graph),
                   up->proxy ? "" : " (on another host)", graph_bus_direct(up->graph) ? " (direct)" : "");
            fflush(stdout);
            sd_notifyf(0, "READY=1\nSTATUS=%zu processes running", up->nprocs);
        }
        if (!announced && now > ready_deadline) {
            log_error("the stack did not become ready within %d ms", UP_READY_TIMEOUT_MS);
            s_all_ready(up, true);
            s_stop_all(up);
            return 1;
        }
    }
}

int up_main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: voxmesh up GRAPH\n");
        return 2;
    }
    log_init("voxmesh", LOG_LEVEL_INFO, false);
    s_up_t up = { .sigfd = -1, .notify_fd = -1 };
    char *err = NULL;
    up.graph = graph_load(argv[1], NULL, &err);
    if (!up.graph) {
        fprintf(stderr, "%s\n", err ? err : "cannot load the graph");
        free(err);
        return 1;
    }
    int rc = 1;
    if (graph_check(up.graph, stderr) > 0) {
        fprintf(stderr, "voxmesh: refusing to start a broken graph\n");
        goto out;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    up.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (up.sigfd < 0 || s_open_notify(&up) < 0 || s_build_procs(&up) < 0) goto out;
    if (!graph_bus_external(up.graph)) {
        if (busconf_proxy_start(&up.bus, graph_busconf(up.graph), graph_bus_pub(up.graph), graph_bus_sub(up.graph)) < 0)
            goto out;
        up.proxy = up.bus.proxy;
    }
    bus_curve_t curve;
    up.health = bus_new_curve("voxmesh-up", NULL, graph_bus_sub(up.graph), NULL,
                              busconf_client(graph_busconf(up.graph), &curve));
    if (!up.health || bus_subscribe(up.health, TOPIC_HEALTH) < 0) goto out;
    /* So that `voxmesh mon` finds this stack without --bus. */
    registry_add(argv[1], graph_bus_pub(up.graph), graph_bus_sub(up.graph));
    /* So that a Prometheus on this machine finds every /metrics (file_sd). */
    targets_open(argv[1]);
    for (size_t i = 0; i < up.nprocs; i++)
        if (s_spawn(&up, &up.procs[i]) < 0) {
            s_stop_all(&up);
            goto out;
        }
    rc = s_supervise(&up);
out:
    targets_close();
    registry_remove();
    bus_destroy(&up.health);
    busconf_proxy_stop(&up.bus);
    up.proxy = NULL;
    if (up.sigfd >= 0) close(up.sigfd);
    if (up.notify_fd >= 0) close(up.notify_fd);
    free(up.procs);
    graph_destroy(&up.graph);
    return rc;
}
