/* bus — `voxmesh bus [--pub EP] [--sub EP] GRAPH`: runs only the bus proxy
 * of a graph, in the foreground, for deployments where systemd or a
 * container runtime starts each service on its own (systemd/, deploy/).
 * --pub/--sub bind other endpoints than the graph's: in a container the
 * proxy binds tcp://0.0.0.0:PORT while the services connect to
 * tcp://bus:PORT (docs/deploy-compose.md). READY=1 goes to systemd once
 * both sides are bound. */
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
#include <string.h>
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
        char lpub[300], lsub[300];
        registry_add(file, s_local(pub, lpub, sizeof lpub), s_local(sub, lsub, sizeof lsub));
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
