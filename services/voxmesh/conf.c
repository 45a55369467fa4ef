/* conf — see conf.h: `voxmesh conf` and `voxmesh units`. */
#include "conf.h"
#include "cli.h"
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_MAX_UNIT_DIRS 8

static char *s_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int s_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* A value as the config reader (common/service.c) gives it back: quoted when
 * blanks at either end or quotes around it would otherwise be lost. */
static void s_put_value(FILE *f, const char *v)
{
    size_t n = strlen(v);
    bool quote = n == 0 || v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t'
              || v[0] == '"' || v[0] == '\'';
    fprintf(f, quote ? "\"%s\"\n" : "%s\n", v);
}

static int s_write_one(const graph_t *graph, const graph_service_t *svc, const char *dir, FILE *log)
{
    char *path = s_printf("%s/%s.conf", dir, svc->name);
    char *tmp = s_printf("%s/.%s.conf.tmp", dir, svc->name);
    FILE *f = path && tmp ? fopen(tmp, "w") : NULL;
    if (!f) {
        fprintf(log, "%s: %s\n", tmp ? tmp : dir, path && tmp ? strerror(errno) : "out of memory");
        free(path);
        free(tmp);
        return -1;
    }
    fprintf(f, "# %s — made by `voxmesh conf %s` from service '%s' (line %d).\n"
               "# Do not edit: change the graph; the file is made again whenever the stack starts.\n",
            path, graph_file(graph), svc->name, svc->line);
    fprintf(f, "name = %s\nreplicas = %d\nbus-pub = ", svc->name, svc->replicas);
    s_put_value(f, graph_bus_pub(graph));
    fputs("bus-sub = ", f);
    s_put_value(f, graph_bus_sub(graph));
    for (size_t i = 0; i < svc->settings_size; i++) {
        const char *arg = svc->settings[i] + 2;         /* "--key=value" */
        const char *eq = strchr(arg, '=');
        fprintf(f, "%.*s = ", (int)(eq - arg), arg);
        s_put_value(f, eq + 1);
    }
    int rc = 0;
    if (ferror(f) | (fclose(f) != 0) || rename(tmp, path) < 0) {
        fprintf(log, "%s: %s\n", path, strerror(errno));
        unlink(tmp);
        rc = -1;
    }
    free(path);
    free(tmp);
    return rc;
}

int conf_write(const graph_t *graph, const char *dir, FILE *log)
{
    int errors = 0, written = 0;
    /* A setting without a value ("--key") cannot be said in a config file,
     * and on a command line it would take the next option as its value. */
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        for (size_t k = 0; k < svc->settings_size; k++)
            if (!strchr(svc->settings[k], '=')) {
                fprintf(log, "%s:%d: service '%s': setting '%s' has no value; write '%s = true' (or the value it needs)\n",
                        graph_file(graph), svc->line, svc->name, svc->settings[k] + 2, svc->settings[k] + 2);
                errors++;
            }
    }
    if (errors)
        return -1;
    int r = s_mkdirs(dir);
    if (r < 0) {
        fprintf(log, "%s: %s\n", dir, strerror(-r));
        return -1;
    }
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        if (svc->remote)
            continue;
        if (s_write_one(graph, svc, dir, log) < 0)
            errors++;
        else
            written++;
    }
    return errors ? -1 : written;
}

/* ---- units ------------------------------------------------------------------ */

static bool s_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The program a unit file's ExecStart= starts (its base name), malloc'd, or
 * NULL when the unit has no ExecStart=. Only the first ExecStart= counts. */
static char *s_unit_program(const char *unit_path)
{
    FILE *f = fopen(unit_path, "r");
    if (!f)
        return NULL;
    char line[4096], *prog = NULL;
    while (!prog && fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        if (strncmp(p, "ExecStart=", 10))
            continue;
        p += 10;
        p += strspn(p, "@-:+! \t");             /* systemd's prefixes */
        size_t n = strcspn(p, " \t\r\n");
        if (!n)
            continue;
        p[n] = 0;
        const char *base = strrchr(p, '/');
        prog = strdup(base ? base + 1 : p);
    }
    fclose(f);
    return prog;
}

