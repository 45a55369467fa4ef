/* graph — see graph.h. */
#include "graph.h"
#include "zpl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define GRAPH_MAX_ERRORS 100    /* lines reported; past that, a count */

struct graph {
    char *file;
    char *dir;                  /* the file's directory: base of relative program paths */
    char *bus_pub;
    char *bus_sub;
    bool bus_external;
    int direct_line;            /* line of `direct = true` under bus; 0: the proxy carries the data */
    long direct_port;           /* tcp buses: the first direct port (one per replica); -1: none */
    int direct_port_line;
    busconf_t busconf;          /* CURVE and the proxy's metrics (busconf.h) */
    char *metrics_addr;         /* what metrics endpoints bind to */
    int metrics_base;           /* the 'metrics' section's first port; -1: no section */
    graph_service_t *services;
    size_t size;
};

/* Collected "FILE:LINE: reason" lines: graph_load reports every problem it
 * finds in one go, so a user fixes a file in one round trip; they are
 * sorted by line, because that is how a user reads them. */
typedef struct {
    int line;
    int seq;                    /* keeps the order of problems on one line */
    char *text;
} problem_t;

typedef struct {
    const char *file;
    problem_t *items;
    int stored;
    int count;
} errors_t;

static void s_error(errors_t *e, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_error(errors_t *e, int line, const char *fmt, ...)
{
    e->count++;
    if (e->stored >= GRAPH_MAX_ERRORS)
        return;
    char *reason = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&reason, fmt, ap) < 0)
        reason = NULL;
    va_end(ap);
    char *text = NULL;
    if (reason && (line > 0 ? asprintf(&text, "%s:%d: %s", e->file, line, reason)
                            : asprintf(&text, "%s: %s", e->file, reason)) < 0)
        text = NULL;
    free(reason);
    problem_t *bigger = text ? realloc(e->items, (size_t)(e->stored + 1) * sizeof *bigger) : NULL;
    if (!bigger) {
        free(text);
        return;
    }
    e->items = bigger;
    e->items[e->stored] = (problem_t){ line, e->stored, text };
    e->stored++;
}

static int s_problem_cmp(const void *a, const void *b)
{
    const problem_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Frees the collection; returns the sorted text (no final newline) or NULL. */
static char *s_errors_end(errors_t *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = e->count ? open_memstream(&text, &len) : NULL;
    if (e->stored)
        qsort(e->items, (size_t)e->stored, sizeof *e->items, s_problem_cmp);
    for (int i = 0; i < e->stored; i++) {
        if (out)
            fprintf(out, "%s%s", i ? "\n" : "", e->items[i].text);
        free(e->items[i].text);
    }
    free(e->items);
    e->items = NULL;
    if (out) {
        if (e->count > e->stored)
            fprintf(out, "%s%s: %d more problems not shown", e->stored ? "\n" : "",
                    e->file, e->count - e->stored);
        fclose(out);
    }
    if (e->count && !text)
        text = strdup("out of memory");
    return text;
}

/* A growable array of strings, NULL-terminated so it can serve as an argv. */
static int s_push(char ***list, size_t *size, char *item)
{
    if (!item)
        return -1;
    char **bigger = realloc(*list, (*size + 2) * sizeof **list);
    if (!bigger) {
        free(item);
        return -1;
    }
    bigger[(*size)++] = item;
    bigger[*size] = NULL;
    *list = bigger;
    return 0;
}

static void s_list_free(char ***list, size_t *size)
{
    for (size_t i = 0; *list && i < *size; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *size = 0;
}

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *s_printf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static bool s_is_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Topics are matched as byte prefixes by ZeroMQ; keeping them to one plain
 * shape (dot-terminated, no blanks or quotes) makes a typo visible and
 * keeps them safe in argv, logs and graphviz labels. */
static const char *s_topic_problem(const char *t)
{
    size_t n = strlen(t);
    if (n == 0)
        return "is empty";
    if (n > GRAPH_MAX_TOPIC_LEN)
        return "is too long";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
            return "has a character that is not allowed";
    }
    if (t[0] == '.')
        return "starts with '.'";
    if (strstr(t, ".."))
        return "has an empty part '..'";
    if (t[n - 1] != '.')
        return "does not end with '.'";
    return NULL;
}

bool graph_topic_matches(const char *subscription, const char *topic)
{
    return !strncmp(topic, subscription, strlen(subscription));
}

/* ---- program lookup ------------------------------------------------------ */

static bool s_is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The directory of the running executable, so that a build tree's
 * build/bin/voxmesh finds build/bin/voxmesh-* before installed ones. */
static char *s_exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    return strdup(buf[0] ? buf : "/");
}

/* Resolves a program to an executable path; NULL with *why set (malloc'd). */
static char *s_resolve(const char *program, const char *graph_dir, const char *bin_dir,
                       const char *exe_dir, char **why)
{
    char *path = NULL;
    if (strchr(program, '/')) {
        path = program[0] == '/' ? strdup(program) : s_printf("%s/%s", graph_dir, program);
        if (path && s_is_executable(path))
            return path;
        *why = s_printf("program '%s' is not an executable file", path ? path : program);
        free(path);
        return NULL;
    }
    if (bin_dir) {
        path = s_printf("%s/%s", bin_dir, program);
        if (path && s_is_executable(path))
            return path;
        free(path);
        *why = s_printf("program '%s' not found in %s", program, bin_dir);
        return NULL;
    }
    if (exe_dir) {
        path = s_printf("%s/%s", exe_dir, program);
        if (path && s_is_executable(path))
            return path;
        free(path);
    }
    const char *env = getenv("PATH");
    const char *p = env ? env : "/usr/local/bin:/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        path = n ? s_printf("%.*s/%s", (int)n, p, program) : s_printf("./%s", program);
        if (path && s_is_executable(path))
            return path;
        free(path);
        p += n;
        if (*p == ':')
            p++;
    }
    *why = s_printf("program '%s' not found next to voxmesh (%s) or in $PATH",
                    program, exe_dir ? exe_dir : "?");
    return NULL;
}

