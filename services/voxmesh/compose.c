/* compose — see compose.h; the design is in docs/deploy-compose.md. */
#include "compose.h"
#include "check.h"
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- small pieces ----------------------------------------------------------- */

char *compose_quote(const char *s)
{
    size_t n = 3;
    for (const char *c = s; *c; c++)
        n += (unsigned char)*c < 0x20 ? 4 : (*c == '"' || *c == '\\' || *c == '$') ? 2 : 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    char *o = out;
    *o++ = '"';
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20)
            o += sprintf(o, "\\x%02x", u);
        else if (u == '"' || u == '\\')
            *o++ = '\\', *o++ = (char)u;
        else if (u == '$')
            *o++ = '$', *o++ = '$';
        else
            *o++ = (char)u;
    }
    *o++ = '"';
    *o = 0;
    return out;
}

static int s_port(const char *s)
{
    if (!*s || strlen(s) > 5)
        return -1;
    long p = 0;
    for (const char *c = s; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return -1;
        p = p * 10 + (*c - '0');
    }
    return p >= 1 && p <= 65535 ? (int)p : -1;
}

static bool s_ipv4(const char *s, size_t n)
{
    int parts = 0, digits = 0, value = 0;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)s[i])) {
            value = value * 10 + (s[i] - '0');
            if (++digits > 3 || value > 255)
                return false;
        }
        else if (s[i] == '.' && digits) {
            parts++;
            digits = value = 0;
        }
        else
            return false;
    }
    return digits && parts == 3;
}

int compose_listen_parse(const char *value, char *host, size_t host_size, int *port)
{
    const char *colon;
    size_t alen;
    const char *addr = value;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || close[1] != ':')
            return -1;
        addr = value + 1;
        alen = (size_t)(close - addr);
        colon = close + 1;
        for (size_t i = 0; i < alen; i++)
            if (!isxdigit((unsigned char)addr[i]) && addr[i] != ':' && addr[i] != '.')
                return -1;
        if (alen == 0)
            return -1;
    }
    else {
        colon = strrchr(value, ':');
        if (!colon)
            return -1;
        alen = (size_t)(colon - value);
        if (!(alen == 1 && value[0] == '*') && !(alen == 9 && !strncmp(value, "localhost", 9))
            && !s_ipv4(value, alen))
            return -1;
    }
    int p = s_port(colon + 1);
    if (p < 0 || alen + 1 > host_size)
        return -1;
    *port = p;
    if ((alen == 1 && addr[0] == '*') || (alen == 7 && !strncmp(addr, "0.0.0.0", 7))
        || (alen == 2 && !strncmp(addr, "::", 2)))
        host[0] = 0;
    else if ((alen == 9 && !strncmp(addr, "localhost", 9)) || (alen == 3 && !strncmp(addr, "::1", 3))
             || (alen > 4 && !strncmp(addr, "127.", 4)))
        snprintf(host, host_size, "127.0.0.1");
    else
        snprintf(host, host_size, "%.*s", (int)alen, addr);
    return 0;
}

/* The port of a tcp://HOST:PORT endpoint, or -1. */
static int s_tcp_port(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6))
        return -1;
    const char *colon = strrchr(endpoint + 6, ':');
    return colon ? s_port(colon + 1) : -1;
}

/* The host part of a tcp endpoint, for publishing the bus on it ("" when it
 * is a wildcard or not tcp). */
static void s_tcp_host(const char *endpoint, char *host, size_t size)
{
    int port;
    host[0] = 0;
    if (!strncmp(endpoint, "tcp://", 6) && compose_listen_parse(endpoint + 6, host, size, &port))
        host[0] = 0;
}

/* A growing list of strings (arguments, ports, ...). */
typedef struct {
    char **items;
    size_t size;
    bool failed;
} s_list_t;

