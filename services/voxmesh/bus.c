/* bus — `voxmesh bus GRAPH`: runs only the bus proxy of a graph, in the
 * foreground, for deployments where systemd starts each service as a unit of
 * its own (systemd/). READY=1 goes to systemd once both sides are bound.
 *
 * Under a systemd watchdog (WatchdogSec=), WATCHDOG=1 is sent only while the
 * proxy really forwards: every quarter of the interval a probe publishes a
 * health event on "health.bus." through the bus and listens for it; a ping
 * goes out when a probe came back since the last tick. A proxy thread that
 * hangs therefore gets the unit killed and restarted. */
#include "cli.h"
#include "bus.h"
#include "bus_proxy.h"
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
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: voxmesh bus GRAPH\n");
        return 2;
    }
    /* Only the bus section is read: the services need not be installed here. */
    char *err = NULL;
    zpl_node_t *root = zpl_load(argv[1], &err);
    if (!root) {
        fprintf(stderr, "%s\n", err ? err : "cannot read the graph");
        free(err);
        return 1;
    }
    const char *pub = zpl_get(root, "bus/pub", NULL), *sub = zpl_get(root, "bus/sub", NULL);
    if (!pub || !sub) {
        fprintf(stderr, "%s: the graph has no bus/pub and bus/sub\n", argv[1]);
        zpl_destroy(&root);
        return 1;
    }
    /* Blocked before the proxy thread starts, so that sigwait gets them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    bus_proxy_t *proxy = bus_proxy_new(pub, sub);
    int rc = 1;
    if (proxy) {
        log_info("bus: publishers -> %s, subscribers <- %s", pub, sub);
        registry_add(argv[1], pub, sub);
        uint64_t wd_usec = 0;
        if (sd_watchdog_enabled(0, &wd_usec) <= 0)
            wd_usec = 0;
        bus_t *probe = wd_usec ? bus_new(BUS_PROBE_NAME, pub, sub, NULL) : NULL;
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
        bus_proxy_destroy(&proxy);
        rc = 0;
    }
    zpl_destroy(&root);
    return rc;
}