/* ---- the graph file ------------------------------------------------------- */

static const char *const s_reserved_settings[] = {
    "name", "replica", "replicas", "bus-pub", "bus-sub", "bus-cert", "bus-server-key", "bus-bind", "bus-direct",
    "describe", NULL
};

/* A whole number in [0, max] written in decimal digits only. */
static bool s_parse_uint(const char *v, long max, long *out)
{
    long n = 0;
    if (!v || !*v || strlen(v) > 9)
        return false;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        n = n * 10 + (*c - '0');
    }
    if (n > max)
        return false;
    *out = n;
    return true;
}

static void s_parse_settings(graph_service_t *svc, zpl_node_t *settings, errors_t *e)
{
    if (zpl_value(settings))
        s_error(e, zpl_line(settings), "'settings' takes no value; put one 'key = value' per line under it");
    for (zpl_node_t *kv = zpl_child(settings); kv; kv = zpl_next(kv)) {
        const char *key = zpl_name(kv);
        int line = zpl_line(kv);
        if (!s_is_word(key, 64)) {
            s_error(e, line, "bad setting name '%s' (letters, digits, '_' and '-', starting with a letter)", key);
            continue;
        }
        bool reserved = false;
        for (const char *const *r = s_reserved_settings; *r; r++)
            reserved |= !strcmp(*r, key);
        if (reserved) {
            s_error(e, line, "setting '%s' is reserved: voxmesh passes --%s itself", key, key);
            continue;
        }
        if (!strcmp(key, "metrics-port") || !strcmp(key, "metrics-addr")) {
            s_error(e, line, "setting '%s' is not a setting here: give the graph a 'metrics' section "
                    "(port, addr) or the service a 'metrics-port' key, so that replicas get distinct ports", key);
            continue;
        }
        if (zpl_child(kv)) {
            s_error(e, zpl_line(zpl_child(kv)), "setting '%s' cannot have children", key);
            continue;
        }
        bool duplicate = false;
        for (zpl_node_t *prev = zpl_child(settings); prev != kv; prev = zpl_next(prev))
            if (!strcmp(zpl_name(prev), key)) {
                s_error(e, line, "duplicate setting '%s' (first at line %d)", key, zpl_line(prev));
                duplicate = true;
                break;
            }
        if (duplicate)
            continue;
        const char *value = zpl_value(kv);
        char *arg = value ? s_printf("--%s=%s", key, value) : s_printf("--%s", key);
        if (s_push(&svc->settings, &svc->settings_size, arg))
            s_error(e, line, "out of memory");
    }
}

/* Parses one service node into `svc` (name and line already set). */
static void s_parse_service(graph_service_t *svc, zpl_node_t *node, errors_t *e)
{
    int line = zpl_line(node);
    if (zpl_value(node))
        s_error(e, line, "service '%s' takes no value; its keys go on the lines under it", svc->name);
    zpl_node_t *program = NULL, *replicas = NULL, *settings = NULL, *remote = NULL, *mport = NULL;
    svc->replicas = 1;
    svc->metrics_port = -1;
    for (zpl_node_t *key = zpl_child(node); key; key = zpl_next(key)) {
        const char *k = zpl_name(key);
        zpl_node_t **slot = !strcmp(k, "program") ? &program
                          : !strcmp(k, "replicas") ? &replicas
                          : !strcmp(k, "settings") ? &settings
                          : !strcmp(k, "remote") ? &remote
                          : !strcmp(k, "metrics-port") ? &mport : NULL;
        if (!slot) {
            s_error(e, zpl_line(key), "unknown key '%s' in service '%s' (expected program, replicas, remote, "
                    "metrics-port or settings)",
                    k, svc->name);
            continue;
        }
        if (*slot) {
            s_error(e, zpl_line(key), "duplicate '%s' in service '%s' (first at line %d)",
                    k, svc->name, zpl_line(*slot));
            continue;
        }
        *slot = key;
        if (slot != &settings && zpl_child(key))
            s_error(e, zpl_line(zpl_child(key)), "'%s' cannot have children", k);
    }
    if (program) {
        const char *v = zpl_value(program);
        if (!v || !*v)
            s_error(e, zpl_line(program), "'program' needs a value: a program name or path");
        else
            svc->program = strdup(v);
    }
    else
        svc->program = s_printf("voxmesh-%s", svc->name);
    if (replicas) {
        const char *v = zpl_value(replicas);
        long n = 0;
        bool ok = v && *v && strlen(v) <= 4;
        for (const char *c = v; ok && *c; c++)
            if (*c >= '0' && *c <= '9')
                n = n * 10 + (*c - '0');
            else
                ok = false;
        if (!ok || n < 1 || n > GRAPH_MAX_REPLICAS)
            s_error(e, zpl_line(replicas), "replicas must be a whole number from 1 to %d, not '%s'",
                    GRAPH_MAX_REPLICAS, v ? v : "");
        else
            svc->replicas = (int)n;
    }
    if (remote) {
        const char *v = zpl_value(remote);
        if (v && !strcmp(v, "true")) svc->remote = true;
        else if (!v || strcmp(v, "false"))
            s_error(e, zpl_line(remote), "remote must be true or false, not '%s'", v ? v : "");
    }
    if (mport) {
        long n = 0;
        if (!s_parse_uint(zpl_value(mport), 65535, &n))
            s_error(e, zpl_line(mport), "metrics-port must be a TCP port from 0 to 65535 (0: any free port), not '%s'",
                    zpl_value(mport) ? zpl_value(mport) : "");
        else
            svc->metrics_port = (int)n;
        svc->metrics_line = zpl_line(mport);
    }
    if (settings)
        s_parse_settings(svc, settings, e);
}