static void s_add(s_list_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_add(s_list_t *l, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    char **bigger = s ? realloc(l->items, (l->size + 1) * sizeof *bigger) : NULL;
    if (!bigger) {
        free(s);
        l->failed = true;
        return;
    }
    bigger[l->size++] = s;
    l->items = bigger;
}

static void s_list_free(s_list_t *l)
{
    for (size_t i = 0; i < l->size; i++)
        free(l->items[i]);
    free(l->items);
    *l = (s_list_t){ 0 };
}

/* Writes `key: ["a", "b"]` (a flow sequence, one line) when the list is not empty. */
static void s_flow(FILE *out, const char *key, const s_list_t *l, bool *failed)
{
    if (!l->size)
        return;
    fprintf(out, "    %s: [", key);
    for (size_t i = 0; i < l->size; i++) {
        char *q = compose_quote(l->items[i]);
        if (!q)
            *failed = true;
        fprintf(out, "%s%s", i ? ", " : "", q ? q : "\"\"");
        free(q);
    }
    fprintf(out, "]\n");
}

static void s_image(FILE *out)
{
    fprintf(out, "    image: %s\n    build:\n      context: %s\n      dockerfile: %s\n",
            COMPOSE_IMAGE, COMPOSE_CONTEXT, COMPOSE_DOCKERFILE);
}

static void s_depends(FILE *out, bool bus)
{
    fprintf(out, "    depends_on:\n      check:\n        condition: service_completed_successfully\n");
    if (bus)
        fprintf(out, "      %s:\n        condition: service_started\n", COMPOSE_BUS_HOST);
}

/* Splits "--key=value" (or "--key") into key and value (NULL for none). */
static void s_split(const char *arg, char *key, size_t size, const char **value)
{
    const char *k = arg + 2;
    const char *eq = strchr(k, '=');
    size_t n = eq ? (size_t)(eq - k) : strlen(k);
    snprintf(key, size, "%.*s", (int)n, k);
    *value = eq ? eq + 1 : NULL;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The image path of a program: a bare name is on the image's PATH
 * (/usr/local/bin); a relative path is relative to the graph's directory,
 * as `voxmesh up` reads it, and the working directory mirrors the tree. */
static char *s_program(const graph_t *graph, const graph_service_t *svc)
{
    char *p = NULL;
    if (!strchr(svc->program, '/') || svc->program[0] == '/')
        return strdup(svc->program);
    const char *file = graph_file(graph), *slash = strrchr(file, '/');
    if (!slash)
        return strdup(svc->program);
    if (asprintf(&p, "%.*s/%s", (int)(slash - file), file, svc->program) < 0)
        return NULL;
    return p;
}

/* ---- the file -------------------------------------------------------------------- */

static char *s_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *s_fail(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s ? s : strdup("out of memory");
}

static bool s_reserved(const char *name)
{
    return !strcmp(name, COMPOSE_BUS_HOST) || !strcmp(name, "check");
}

/* One service of the graph: its arguments, published and exposed ports. */
static void s_service(FILE *out, const graph_t *graph, const graph_service_t *svc,
                      const char *pub, const char *sub, bool bus_container, bool *failed)
{
    s_list_t args = { 0 }, ports = { 0 }, expose = { 0 }, env = { 0 }, entry = { 0 };
    char *program = s_program(graph, svc);
    if (!program)
        *failed = true;
    s_add(&args, "%s", program ? program : "");
    free(program);
    s_add(&args, "--bus-pub=%s", pub);
    s_add(&args, "--bus-sub=%s", sub);
    /* Every container has its own address: all of them can serve metrics on
     * the same port, the service's own metrics-port key if it has one. */
    int metrics = svc->metrics_line && svc->metrics_port > 0 ? svc->metrics_port : COMPOSE_METRICS_PORT;
    for (size_t i = 0; i < svc->settings_size; i++) {
        char key[128], host[64];
        const char *value;
        int port;
        s_split(svc->settings[i], key, sizeof key, &value);
        if (value && (!strcmp(key, "listen") || s_ends_with(key, "-listen"))
            && !compose_listen_parse(value, host, sizeof host, &port)) {
            /* Inside the container the service listens on every address of
             * its own namespace; the host address the graph named is where
             * the port is published. */
            s_add(&args, "--%s=0.0.0.0:%d", key, port);
            if (*host)
                s_add(&ports, "%s:%d:%d", host, port, port);
            else
                s_add(&ports, "%d:%d", port, port);
            continue;
        }
        int lo, hi, used = 0;
        if (value && !strcmp(key, "ice-ports") && sscanf(value, "%d-%d%n", &lo, &hi, &used) == 2
            && !value[used] && lo > 0 && hi >= lo && hi <= 65535)
            s_add(&ports, lo == hi ? "%d:%d/udp" : "%d-%d:%d-%d/udp", lo, hi, lo, hi);
        if (value && *value && !strcmp(key, "api-key-env"))
            s_add(&env, "%s", value);
        s_add(&args, "%s", svc->settings[i]);
    }
    s_add(&args, "--metrics-addr=0.0.0.0");
    s_add(&args, "--metrics-port=%d", metrics);
    s_add(&expose, "%d", metrics);
    /* Every container of the service runs the same command, so the unique
     * instance name comes from inside: the container's hostname. */
    s_add(&entry, "/bin/sh");
    s_add(&entry, "-c");
    s_add(&entry, "exec \"$0\" \"$@\" --name=%s.$HOSTNAME", svc->name);

    fprintf(out, "\n  %s:\n", svc->name);
    s_image(out);
    fprintf(out, "    init: true\n");
    s_flow(out, "entrypoint", &entry, failed);
    s_flow(out, "command", &args, failed);
    if (svc->replicas > 1)
        fprintf(out, "    deploy:\n      replicas: %d\n", svc->replicas);
    s_flow(out, "environment", &env, failed);
    s_flow(out, "ports", &ports, failed);
    s_flow(out, "expose", &expose, failed);
    s_depends(out, bus_container);
    fprintf(out, "    restart: on-failure\n");
    *failed |= args.failed || ports.failed || expose.failed || env.failed || entry.failed;
    s_list_free(&args);
    s_list_free(&ports);
    s_list_free(&expose);
    s_list_free(&env);
    s_list_free(&entry);
}

static char *s_project(const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char *name = NULL;
    if (asprintf(&name, "voxmesh-%s", base) < 0)
        return NULL;
    for (char *c = name; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
            *c = '-';
    }
    return name;
}

static char *s_write(const graph_t *graph, FILE *out)
{
    const char *file = graph_file(graph);
    if (file[0] == '/' || !strncmp(file, "../", 3) || strstr(file, "/../") || !strcmp(file, ".."))
        return s_fail("%s: give the graph's path relative to the top of the source tree "
                      "(it is read there inside the image), e.g. deploy/graphs/agent", file);
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        if (s_reserved(svc->name))
            return s_fail("%s:%d: service '%s': 'bus' and 'check' name containers of the compose "
                          "file itself; rename the service", file, svc->line, svc->name);
    }

    /* The bus: its own container binding tcp on every address, reached by
     * name; or, when the graph says the bus runs elsewhere, its tcp
     * endpoints as they are. */
    if (graph_bus_direct(graph))
        return s_fail("%s: 'direct = true' under bus is for voxmesh up on one host (docs/bus.md, \"Direct\"); "
                      "compose wires the containers through the bus container: remove it", file);
    bool external = graph_bus_external(graph);
    int pub_port = s_tcp_port(graph_bus_pub(graph)), sub_port = s_tcp_port(graph_bus_sub(graph));
    char pub[300], sub[300];
    if (external) {
        if (pub_port < 0 || sub_port < 0)
            return s_fail("%s: the bus is external but not on tcp (%s, %s): containers cannot reach it",
                          file, graph_bus_pub(graph), graph_bus_sub(graph));
        snprintf(pub, sizeof pub, "%s", graph_bus_pub(graph));
        snprintf(sub, sizeof sub, "%s", graph_bus_sub(graph));
    }
    else {
        if (pub_port < 0 || sub_port < 0) {
            pub_port = COMPOSE_BUS_PUB_PORT;
            sub_port = COMPOSE_BUS_SUB_PORT;
        }
        if (pub_port == sub_port)
            return s_fail("%s: bus pub and sub use the same port %d: one container cannot bind both",
                          file, pub_port);
        snprintf(pub, sizeof pub, "tcp://%s:%d", COMPOSE_BUS_HOST, pub_port);
        snprintf(sub, sizeof sub, "tcp://%s:%d", COMPOSE_BUS_HOST, sub_port);
    }

    char *project = s_project(file);
    char *qfile = compose_quote(file);
    if (!project || !qfile) {
        free(project);
        free(qfile);
        return s_fail("out of memory");
    }
    size_t remote = 0;
    for (size_t i = 0; i < graph_size(graph); i++)
        remote += graph_service(graph, i)->remote;

    fprintf(out, "# Generated by `voxmesh compose %s` from the graph %s: do not edit.\n", file, file);
    fprintf(out, "# Change the graph and regenerate this file; tests/compose.sh fails while they\n"
                 "# differ. Build and run from the top of the tree:\n"
                 "#   docker compose -f deploy/docker-compose.yml up --build --scale stt=2\n"
                 "# (any service scales so; each container names itself SERVICE.HOSTNAME on the\n"
                 "# bus). The mapping and its reasons: docs/deploy-compose.md.\n");
    if (remote) {
        fprintf(out, "# Not started here (remote = true in the graph):");
        for (size_t i = 0; i < graph_size(graph); i++)
            if (graph_service(graph, i)->remote)
                fprintf(out, " %s", graph_service(graph, i)->name);
        fprintf(out, "\n");
    }
    fprintf(out, "name: %s\n\nservices:\n", project);
    free(project);

    /* The graph check, before any service starts (as `voxmesh up` does). */
    fprintf(out, "  check:\n");
    s_image(out);
    fprintf(out, "    command: [\"voxmesh\", \"check\", %s]\n    restart: \"no\"\n", qfile);

    if (!external) {
        fprintf(out, "\n  %s:\n", COMPOSE_BUS_HOST);
        s_image(out);
        fprintf(out, "    init: true\n");
        fprintf(out, "    command: [\"voxmesh\", \"bus\", \"--pub=tcp://0.0.0.0:%d\", \"--sub=tcp://0.0.0.0:%d\", %s]\n",
                pub_port, sub_port, qfile);
        if (remote) {
            /* Services on other hosts connect to the bus through the host. */
            char host[64];
            s_tcp_host(graph_bus_pub(graph), host, sizeof host);
            fprintf(out, "    ports: [\"%s%s%d:%d\"", host, *host ? ":" : "", pub_port, pub_port);
            s_tcp_host(graph_bus_sub(graph), host, sizeof host);
            fprintf(out, ", \"%s%s%d:%d\"]\n", host, *host ? ":" : "", sub_port, sub_port);
        }
        fprintf(out, "    expose: [\"%d\", \"%d\"]\n", pub_port, sub_port);
        s_depends(out, false);
        fprintf(out, "    restart: on-failure\n");
    }
    free(qfile);

    bool failed = false;
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        if (!svc->remote)
            s_service(out, graph, svc, pub, sub, !external, &failed);
    }
    return failed ? s_fail("out of memory") : NULL;
}