char *conf_unit_for(const graph_service_t *service, const char *const *unit_dirs, size_t ndirs,
                    bool *is_template, FILE *log)
{
    for (size_t d = 0; d < ndirs; d++) {
        char *tpl = s_printf("%s/voxmesh-%s@.service", unit_dirs[d], service->name);
        if (tpl && s_is_file(tpl)) {
            *is_template = true;
            return tpl;
        }
        free(tpl);
        char *one = s_printf("%s/voxmesh-%s.service", unit_dirs[d], service->name);
        if (one && s_is_file(one)) {
            if (service->replicas > 1) {
                fprintf(log, "service '%s' has %d replicas but %s is not a template unit (voxmesh-%s@.service)\n",
                        service->name, service->replicas, one, service->name);
                free(one);
                return NULL;
            }
            *is_template = false;
            return one;
        }
        free(one);
    }
    fprintf(log, "service '%s' has no systemd unit: neither voxmesh-%s.service nor voxmesh-%s@.service in",
            service->name, service->name, service->name);
    for (size_t d = 0; d < ndirs; d++)
        fprintf(log, " %s", unit_dirs[d]);
    fputc('\n', log);
    return NULL;
}

static int s_link(const char *target, const char *wants_dir, const char *unit, FILE *log)
{
    char *link = s_printf("%s/%s", wants_dir, unit);
    if (!link)
        return -1;
    unlink(link);
    int rc = symlink(target, link);
    if (rc < 0)
        fprintf(log, "%s: %s\n", link, strerror(errno));
    free(link);
    return rc;
}

int conf_units(const graph_t *graph, const char *const *unit_dirs, size_t ndirs,
               const char *wants_dir, FILE *log)
{
    int errors = 0;
    if (wants_dir) {
        int r = s_mkdirs(wants_dir);
        if (r < 0) {
            fprintf(log, "%s: %s\n", wants_dir, strerror(-r));
            return -1;
        }
    }
    if (!graph_bus_external(graph)) {
        graph_service_t bus = { .name = "bus", .replicas = 1 };
        bool tpl = false;
        char *unit = conf_unit_for(&bus, unit_dirs, ndirs, &tpl, log);
        if (!unit || tpl)
            errors++;
        else if (wants_dir && s_link(unit, wants_dir, "voxmesh-bus.service", log) < 0)
            errors++;
        free(unit);
    }
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        if (svc->remote)
            continue;
        bool tpl = false;
        char *unit = conf_unit_for(svc, unit_dirs, ndirs, &tpl, log);
        if (!unit) {
            errors++;
            continue;
        }
        /* The graph may name another program for the service; the unit runs one. */
        const char *base = strrchr(svc->program, '/');
        base = base ? base + 1 : svc->program;
        char *prog = s_unit_program(unit);
        if (!prog || strcmp(prog, base)) {
            fprintf(log, "%s:%d: service '%s' runs program '%s' but its unit %s starts '%s'\n",
                    graph_file(graph), svc->line, svc->name, base, unit, prog ? prog : "(no ExecStart=)");
            errors++;
        }
        else if (wants_dir) {
            for (int r = 0; r < (tpl ? svc->replicas : 1); r++) {
                char *name = tpl ? s_printf("voxmesh-%s@%d.service", svc->name, r)
                                 : s_printf("voxmesh-%s.service", svc->name);
                if (!name || s_link(unit, wants_dir, name, log) < 0)
                    errors++;
                free(name);
            }
        }
        free(prog);
        free(unit);
    }
    return errors ? -1 : 0;
}

/* ---- the subcommands ---------------------------------------------------------- */