/* The 'metrics' section: where every service's /metrics endpoint listens. */
static void s_parse_metrics(graph_t *self, zpl_node_t *metrics, errors_t *e)
{
    if (zpl_value(metrics))
        s_error(e, zpl_line(metrics), "'metrics' takes no value; put 'port = ...' (and 'addr = ...') under it");
    self->metrics_base = 0;
    bool have_port = false;
    for (zpl_node_t *key = zpl_child(metrics); key; key = zpl_next(key)) {
        const char *k = zpl_name(key), *v = zpl_value(key);
        if (zpl_child(key))
            s_error(e, zpl_line(zpl_child(key)), "'%s' cannot have children", k);
        if (!strcmp(k, "port")) {
            long n = 0;
            if (have_port)
                s_error(e, zpl_line(key), "duplicate 'port' in 'metrics'");
            else if (!s_parse_uint(v, 65535, &n))
                s_error(e, zpl_line(key), "metrics port must be a TCP port from 0 to 65535 (0: any free port), not '%s'",
                        v ? v : "");
            self->metrics_base = (int)n;
            have_port = true;
        } else if (!strcmp(k, "addr")) {
            struct in_addr a;
            if (!v || inet_pton(AF_INET, v, &a) != 1)
                s_error(e, zpl_line(key), "metrics addr must be an IPv4 address such as 127.0.0.1 or 0.0.0.0, not '%s'",
                        v ? v : "");
            else {
                free(self->metrics_addr);
                self->metrics_addr = strdup(v);
            }
        } else
            s_error(e, zpl_line(key), "unknown key '%s' in 'metrics' (expected port or addr)", k);
    }
    if (!have_port)
        s_error(e, zpl_line(metrics), "'metrics' has no 'port' (the first port; 0: any free port)");
}

/* Gives every replica of every service without a metrics-port of its own
 * the next ports from the 'metrics' section's base, in file order (remote
 * services too, so that every host derives the same ports from one graph),
 * and refuses two replicas on one port. */
static void s_assign_metrics(graph_t *self, errors_t *e)
{
    int next = self->metrics_base;
    for (size_t i = 0; i < self->size; i++) {
        graph_service_t *svc = &self->services[i];
        if (svc->metrics_port < 0 && self->metrics_base >= 0) {
            svc->metrics_port = next;
            if (next)
                next += svc->replicas;
        }
        if (svc->metrics_port > 0 && svc->metrics_port + svc->replicas - 1 > 65535)
            s_error(e, svc->metrics_line ? svc->metrics_line : svc->line,
                    "service '%s': metrics ports %d..%d go past 65535", svc->name, svc->metrics_port,
                    svc->metrics_port + svc->replicas - 1);
    }
    for (size_t i = 0; i < self->size; i++) {
        const graph_service_t *a = &self->services[i];
        for (size_t j = 0; a->metrics_port > 0 && j < i; j++) {
            const graph_service_t *b = &self->services[j];
            if (b->metrics_port > 0 && a->metrics_port < b->metrics_port + b->replicas
                && b->metrics_port < a->metrics_port + a->replicas) {
                s_error(e, a->metrics_line ? a->metrics_line : a->line,
                        "service '%s': metrics ports %d..%d overlap those of '%s' (%d..%d)", a->name,
                        a->metrics_port, a->metrics_port + a->replicas - 1, b->name, b->metrics_port,
                        b->metrics_port + b->replicas - 1);
                break;
            }
        }
    }
}

/* The direct data plane (docs/bus.md, "Direct") is for one host without
 * CURVE: refused otherwise, with the reason. */
static void s_check_direct(graph_t *self, errors_t *e)
{
    bool tcp = self->bus_pub && !strncmp(self->bus_pub, "tcp://", 6);
    if (self->direct_port_line && !self->direct_line)
        s_error(e, self->direct_port_line, "direct-port is only for 'direct = true'");
    if (!self->direct_line)
        return;
    if (self->busconf.curve_line)
        s_error(e, self->direct_line, "direct = true cannot be used with curve yet: direct connections would "
                "bypass the bus's authentication (docs/bus.md)");
    if (self->bus_external)
        s_error(e, self->direct_line, "direct = true needs the bus on this host, not 'external = true'");
    for (size_t i = 0; i < self->size; i++)
        if (self->services[i].remote)
            s_error(e, self->services[i].line, "service '%s' is remote: direct = true needs every service "
                    "on this host", self->services[i].name);
    if (tcp && self->direct_port <= 0)
        s_error(e, self->direct_line, "direct = true over tcp needs 'direct-port = N' (the first of one port "
                "per replica)");
    else if (!tcp && self->direct_port > 0)
        s_error(e, self->direct_port_line, "direct-port is for tcp buses; ipc direct endpoints are named");
    else if (self->bus_pub && strncmp(self->bus_pub, "ipc://", 6) && !tcp)
        s_error(e, self->direct_line, "direct = true needs an ipc:// or tcp:// bus");
    long replicas = 0;
    for (size_t i = 0; i < self->size; i++)
        replicas += self->services[i].replicas;
    if (tcp && self->direct_port > 0 && self->direct_port + replicas - 1 > 65535)
        s_error(e, self->direct_port_line, "direct ports %ld..%ld go past 65535", self->direct_port,
                self->direct_port + replicas - 1);
}