int compose_write(const graph_t *graph, FILE *out, char **err)
{
    *err = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        *err = s_fail("out of memory");
        return -1;
    }
    char *problem = s_write(graph, mem);
    if (fclose(mem) || !text)
        problem = problem ? problem : s_fail("out of memory");
    if (!problem && fwrite(text, 1, len, out) != len)
        problem = s_fail("cannot write the compose file: %s", strerror(errno));
    free(text);
    *err = problem;
    return problem ? -1 : 0;
}

int compose_main(int argc, char **argv)
{
    const char *usage =
        "usage: voxmesh compose [--bin-dir DIR] [--timeout SECONDS] [-o FILE] GRAPH\n"
        "  Checks GRAPH and prints its docker-compose file (docs/deploy-compose.md):\n"
        "  a container per service, the bus in its own container over tcp.\n"
        "  GRAPH is relative to the top of the source tree, e.g. deploy/graphs/agent.\n";
    const char *path, *output = NULL;
    int rc;
    graph_t *graph = check_open(argc, argv, usage, &path, &output, &rc);
    if (!graph)
        return rc;
    /* A compose file of a graph that cannot work would only fail later. */
    if (graph_check(graph, stderr)) {
        fprintf(stderr, "%s: the graph does not pass `voxmesh check`: no compose file\n", path);
        graph_destroy(&graph);
        return 1;
    }
    FILE *out = output ? fopen(output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "voxmesh compose: %s: %s\n", output, strerror(errno));
        graph_destroy(&graph);
        return 1;
    }
    char *err = NULL;
    rc = compose_write(graph, out, &err) ? 1 : 0;
    if (rc)
        fprintf(stderr, "%s\n", err);
    free(err);
    if (output && fclose(out) && !rc) {
        fprintf(stderr, "voxmesh compose: %s: %s\n", output, strerror(errno));
        rc = 1;
    }
    if (rc && output)
        remove(output);
    graph_destroy(&graph);
    return rc;
}
