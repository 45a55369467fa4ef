/* busconf — see busconf.h. */
#include "busconf.h"
#include "bus_cert.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_report(busconf_error_fn *err, void *arg, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_report(busconf_error_fn *err, void *arg, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err(arg, line, msg);
}

void busconf_init(busconf_t *self)
{
    memset(self, 0, sizeof *self);
    self->metrics_port = -1;
}

void busconf_fini(busconf_t *self)
{
    free(self->cert);
    free(self->server_key);
    free(self->server_cert);
    free(self->authorized_keys);
    free(self->metrics_addr);
    busconf_init(self);
}

static char *s_path(const char *dir, const char *value)
{
    if (value[0] == '/' || !dir) return strdup(value);
    size_t n = strlen(dir) + strlen(value) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, value);
    return p;
}

/* One key under `curve`: a file (or directory) checked now. */
static void s_curve_key(busconf_t *self, const zpl_node_t *key, const char *dir, busconf_error_fn *err, void *arg)
{
    const char *k = zpl_name(key), *v = zpl_value(key);
    int line = zpl_line(key);
    char **slot = !strcmp(k, "cert") ? &self->cert
                : !strcmp(k, "server-key") ? &self->server_key
                : !strcmp(k, "server-cert") ? &self->server_cert
                : !strcmp(k, "authorized-keys") ? &self->authorized_keys : NULL;
    if (!slot) {
        s_report(err, arg, line, "unknown key '%s' in 'bus/curve' (expected cert, server-key, server-cert or "
                 "authorized-keys)", k);
        return;
    }
    if (*slot) {
        s_report(err, arg, line, "duplicate '%s' in 'bus/curve'", k);
        return;
    }
    if (!v || !*v || zpl_child(key)) {
        s_report(err, arg, line, "bus/curve/%s takes a file name", k);
        return;
    }
    if (!(*slot = s_path(dir, v))) {
        s_report(err, arg, line, "out of memory");
        return;
    }
    char why[1024];
    if (slot == &self->authorized_keys) {
        if (bus_cert_check_dir(*slot, why, sizeof why) < 0)
            s_report(err, arg, line, "bus/curve/%s: %s", k, why);
        return;
    }
    /* Our own certificates hold the secret key; the server key is public. */
    zcert_t *cert = bus_cert_load(*slot, slot != &self->server_key, why, sizeof why);
    if (!cert) s_report(err, arg, line, "bus/curve/%s: %s", k, why);
    zcert_destroy(&cert);
}

bool busconf_take(busconf_t *self, const zpl_node_t *key, const char *dir, busconf_error_fn *err, void *arg)
{
    const char *k = zpl_name(key), *v = zpl_value(key);
    int line = zpl_line(key);
    if (!strcmp(k, "curve")) {
        if (self->curve_line) {
            s_report(err, arg, line, "duplicate 'curve' in 'bus' (first at line %d)", self->curve_line);
            return true;
        }
        self->curve_line = line;
        if (v) s_report(err, arg, line, "'curve' takes no value; put its keys under it (docs/graph.md)");
        for (const zpl_node_t *c = zpl_child(key); c; c = zpl_next(c)) s_curve_key(self, c, dir, err, arg);
        return true;
    }
    if (!strcmp(k, "metrics-port")) {
        char *end = NULL;
        errno = 0;
        long port = v ? strtol(v, &end, 10) : -1;
        if (!v || errno || end == v || *end || port < 0 || port > 65535)
            s_report(err, arg, line, "bus metrics-port must be a port number (0 to 65535), not '%s'", v ? v : "");
        else
            self->metrics_port = port;
        return true;
    }
    if (!strcmp(k, "metrics-addr")) {
        if (!v || !*v) s_report(err, arg, line, "bus metrics-addr takes an address");
        else if (self->metrics_addr) s_report(err, arg, line, "duplicate 'metrics-addr' in 'bus'");
        else self->metrics_addr = strdup(v);
        return true;
    }
    return false;
}

void busconf_finish(busconf_t *self, bool proxy_here, busconf_error_fn *err, void *arg)
{
    if (!self->metrics_addr) self->metrics_addr = strdup("127.0.0.1");
    if (!self->curve_line) return;
    int line = self->curve_line;
    if (!self->cert) s_report(err, arg, line, "bus/curve has no 'cert' (this host's certificate, NAME.key_secret)");
    if (!self->server_key)
        s_report(err, arg, line, "bus/curve has no 'server-key' (the bus's public certificate, NAME.key)");
    if (proxy_here) {
        if (!self->server_cert)
            s_report(err, arg, line, "bus/curve has no 'server-cert': this host runs the bus (the bus's NAME.key_secret)");
        if (!self->authorized_keys)
            s_report(err, arg, line, "bus/curve has no 'authorized-keys': this host runs the bus (a directory of the "
                     "clients' public certificates)");
    } else {
        if (self->server_cert)
            s_report(err, arg, line, "bus/curve/server-cert is for the host that runs the bus, not this one "
                     "(external = true)");
        if (self->authorized_keys)
            s_report(err, arg, line, "bus/curve/authorized-keys is for the host that runs the bus, not this one "
                     "(external = true)");
    }
}

typedef struct { const char *file; int n; } s_print_t;

static void s_print(void *arg, int line, const char *message)
{
    s_print_t *p = arg;
    fprintf(stderr, "%s:%d: %s\n", p->file, line, message);
    p->n++;
}

int busconf_read(busconf_t *self, const zpl_node_t *bus, const char *file, bool proxy_here)
{
    busconf_init(self);
    s_print_t p = { file, 0 };
    char dir[PATH_MAX];
    const char *slash = strrchr(file, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash == file ? 1 : slash - file), file);
    else snprintf(dir, sizeof dir, ".");
    for (const zpl_node_t *k = bus ? zpl_child(bus) : NULL; k; k = zpl_next(k)) busconf_take(self, k, dir, s_print, &p);
    busconf_finish(self, proxy_here, s_print, &p);
    return p.n ? -1 : 0;
}

const bus_curve_t *busconf_client(const busconf_t *self, bus_curve_t *out)
{
    if (!self || !self->curve_line) return NULL;
    out->cert = self->cert;
    out->server_key = self->server_key;
    return out;
}

int busconf_proxy_start(busconf_proxy_t *out, const busconf_t *self, const char *pub, const char *sub)
{
    memset(out, 0, sizeof *out);
    out->metrics = metrics_new();
    if (!out->metrics) return -1;
    bus_proxy_options_t o = { .metrics = out->metrics };
    if (self->curve_line) {
        o.cert = self->server_cert;
        o.authorized_keys = self->authorized_keys;
    }
    out->proxy = bus_proxy_new_with(pub, sub, &o);
    if (!out->proxy) goto fail;
    if (self->curve_line)
        log_info("bus: CURVE on, clients authorised by the certificates in %s", self->authorized_keys);
    if (self->metrics_port >= 0) {
        out->server = metrics_server_new(out->metrics, self->metrics_addr, (int)self->metrics_port);
        if (!out->server) goto fail;
        log_info("bus: metrics on http://%s:%d/metrics", self->metrics_addr, metrics_server_port(out->server));
    }
    return 0;
fail:
    busconf_proxy_stop(out);
    return -1;
}

void busconf_proxy_stop(busconf_proxy_t *p)
{
    metrics_server_destroy(&p->server);
    bus_proxy_destroy(&p->proxy);
    metrics_destroy(&p->metrics);
}