static bool s_is_endpoint(const char *v)
{
    const char *sep = strstr(v, "://");
    return sep && sep > v && sep[3];
}

static void s_busconf_error(void *arg, int line, const char *message)
{
    s_error(arg, line, "%s", message);
}

static void s_parse_bus(graph_t *self, zpl_node_t *bus, errors_t *e)
{
    if (zpl_value(bus))
        s_error(e, zpl_line(bus), "'bus' takes no value; put 'pub = ...' and 'sub = ...' under it");
    zpl_node_t *pub = NULL, *sub = NULL;
    for (zpl_node_t *key = zpl_child(bus); key; key = zpl_next(key)) {
        const char *k = zpl_name(key);
        if (!strcmp(k, "external")) {
            const char *v = zpl_value(key);
            if (v && !strcmp(v, "true")) self->bus_external = true;
            else if (!v || strcmp(v, "false"))
                s_error(e, zpl_line(key), "external must be true or false, not '%s'", v ? v : "");
            continue;
        }
        if (!strcmp(k, "direct")) {
            const char *v = zpl_value(key);
            if (v && !strcmp(v, "true")) self->direct_line = zpl_line(key);
            else if (!v || strcmp(v, "false"))
                s_error(e, zpl_line(key), "direct must be true or false, not '%s'", v ? v : "");
            continue;
        }
        if (!strcmp(k, "direct-port")) {
            const char *v = zpl_value(key);
            char *end = NULL;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || end == v || *end || n < 1 || n > 65535)
                s_error(e, zpl_line(key), "direct-port must be a port from 1 to 65535, not '%s'", v ? v : "");
            else
                self->direct_port = n;
            self->direct_port_line = zpl_line(key);
            continue;
        }
        if (busconf_take(&self->busconf, key, self->dir, s_busconf_error, e))
            continue;
        zpl_node_t **slot = !strcmp(k, "pub") ? &pub : !strcmp(k, "sub") ? &sub : NULL;
        if (!slot) {
            s_error(e, zpl_line(key), "unknown key '%s' in 'bus' (expected pub, sub, external, direct, direct-port, "
                    "curve, metrics-port or metrics-addr)", k);
            continue;
        }
        if (*slot) {
            s_error(e, zpl_line(key), "duplicate '%s' in 'bus' (first at line %d)", k, zpl_line(*slot));
            continue;
        }
        *slot = key;
        if (zpl_child(key))
            s_error(e, zpl_line(zpl_child(key)), "'%s' cannot have children", k);
        const char *v = zpl_value(key);
        if (!v || !s_is_endpoint(v))
            s_error(e, zpl_line(key), "bus %s must be a ZeroMQ endpoint such as ipc://@name or tcp://host:port, not '%s'",
                    k, v ? v : "");
    }
    if (!pub)
        s_error(e, zpl_line(bus), "'bus' has no 'pub' endpoint");
    if (!sub)
        s_error(e, zpl_line(bus), "'bus' has no 'sub' endpoint");
    if (pub && sub && zpl_value(pub) && zpl_value(sub) && !strcmp(zpl_value(pub), zpl_value(sub)))
        s_error(e, zpl_line(sub), "bus pub and sub must be different endpoints");
    busconf_finish(&self->busconf, !self->bus_external, s_busconf_error, e);
    self->bus_pub = strdup(pub && zpl_value(pub) ? zpl_value(pub) : "");
    self->bus_sub = strdup(sub && zpl_value(sub) ? zpl_value(sub) : "");
}

static void s_parse_services(graph_t *self, zpl_node_t *services, errors_t *e)
{
    if (zpl_value(services))
        s_error(e, zpl_line(services), "'services' takes no value; list the services under it");
    size_t count = 0;
    for (zpl_node_t *n = zpl_child(services); n; n = zpl_next(n))
        count++;
    if (count == 0) {
        s_error(e, zpl_line(services), "'services' lists no service");
        return;
    }
    if (count > GRAPH_MAX_SERVICES) {
        s_error(e, zpl_line(services), "more than %d services", GRAPH_MAX_SERVICES);
        return;
    }
    self->services = calloc(count, sizeof *self->services);
    if (!self->services) {
        s_error(e, zpl_line(services), "out of memory");
        return;
    }
    for (zpl_node_t *n = zpl_child(services); n; n = zpl_next(n)) {
        const char *name = zpl_name(n);
        int line = zpl_line(n);
        if (!s_is_word(name, 64)) {
            s_error(e, line, "bad service name '%s' (letters, digits, '_' and '-', starting with a letter)", name);
            continue;
        }
        const graph_service_t *first = graph_find(self, name);
        if (first) {
            s_error(e, line, "duplicate service '%s' (first at line %d)", name, first->line);
            continue;
        }
        graph_service_t *svc = &self->services[self->size++];
        svc->name = strdup(name);
        svc->line = line;
        s_parse_service(svc, n, e);
    }
}