/* [--unit-dir DIR]... GRAPH OUT: returns 0, or 2 after the usage. */
static int s_args(int argc, char **argv, const char *usage, const char **dirs, size_t *ndirs,
                  const char **graph, const char **out, bool out_optional)
{
    *ndirs = 0;
    *graph = *out = NULL;
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--unit-dir") || !strncmp(a, "--unit-dir=", 11)) {
            const char *v = a[10] == '=' ? a + 11 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !*v) {
                fprintf(stderr, "voxmesh %s: --unit-dir needs a directory\n%s", argv[0], usage);
                return 2;
            }
            if (*ndirs == CONF_MAX_UNIT_DIRS) {
                fprintf(stderr, "voxmesh %s: at most %d --unit-dir\n", argv[0], CONF_MAX_UNIT_DIRS);
                return 2;
            }
            dirs[(*ndirs)++] = v;
        }
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 1;
        }
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "voxmesh %s: unknown option '%s'\n%s", argv[0], a, usage);
            return 2;
        }
        else if (positional == 0) {
            *graph = a;
            positional++;
        }
        else if (positional == 1) {
            *out = a;
            positional++;
        }
        else {
            fprintf(stderr, "voxmesh %s: too many arguments\n%s", argv[0], usage);
            return 2;
        }
    }
    if (!*graph || (!*out && !out_optional)) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

static graph_t *s_load(const char *path)
{
    graph_options_t options = { .parse_only = true };
    return check_load(path, &options);
}

int conf_main(int argc, char **argv)
{
    const char *usage =
        "usage: voxmesh conf [--unit-dir DIR]... GRAPH OUTDIR\n"
        "  Writes OUTDIR/NAME.conf for every service of GRAPH that runs on this host:\n"
        "  `key = value` lines for its --config (name, replicas, bus endpoints, settings).\n"
        "  With --unit-dir, also checks that each service (and the bus) has a systemd unit\n"
        "  in one of the DIRs that starts its program. Exit 0, or 1 on any problem.\n";
    const char *dirs[CONF_MAX_UNIT_DIRS], *path, *out;
    size_t ndirs;
    int rc = s_args(argc, argv, usage, dirs, &ndirs, &path, &out, false);
    if (rc)
        return rc == 1 ? 0 : rc;
    graph_t *graph = s_load(path);
    if (!graph)
        return 1;
    rc = 0;
    if (ndirs && conf_units(graph, dirs, ndirs, NULL, stderr) < 0)
        rc = 1;
    int n = rc ? -1 : conf_write(graph, out, stderr);
    if (n < 0)
        rc = 1;
    else
        printf("%s: %d config file%s in %s\n", path, n, n == 1 ? "" : "s", out);
    graph_destroy(&graph);
    return rc;
}

int units_main(int argc, char **argv)
{
    const char *usage =
        "usage: voxmesh units --unit-dir DIR [--unit-dir DIR]... GRAPH [WANTSDIR]\n"
        "  Lists the systemd units that run GRAPH on this host (the bus unless external,\n"
        "  voxmesh-NAME.service, or voxmesh-NAME@I.service per replica when DIR has the\n"
        "  template) and, with WANTSDIR, links them there (the generator makes\n"
        "  voxmesh.target.wants this way). Exit 1 when a service has no unit.\n";
    const char *dirs[CONF_MAX_UNIT_DIRS], *path, *wants;
    size_t ndirs;
    int rc = s_args(argc, argv, usage, dirs, &ndirs, &path, &wants, true);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!ndirs) {
        fprintf(stderr, "voxmesh units: --unit-dir is required\n%s", usage);
        return 2;
    }
    graph_t *graph = s_load(path);
    if (!graph)
        return 1;
    rc = conf_units(graph, dirs, ndirs, wants, stderr) < 0 ? 1 : 0;
    if (!graph_bus_external(graph))
        printf("voxmesh-bus.service\n");
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        bool tpl = false;
        FILE *quiet = fopen("/dev/null", "w");
        char *unit = svc->remote ? NULL : conf_unit_for(svc, dirs, ndirs, &tpl, quiet ? quiet : stderr);
        if (quiet)
            fclose(quiet);
        for (int r = 0; unit && r < (tpl ? svc->replicas : 1); r++)
            if (tpl)
                printf("voxmesh-%s@%d.service\n", svc->name, r);
            else
                printf("voxmesh-%s.service\n", svc->name);
        free(unit);
    }
    graph_destroy(&graph);
    return rc;
}
