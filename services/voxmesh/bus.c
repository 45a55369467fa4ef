/* bus — `voxmesh bus [--pub EP] [--sub EP] GRAPH`: runs only the bus proxy
 * of a graph, in the foreground, for deployments where systemd or a
 * container runtime starts each service on its own (systemd/, deploy/).
 * --pub/--sub bind other endpoints than the graph's: in a container the
 * proxy binds tcp://0.0.0.0:PORT while the services connect to
 * tcp://bus:PORT (docs/deploy-compose.md). READY=1 goes to systemd once
 * both sides are bound.
 *
 * Under a systemd watchdog (WatchdogSec=), WATCHDOG=1 is sent only while the
 * proxy really forwards: every quarter of the interval a probe publishes a
 * health event on "health.bus." through the bus and listens for it; a ping
 * goes out when a probe came back since the last tick. A proxy thread that
 * hangs therefore gets the unit killed and restarted. */
#include "cli.h"
#include "bus.h"
#include "bus_proxy.h"
#include "busconf.h"
#include "registry.h"
#include "zpl.h"
#include "log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

/* The endpoint a local tool connects to for one the proxy binds: a tcp
 * wildcard bind (tcp://0.0.0.0:P, or an asterisk for the address) is
 * reached at tcp://127.0.0.1:P, so that `voxmesh mon` next to the bus (in
 * its container) finds it. */
static const char *s_local(const char *bind, char *buf, size_t size)
{
    const char *port = NULL;
    if (!strncmp(bind, "tcp://*:", 8)) port = bind + 8;
    else if (!strncmp(bind, "tcp://0.0.0.0:", 14)) port = bind + 14;
    if (!port || snprintf(buf, size, "tcp://127.0.0.1:%s", port) >= (int)size) return bind;
    return buf;
}

#define BUS_PROBE_NAME "bus.watchdog"

/* Publishes one probe; returns true when an earlier one came back. */
static bool s_probe(bus_t *probe)
{
    bool back = false;
    bus_msg_t *msg;
    while ((msg = bus_recv(probe, 0))) {
        if (msg->ev && msg->ev->publisher && !strcmp(msg->ev->publisher, BUS_PROBE_NAME))
            back = true;
        bus_msg_destroy(&msg);
    }
    Voxmesh__ServiceHealth h = VOXMESH__SERVICE_HEALTH__INIT;
    h.service = "bus";
    h.state = "ok";
    h.detail = "watchdog probe";
    event_t ev = VOXMESH__ENVELOPE__INIT;
    ev.payload_case = VOXMESH__ENVELOPE__PAYLOAD_HEALTH;
    ev.health = &h;
    bus_publish(probe, "health.bus.", &ev);
    return back;
}

int bus_main(int argc, char **argv)
{
    const char *pub_opt = NULL, *sub_opt = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], **slot = NULL;
        if (!strncmp(a, "--pub", 5) && (a[5] == '=' || !a[5])) slot = &pub_opt;
        else if (!strncmp(a, "--sub", 5) && (a[5] == '=' || !a[5])) slot = &sub_opt;
        if (slot && a[5] == '=') *slot = a + 6;
        else if (slot && i + 1 < argc) *slot = argv[++i];
        else if (!slot && a[0] != '-' && !file) file = a;
        else { file = NULL; break; }
        if (slot && !**slot) { file = NULL; break; }
    }
    if (!file) {
        fprintf(stderr, "usage: voxmesh bus [--pub ENDPOINT] [--sub ENDPOINT] GRAPH\n");
        return 2;
    }
    /* Only the bus section is read: the services need not be installed here. */
    char *err = NULL;
    zpl_node_t *root = zpl_load(file, &err);
    if (!root) {
        fprintf(stderr, "%s\n", err ? err : "cannot read the graph");
        free(err);
        return 1;
    }
    const char *pub = pub_opt ? pub_opt : zpl_get(root, "bus/pub", NULL);
    const char *sub = sub_opt ? sub_opt : zpl_get(root, "bus/sub", NULL);
    if (!pub || !sub) {
        fprintf(stderr, "%s: the graph has no bus/pub and bus/sub\n", file);
        zpl_destroy(&root);
        return 1;
    }
    busconf_t conf;
    if (busconf_read(&conf, zpl_locate(root, "bus"), file, true) < 0) {
        busconf_fini(&conf);
        zpl_destroy(&root);
        return 1;
    }
    /* Blocked before the proxy thread starts, so that sigwait gets them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    busconf_proxy_t bus;
    int rc = 1;
    if (busconf_proxy_start(&bus, &conf, pub, sub) == 0) {
        log_info("bus: publishers -> %s, subscribers <- %s", pub, sub);
        char lpub[300], lsub[300];
        const char *lp = s_local(pub, lpub, sizeof lpub), *ls = s_local(sub, lsub, sizeof lsub);
        registry_add(file, lp, ls);
        uint64_t wd_usec = 0;
        if (sd_watchdog_enabled(0, &wd_usec) <= 0)
            wd_usec = 0;
        bus_curve_t curve;
        bus_t *probe = wd_usec ? bus_new_curve(BUS_PROBE_NAME, lp, ls, NULL, busconf_client(&conf, &curve)) : NULL;
        if (probe)
            bus_subscribe(probe, "health.bus.");
        else if (wd_usec)
            log_warn("bus: no watchdog probe; pinging the watchdog from the main thread only");
        sd_notify(0, wd_usec ? "READY=1\nWATCHDOG=1" : "READY=1");
        uint64_t tick_us = wd_usec / 4 > 50000 ? wd_usec / 4 : 50000;
        struct timespec tick = { (time_t)(tick_us / 1000000), (long)(tick_us % 1000000) * 1000 };
        for (;;) {
            int sig = wd_usec ? sigtimedwait(&mask, NULL, &tick) : sigwaitinfo(&mask, NULL);
            if (sig > 0)
                break;
            if (wd_usec && (!probe || s_probe(probe)))
                sd_notify(0, "WATCHDOG=1");
        }
        bus_destroy(&probe);
        sd_notify(0, "STOPPING=1");
        registry_remove();
        busconf_proxy_stop(&bus);
        rc = 0;
    }
    busconf_fini(&conf);
    zpl_destroy(&root);
    return rc;
}