/* ---- --describe ------------------------------------------------------------ */

typedef struct {
    graph_service_t *svc;
    pid_t pid;                  /* 0: not started */
    int out_fd, err_fd;         /* -1 when closed */
    char *out;
    size_t out_len;
    bool out_overflow;
    char err[512];
    size_t err_len;
    int status;
    bool reaped;
    bool timed_out;
    int spawn_errno;
} describe_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts `PATH --describe SETTINGS...` with stdout and stderr on pipes. */
static void s_describe_start(describe_t *d)
{
    d->out_fd = d->err_fd = -1;
    int out[2] = { -1, -1 }, err[2] = { -1, -1 };
    char **argv = NULL;
    size_t argc = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_ok = false, attr_ok = false;
    int rc = 0;
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        rc = errno;
    if (!rc && (s_push(&argv, &argc, strdup(d->svc->path)) || s_push(&argv, &argc, strdup("--describe"))))
        rc = ENOMEM;
    for (size_t i = 0; !rc && i < d->svc->settings_size; i++)
        if (s_push(&argv, &argc, strdup(d->svc->settings[i])))
            rc = ENOMEM;
    if (!rc && !(rc = posix_spawn_file_actions_init(&fa)))
        fa_ok = true;
    if (!rc && !(rc = posix_spawnattr_init(&attr)))
        attr_ok = true;
    if (!rc)
        rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    /* Its own process group, so a timeout kills what a script started too. */
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    if (!rc)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc)
        rc = posix_spawn(&d->pid, d->svc->path, &fa, &attr, argv, environ);
    if (rc)
        d->pid = 0;
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    s_list_free(&argv, &argc);
    if (out[1] >= 0)
        close(out[1]);
    if (err[1] >= 0)
        close(err[1]);
    if (rc) {
        d->spawn_errno = rc;
        if (out[0] >= 0)
            close(out[0]);
        if (err[0] >= 0)
            close(err[0]);
        return;
    }
    d->out_fd = out[0];
    d->err_fd = err[0];
}

/* Reads what is available on one of a run's pipes; closes it at EOF. */
static void s_describe_read(describe_t *d, int *fd)
{
    char buf[4096];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (fd == &d->out_fd) {
        if (d->out_len + (size_t)n > GRAPH_DESCRIBE_MAX_OUTPUT) {
            d->out_overflow = true;     /* keep draining, so the child is not stuck */
            return;
        }
        char *bigger = realloc(d->out, d->out_len + (size_t)n + 1);
        if (!bigger) {
            d->out_overflow = true;
            return;
        }
        d->out = bigger;
        memcpy(d->out + d->out_len, buf, (size_t)n);
        d->out_len += (size_t)n;
        d->out[d->out_len] = 0;
    }
    else {
        size_t room = sizeof d->err - 1 - d->err_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(d->err + d->err_len, buf, take);
        d->err_len += take;
        d->err[d->err_len] = 0;
    }
}

/* Runs every service's --describe at once and waits for all of them, at
 * most timeout_ms in total: one hung program costs the timeout once, not
 * once per service. */
static void s_describe_all(describe_t *runs, size_t count, int timeout_ms)
{
    for (size_t i = 0; i < count; i++)
        s_describe_start(&runs[i]);
    int64_t deadline = s_now_ms() + timeout_ms;
    struct pollfd *fds = calloc(count * 2 + 1, sizeof *fds);
    int **owners = calloc(count * 2 + 1, sizeof *owners);
    size_t *which = calloc(count * 2 + 1, sizeof *which);
    while (fds && owners && which) {
        /* Reap what has exited and closed its pipes. */
        bool running = false;
        for (size_t i = 0; i < count; i++) {
            describe_t *d = &runs[i];
            if (!d->pid || d->reaped)
                continue;
            pid_t r = d->out_fd < 0 && d->err_fd < 0 ? waitpid(d->pid, &d->status, WNOHANG) : 0;
            if (r == d->pid)
                d->reaped = true;
            else if (r < 0 && errno == ECHILD) {
                /* Someone else's SIGCHLD handler reaped it: judge by the output. */
                d->status = 0;
                d->reaped = true;
            }
            else
                running = true;
        }
        int64_t left = deadline - s_now_ms();
        if (!running || left <= 0)
            break;
        nfds_t n = 0;
        for (size_t i = 0; i < count; i++) {
            int *pair[2] = { &runs[i].out_fd, &runs[i].err_fd };
            for (int k = 0; k < 2; k++)
                if (*pair[k] >= 0) {
                    fds[n] = (struct pollfd){ .fd = *pair[k], .events = POLLIN };
                    owners[n] = pair[k];
                    which[n] = i;
                    n++;
                }
        }
        /* With every pipe closed, poll only sleeps until the next reap check. */
        int wait = n ? (int)(left < 1000 ? left : 1000) : (int)(left < 10 ? left : 10);
        int r = poll(fds, n, wait);
        if (r < 0 && errno != EINTR)
            break;
        for (nfds_t j = 0; r > 0 && j < n; j++)
            if (fds[j].revents)
                s_describe_read(&runs[which[j]], owners[j]);
    }
    free(fds);
    free(owners);
    free(which);
    for (size_t i = 0; i < count; i++) {
        describe_t *d = &runs[i];
        if (d->pid && !d->reaped) {
            d->timed_out = true;
            kill(-d->pid, SIGKILL);
            kill(d->pid, SIGKILL);
            while (waitpid(d->pid, &d->status, 0) < 0 && errno == EINTR)
                ;
            d->reaped = true;
        }
        if (d->out_fd >= 0)
            close(d->out_fd);
        if (d->err_fd >= 0)
            close(d->err_fd);
        d->out_fd = d->err_fd = -1;
    }
}

