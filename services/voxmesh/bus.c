/* bus — `voxmesh bus GRAPH`: runs only the bus proxy of a graph, in the
 * foreground, for deployments where systemd starts each service as a unit of
 * its own (systemd/). READY=1 goes to systemd once both sides are bound. */
#include "cli.h"
#include "bus_proxy.h"
#include "busconf.h"
#include "registry.h"
#include "zpl.h"
#include "log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

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
    busconf_t conf;
    if (busconf_read(&conf, zpl_locate(root, "bus"), argv[1], true) < 0) {
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
        registry_add(argv[1], pub, sub);
        sd_notify(0, "READY=1");
        int sig;
        sigwait(&mask, &sig);
        sd_notify(0, "STOPPING=1");
        registry_remove();
        busconf_proxy_stop(&bus);
        rc = 0;
    }
    busconf_fini(&conf);
    zpl_destroy(&root);
    return rc;
}
