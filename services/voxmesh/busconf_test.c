/* busconf_test — the CURVE and metrics keys of a graph's bus section:
 * parsed, checked (with file:line errors) and passed on to the services. */
#include "busconf.h"
#include "graph.h"
#include "test.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];

static void s_file(const char *name, const char *text, int mode)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) exit(1);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

/* Loads GRAPH (a file in s_dir); returns the graph or NULL with *err. */
static graph_t *s_load(const char *name, const char *text, char **err)
{
    s_file(name, text, 0644);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    graph_options_t o = { .bin_dir = s_dir };
    *err = NULL;
    return graph_load(path, &o, err);
}

#define BUS_TCP "bus\n    pub = tcp://127.0.0.1:7001\n    sub = tcp://127.0.0.1:7002\n"
#define SERVICES "services\n    src\n    sink\n"

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/vm-busconf-test.XXXXXX");
    if (!mkdtemp(s_dir)) return 1;
    /* Two fake services: src publishes x., sink subscribes to it. */
    s_file("voxmesh-src", "#!/bin/sh\nprintf 'service = src\\n    publishes\\n        topic = x.\\n'\n", 0755);
    s_file("voxmesh-sink", "#!/bin/sh\nprintf 'service = sink\\n    subscribes\\n        topic = x.\\n'\n", 0755);
    char keys[128];
    snprintf(keys, sizeof keys, "%s/keys", s_dir);
    zsys_dir_create("%s/authorized", keys);
    const char *names[] = { "bus", "host" };
    for (int i = 0; i < 2; i++) {
        zcert_t *c = zcert_new();
        char p[256];
        snprintf(p, sizeof p, "%s/%s.key", keys, names[i]);
        zcert_save(c, p);
        zcert_destroy(&c);
    }
    zcert_t *lone = zcert_new();
    char p[256];
    snprintf(p, sizeof p, "%s/lone.key", keys);
    zcert_save_public(lone, p);
    zcert_destroy(&lone);

    char *err;
    graph_t *g = s_load("ok", BUS_TCP "    metrics-port = 9100\n    curve\n        cert = keys/host.key_secret\n"
                              "        server-key = keys/bus.key\n        server-cert = keys/bus.key_secret\n"
                              "        authorized-keys = keys/authorized\n" SERVICES, &err);
    CHECK(g != NULL, "a graph with bus/curve loads%s%s", err ? ": " : "", err ? err : "");
    if (g) {
        const busconf_t *c = graph_busconf(g);
        CHECK(c->curve_line == 5 && c->metrics_port == 9100 && !strcmp(c->metrics_addr, "127.0.0.1"),
              "curve (line %d) and the metrics port are read", c->curve_line);
        char want[256];
        snprintf(want, sizeof want, "%s/keys/host.key_secret", s_dir);
        CHECK(!strcmp(c->cert, want), "relative paths are relative to the graph's directory: %s", c->cert);
        char **argv = graph_argv(g, graph_find(g, "sink"), 0);
        bool cert = false, key = false;
        for (char **a = argv; a && *a; a++) {
            cert |= !strncmp(*a, "--bus-cert=", 11) && !strcmp(*a + 11, want);
            key |= !strncmp(*a, "--bus-server-key=", 17) && strstr(*a, "/keys/bus.key");
        }
        CHECK(cert && key, "every service is started with --bus-cert and --bus-server-key");
        graph_argv_destroy(&argv);
        graph_destroy(&g);
    }
    g = s_load("plain", BUS_TCP SERVICES, &err);
    if (g) {
        char **argv = graph_argv(g, graph_find(g, "sink"), 0);
        bool any = false;
        for (char **a = argv; a && *a; a++) any |= !strncmp(*a, "--bus-cert", 10);
        CHECK(!any && graph_busconf(g)->curve_line == 0 && graph_busconf(g)->metrics_port == -1,
              "without curve nothing changes on the command line");
        graph_argv_destroy(&argv);
        graph_destroy(&g);
    }
    free(err);

    g = s_load("half", BUS_TCP "    curve\n        cert = keys/host.key_secret\n" SERVICES, &err);
    CHECK(!g && err && strstr(err, "half:4: bus/curve has no 'server-key'") && strstr(err, "no 'server-cert'")
          && strstr(err, "no 'authorized-keys'"), "what the bus host lacks is named at the curve line:\n%s", err);
    free(err);
    g = s_load("ext", BUS_TCP "    external = true\n    curve\n        cert = keys/host.key_secret\n"
                          "        server-key = keys/bus.key\n        authorized-keys = keys/authorized\n" SERVICES, &err);
    CHECK(!g && err && strstr(err, "authorized-keys is for the host that runs the bus"),
          "the bus host's keys on another host are an error: %s", err);
    free(err);
    g = s_load("ext-ok", BUS_TCP "    external = true\n    curve\n        cert = keys/host.key_secret\n"
                             "        server-key = keys/bus.key\n" SERVICES, &err);
    CHECK(g != NULL, "another host needs only its cert and the server key%s%s", err ? ": " : "", err ? err : "");
    graph_destroy(&g);
    free(err);
    g = s_load("bad", BUS_TCP "    external = true\n    metrics-port = http\n    curve\n        cert = keys/lone.key\n"
                          "        server-key = keys/nothere.key\n        colour = blue\n" SERVICES, &err);
    CHECK(!g && err && strstr(err, "bad:5: bus metrics-port must be a port number")
          && strstr(err, "bad:7: bus/curve/cert:") && strstr(err, "holds no secret key")
          && strstr(err, "bad:8: bus/curve/server-key:") && strstr(err, "No such file")
          && strstr(err, "bad:9: unknown key 'colour' in 'bus/curve'"), "bad keys and files are named by line:\n%s", err);
    free(err);
    g = s_load("reserved", BUS_TCP "services\n    src\n        settings\n            bus-cert = x\n    sink\n", &err);
    CHECK(!g && err && strstr(err, "setting 'bus-cert' is reserved"), "bus-cert is not a setting: %s", err);
    free(err);

    /* `voxmesh bus GRAPH` reads the section without loading the services. */
    char path[256];
    snprintf(path, sizeof path, "%s/half", s_dir);
    zpl_node_t *root = zpl_load(path, NULL);
    busconf_t c;
    CHECK(root && busconf_read(&c, zpl_locate(root, "bus"), path, true) < 0, "busconf_read reports the same problems");
    busconf_fini(&c);
    zpl_destroy(&root);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system(cmd) != 0) return 1;
    return TEST_DONE();
}