/* Adds the topics under a publishes/subscribes node; returns the problem as
 * malloc'd text, or NULL. */
static char *s_collect_topics(zpl_node_t *list, char ***topics, size_t *size)
{
    for (zpl_node_t *t = zpl_child(list); t; t = zpl_next(t)) {
        const char *v = zpl_value(t);
        if (strcmp(zpl_name(t), "topic") || !v)
            return s_printf("output:%d: expected 'topic = PREFIX.' under '%s'",
                            zpl_line(t), zpl_name(list));
        const char *problem = s_topic_problem(v);
        if (problem)
            return s_printf("output:%d: topic '%.64s' %s", zpl_line(t), v, problem);
        bool seen = false;
        for (size_t i = 0; i < *size; i++)
            seen |= !strcmp((*topics)[i], v);
        if (seen)
            continue;
        if (*size >= GRAPH_MAX_TOPICS)
            return s_printf("output:%d: more than %d topics under '%s'",
                            zpl_line(t), GRAPH_MAX_TOPICS, zpl_name(list));
        if (s_push(topics, size, strdup(v)))
            return strdup("out of memory");
    }
    return NULL;
}

/* Parses a --describe answer into svc; returns the problem as malloc'd text, or NULL. */
static char *s_parse_describe(graph_service_t *svc, const char *text, size_t len)
{
    char *err = NULL;
    zpl_node_t *root = zpl_parse(text, len, "output", &err);
    if (!root)
        return err ? err : strdup("out of memory");
    char *problem = NULL;
    zpl_node_t *service = NULL;
    for (zpl_node_t *n = zpl_child(root); n && !problem; n = zpl_next(n)) {
        if (strcmp(zpl_name(n), "service"))
            problem = s_printf("output:%d: unexpected '%.64s' (expected 'service = NAME')",
                               zpl_line(n), zpl_name(n));
        else if (service)
            problem = s_printf("output:%d: a second 'service'", zpl_line(n));
        else if (!zpl_value(n) || !*zpl_value(n))
            problem = s_printf("output:%d: 'service' needs a value", zpl_line(n));
        else
            service = n;
    }
    if (!problem && !service)
        problem = strdup("no 'service = NAME' line");
    if (!problem) {
        svc->kind = strdup(zpl_value(service));
        /* Keys other than these two are skipped, so a daemon can describe
         * more about itself without breaking older voxmesh commands. */
        for (zpl_node_t *n = zpl_child(service); n && !problem; n = zpl_next(n))
            if (!strcmp(zpl_name(n), "publishes"))
                problem = s_collect_topics(n, &svc->publishes, &svc->publishes_size);
            else if (!strcmp(zpl_name(n), "subscribes"))
                problem = s_collect_topics(n, &svc->subscribes, &svc->subscribes_size);
            else if (!strcmp(zpl_name(n), "listens"))
                problem = s_collect_topics(n, &svc->listens, &svc->listens_size);
    }
    zpl_destroy(&root);
    return problem;
}

/* First line of a child's stderr, for the error message. */
static void s_first_line(const char *text, char *buf, size_t size)
{
    while (*text == '\n' || *text == ' ')
        text++;
    size_t n = strcspn(text, "\n");
    if (n >= size)
        n = size - 1;
    memcpy(buf, text, n);
    buf[n] = 0;
}

static void s_describe_report(describe_t *d, int timeout_ms, errors_t *e)
{
    graph_service_t *svc = d->svc;
    char detail[256] = "";
    if (d->err_len) {
        char first[200];
        s_first_line(d->err, first, sizeof first);
        if (*first)
            snprintf(detail, sizeof detail, ": %s", first);
    }
    if (d->spawn_errno)
        s_error(e, svc->line, "unknown service '%s': cannot run '%s': %s",
                svc->name, svc->path, strerror(d->spawn_errno));
    else if (d->timed_out)
        s_error(e, svc->line, "unknown service '%s': '%s --describe' did not answer within %g s",
                svc->name, svc->path, timeout_ms / 1000.0);
    else if (WIFSIGNALED(d->status))
        s_error(e, svc->line, "unknown service '%s': '%s --describe' was killed by signal %d%s",
                svc->name, svc->path, WTERMSIG(d->status), detail);
    else if (WEXITSTATUS(d->status) != 0)
        s_error(e, svc->line, "unknown service '%s': '%s --describe' failed with exit status %d%s",
                svc->name, svc->path, WEXITSTATUS(d->status), detail);
    else if (d->out_overflow)
        s_error(e, svc->line, "unknown service '%s': '%s --describe' printed garbage: more than %d bytes",
                svc->name, svc->path, GRAPH_DESCRIBE_MAX_OUTPUT);
    else if (d->out_len == 0)
        s_error(e, svc->line, "unknown service '%s': '%s --describe' printed nothing (is it a voxmesh service?)",
                svc->name, svc->path);
    else {
        char *problem = s_parse_describe(svc, d->out, d->out_len);
        if (problem)
            s_error(e, svc->line, "unknown service '%s': '%s --describe' printed garbage: %s",
                    svc->name, svc->path, problem);
        free(problem);
    }
}

/* ---- loading --------------------------------------------------------------- */

graph_t *graph_load(const char *path, const graph_options_t *options, char **err)
{
    if (err)
        *err = NULL;
    errors_t e = { .file = path };
    graph_t *self = calloc(1, sizeof *self);
    char *zerr = NULL;
    if (self)
        busconf_init(&self->busconf);
    zpl_node_t *root = self ? zpl_load(path, &zerr) : NULL;
    if (!self || !root) {
        if (err)
            *err = zerr ? zerr : strdup("out of memory");
        else
            free(zerr);
        graph_destroy(&self);
        return NULL;
    }
    self->file = strdup(path);
    const char *slash = strrchr(path, '/');
    self->dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");

    zpl_node_t *bus = NULL, *services = NULL, *metrics = NULL;
    self->metrics_base = -1;
    self->direct_port = -1;
    for (zpl_node_t *n = zpl_child(root); n; n = zpl_next(n)) {
        const char *k = zpl_name(n);
        zpl_node_t **slot = !strcmp(k, "bus") ? &bus : !strcmp(k, "services") ? &services
                          : !strcmp(k, "metrics") ? &metrics : NULL;
        if (!slot)
            s_error(&e, zpl_line(n), "unknown key '%s' (expected bus, metrics or services)", k);
        else if (*slot)
            s_error(&e, zpl_line(n), "duplicate '%s' (first at line %d)", k, zpl_line(*slot));
        else
            *slot = n;
    }
    if (bus)
        s_parse_bus(self, bus, &e);
    else
        s_error(&e, 0, "no 'bus' section (with 'pub = ENDPOINT' and 'sub = ENDPOINT')");
    if (services)
        s_parse_services(self, services, &e);
    else
        s_error(&e, 0, "no 'services' section");
    if (metrics)
        s_parse_metrics(self, metrics, &e);
    if (!self->metrics_addr)
        self->metrics_addr = strdup("127.0.0.1");
    s_assign_metrics(self, &e);
    s_check_direct(self, &e);
    zpl_destroy(&root);

    /* Resolve programs, then describe every service that resolved. */
    const char *bin_dir = options && options->bin_dir ? options->bin_dir : getenv("VOXMESH_BIN_DIR");
    if (bin_dir && !*bin_dir)
        bin_dir = NULL;
    char *exe_dir = bin_dir ? NULL : s_exe_dir();
    describe_t *runs = calloc(self->size ? self->size : 1, sizeof *runs);
    size_t nruns = 0;
    for (size_t i = 0; runs && i < self->size && !(options && options->parse_only); i++) {
        graph_service_t *svc = &self->services[i];
        if (!svc->program)
            continue;
        char *why = NULL;
        svc->path = s_resolve(svc->program, self->dir, bin_dir, exe_dir, &why);
        if (!svc->path)
            s_error(&e, svc->line, "unknown service '%s': %s", svc->name, why ? why : "out of memory");
        else
            runs[nruns++].svc = svc;
        free(why);
    }
    free(exe_dir);
    int timeout_ms = options && options->timeout_ms > 0 ? options->timeout_ms : GRAPH_DESCRIBE_TIMEOUT_MS;
    if (runs) {
        s_describe_all(runs, nruns, timeout_ms);
        for (size_t i = 0; i < nruns; i++) {
            s_describe_report(&runs[i], timeout_ms, &e);
            free(runs[i].out);
        }
        free(runs);
    }
    else
        s_error(&e, 0, "out of memory");

    char *text = s_errors_end(&e);
    if (text) {
        if (err)
            *err = text;
        else
            free(text);
        graph_destroy(&self);
        return NULL;
    }
    return self;
}

void graph_destroy(graph_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    graph_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        graph_service_t *svc = &self->services[i];
        free(svc->name);
        free(svc->program);
        free(svc->path);
        free(svc->kind);
        s_list_free(&svc->settings, &svc->settings_size);
        s_list_free(&svc->publishes, &svc->publishes_size);
        s_list_free(&svc->subscribes, &svc->subscribes_size);
        s_list_free(&svc->listens, &svc->listens_size);
    }
    free(self->services);
    free(self->file);
    free(self->dir);
    free(self->bus_pub);
    free(self->bus_sub);
    busconf_fini(&self->busconf);
    free(self->metrics_addr);
    free(self);
    *self_p = NULL;
}

const char *graph_file(const graph_t *self)
{
    return self->file;
}

const char *graph_bus_pub(const graph_t *self)
{
    return self->bus_pub;
}

bool graph_bus_external(const graph_t *self)
{
    return self->bus_external;
}

const busconf_t *graph_busconf(const graph_t *self)
{
    return &self->busconf;
}

const char *graph_bus_sub(const graph_t *self)
{
    return self->bus_sub;
}

int graph_metrics_port(const graph_t *self, const graph_service_t *service, int replica)
{
    (void)self;
    if (!service || service->metrics_port < 0 || replica < 0 || replica >= service->replicas)
        return -1;
    return service->metrics_port ? service->metrics_port + replica : 0;
}

const char *graph_metrics_addr(const graph_t *self)
{
    return self->metrics_addr;
}

size_t graph_size(const graph_t *self)
{
    return self->size;
}

const graph_service_t *graph_service(const graph_t *self, size_t index)
{
    return index < self->size ? &self->services[index] : NULL;
}

const graph_service_t *graph_find(const graph_t *self, const char *name)
{
    for (size_t i = 0; i < self->size; i++)
        if (!strcmp(self->services[i].name, name))
            return &self->services[i];
    return NULL;
}

bool graph_bus_direct(const graph_t *self)
{
    return self->direct_line != 0;
}

static char *s_instance(const graph_service_t *service, int replica)
{
    return service->replicas > 1 ? s_printf("%s.%d", service->name, replica) : strdup(service->name);
}

char *graph_direct_endpoint(const graph_t *self, const graph_service_t *service, int replica)
{
    if (!self->direct_line || replica < 0 || replica >= service->replicas)
        return NULL;
    if (self->direct_port > 0) {   /* tcp://HOST:PORT: the bus's host, one port per replica */
        const char *host = self->bus_pub + 6, *colon = strrchr(host, ':');
        int port = (int)self->direct_port;
        for (size_t i = 0; i < self->size && &self->services[i] != service; i++)
            port += self->services[i].replicas;
        return s_printf("tcp://%.*s:%d", (int)(colon ? colon - host : (long)strlen(host)), host, port + replica);
    }
    char *inst = s_instance(service, replica);
    char *ep = inst ? s_printf("%s.%s", self->bus_pub, inst) : NULL;
    free(inst);
    return ep;
}

/* Whether `publisher` may publish what `subscriber` subscribes to (or
 * listens to): a subscription is a prefix of a published topic, or a
 * published family ("stt.w.") is a prefix of the subscription. */
static bool s_feeds_any(const graph_service_t *publisher, const graph_service_t *subscriber)
{
    for (size_t p = 0; p < publisher->publishes_size; p++) {
        const char *t = publisher->publishes[p];
        for (size_t s = 0; s < subscriber->subscribes_size + subscriber->listens_size; s++) {
            const char *sub = s < subscriber->subscribes_size ? subscriber->subscribes[s]
                                                               : subscriber->listens[s - subscriber->subscribes_size];
            if (graph_topic_matches(sub, t) || graph_topic_matches(t, sub))
                return true;
        }
    }
    return false;
}

char *graph_direct_sources(const graph_t *self, const graph_service_t *service)
{
    if (!self->direct_line)
        return NULL;
    char *list = strdup("");
    for (size_t i = 0; list && i < self->size; i++) {
        const graph_service_t *o = &self->services[i];
        if (!s_feeds_any(o, service))
            continue;
        for (int r = 0; list && r < o->replicas; r++) {
            char *ep = graph_direct_endpoint(self, o, r);
            char *next = ep ? s_printf("%s%s%s", list, *list ? "," : "", ep) : NULL;
            free(ep);
            free(list);
            list = next;
        }
    }
    return list;
}

char **graph_argv(const graph_t *self, const graph_service_t *service, int replica)
{
    if (!self || !service || !service->path || replica < 0 || replica >= service->replicas)
        return NULL;
    char **argv = NULL;
    size_t argc = 0;
    int rc = s_push(&argv, &argc, strdup(service->path));
    if (service->replicas > 1)
        rc |= s_push(&argv, &argc, s_printf("--name=%s.%d", service->name, replica));
    else
        rc |= s_push(&argv, &argc, s_printf("--name=%s", service->name));
    rc |= s_push(&argv, &argc, s_printf("--replica=%d", replica));
    rc |= s_push(&argv, &argc, s_printf("--replicas=%d", service->replicas));
    rc |= s_push(&argv, &argc, s_printf("--bus-pub=%s", self->bus_pub));
    rc |= s_push(&argv, &argc, s_printf("--bus-sub=%s", self->bus_sub));
    if (self->busconf.curve_line) {
        rc |= s_push(&argv, &argc, s_printf("--bus-cert=%s", self->busconf.cert));
        rc |= s_push(&argv, &argc, s_printf("--bus-server-key=%s", self->busconf.server_key));
    }
    if (self->direct_line) {
        char *ep = graph_direct_endpoint(self, service, replica);
        char *sources = graph_direct_sources(self, service);
        rc |= s_push(&argv, &argc, ep ? s_printf("--bus-bind=%s", ep) : NULL);
        rc |= s_push(&argv, &argc, sources ? s_printf("--bus-direct=%s", sources) : NULL);
        free(ep);
        free(sources);
    }
    int mport = graph_metrics_port(self, service, replica);
    if (mport >= 0) {
        rc |= s_push(&argv, &argc, s_printf("--metrics-port=%d", mport));
        rc |= s_push(&argv, &argc, s_printf("--metrics-addr=%s", self->metrics_addr));
    }
    for (size_t i = 0; i < service->settings_size; i++)
        rc |= s_push(&argv, &argc, strdup(service->settings[i]));
    if (rc) {
        s_list_free(&argv, &argc);
        return NULL;
    }
    return argv;
}

void graph_argv_destroy(char ***argv_p)
{
    if (!argv_p || !*argv_p)
        return;
    for (char **a = *argv_p; *a; a++)
        free(*a);
    free(*argv_p);
    *argv_p = NULL;
}
