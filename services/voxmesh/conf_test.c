/* conf_test — the config files `voxmesh conf` writes are read back by the
 * daemons' own config reader (common/service.c) as the very values of the
 * graph (quotes, blanks, '#', long values), and `voxmesh units` links what
 * the graph says and refuses what no unit can run. */
#include "conf.h"
#include "service.h"
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];

static void s_write(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_write(const char *name, const char *fmt, ...)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(1); }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static graph_t *s_graph(const char *name)
{
    char path[256], *err = NULL;
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    graph_options_t o = { .parse_only = true };
    graph_t *g = graph_load(path, &o, &err);
    if (!g) printf("graph_load: %s\n", err ? err : "?");
    free(err);
    return g;
}

static char *s_read_log(FILE *f)
{
    static char buf[4096];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    return buf;
}

static const service_option_t s_opts[] = {
    { "plain", NULL, "" }, { "blanks", NULL, "" }, { "hash", NULL, "" },
    { "quoted", NULL, "" }, { "long", NULL, "" }, { NULL, NULL, NULL }
};

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/conf_test.%d", (int)getpid());
    mkdir(s_dir, 0755);
    char longv[3001];
    memset(longv, 'x', 3000);
    longv[3000] = 0;
    s_write("g",
            "bus\n    pub = ipc://@conf-test.pub\n    sub = ipc://@conf-test.sub\n"
            "services\n"
            "    a\n        settings\n"
            "            plain = /usr/share/voxmesh/rules/agent.rules\n"
            "            blanks = \"  two words  \"\n"
            "            hash = \"a # not a comment\"\n"
            "            quoted = '\"in quotes\"'\n"
            "            long = %s\n"
            "    b\n        replicas = 3\n"
            "    far\n        remote = true\n", longv);
    graph_t *g = s_graph("g");
    CHECK(g != NULL, "the graph loads without running any program (parse_only)");
    char out[128];
    snprintf(out, sizeof out, "%s/conf", s_dir);
    FILE *log = tmpfile();
    CHECK(g && conf_write(g, out, log) == 2, "conf_write writes a and b, not the remote service");
    char path[256];
    snprintf(path, sizeof path, "%s/far.conf", out);
    CHECK(access(path, F_OK) != 0, "no config for the remote service");

    snprintf(path, sizeof path, "--config=%s/a.conf", out);
    char *argv[] = { "voxmesh-a", path, NULL };
    service_t *svc = service_new("a", "test", s_opts, 2, argv);
    CHECK(svc != NULL, "the daemon runtime reads a.conf");
    if (svc) {
        const char *v;
        CHECK((v = service_opt(svc, "plain")) && !strcmp(v, "/usr/share/voxmesh/rules/agent.rules"), "plain: %s", v);
        CHECK((v = service_opt(svc, "blanks")) && !strcmp(v, "  two words  "), "blanks kept: '%s'", v);
        CHECK((v = service_opt(svc, "hash")) && !strcmp(v, "a # not a comment"), "'#' kept: '%s'", v);
        CHECK((v = service_opt(svc, "quoted")) && !strcmp(v, "\"in quotes\""), "quotes kept: '%s'", v);
        CHECK((v = service_opt(svc, "long")) && !strcmp(v, longv), "a 3000-byte value survives (%zu bytes)", v ? strlen(v) : 0);
        CHECK((v = service_opt(svc, "bus-pub")) && !strcmp(v, "ipc://@conf-test.pub"), "bus-pub: %s", v);
        CHECK((v = service_opt(svc, "bus-sub")) && !strcmp(v, "ipc://@conf-test.sub"), "bus-sub: %s", v);
        CHECK(!strcmp(service_name(svc), "a"), "name: %s", service_name(svc));
        service_destroy(&svc);
    }
    snprintf(path, sizeof path, "--config=%s/b.conf", out);
    char *argv2[] = { "voxmesh-b", path, "--name=b.2", "--replica=2", NULL };
    svc = service_new("b", "test", NULL, 4, argv2);
    CHECK(svc && !strcmp(service_name(svc), "b.2"), "the unit's --name wins over the config's name");
    CHECK(svc && service_opt(svc, "replicas") && !strcmp(service_opt(svc, "replicas"), "3"), "replicas = 3 from the graph");
    CHECK(svc && !strcmp(service_opt(svc, "replica"), "2"), "replica 2 from the unit");
    service_destroy(&svc);

    /* A bare setting cannot be written. */
    s_write("bare", "bus\n    pub = ipc://@c.pub\n    sub = ipc://@c.sub\nservices\n    a\n        settings\n            fast\n");
    graph_t *bare = s_graph("bare");
    rewind(log);
    CHECK(bare && conf_write(bare, out, log) == -1 && strstr(s_read_log(log), "setting 'fast' has no value"),
          "a setting without a value is refused: %s", s_read_log(log));
    graph_destroy(&bare);

    /* Units: a is a plain unit, b a template; far is remote; the bus. */
    char units[128];
    snprintf(units, sizeof units, "%s/units", s_dir);
    mkdir(units, 0755);
    s_write("units/voxmesh-bus.service", "[Service]\nExecStart=/usr/bin/voxmesh bus /etc/voxmesh/graph\n");
    s_write("units/voxmesh-a.service", "[Service]\nExecStart=/usr/bin/voxmesh-a --config=/run/voxmesh/conf/a.conf\n");
    s_write("units/voxmesh-b@.service", "[Service]\nExecStart=-/usr/bin/voxmesh-b --config=x --name=b.%%i\n");
    const char *dirs[] = { units };
    char wants[128];
    snprintf(wants, sizeof wants, "%s/wants", s_dir);
    log = tmpfile();
    CHECK(g && conf_units(g, dirs, 1, wants, log) == 0, "conf_units links the graph: %s", s_read_log(log));
    const char *expect[] = { "voxmesh-bus.service", "voxmesh-a.service", "voxmesh-b@0.service",
                             "voxmesh-b@1.service", "voxmesh-b@2.service" };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        char link[256], target[256];
        snprintf(link, sizeof link, "%s/%s", wants, expect[i]);
        ssize_t n = readlink(link, target, sizeof target - 1);
        CHECK(n > 0, "%s is linked", expect[i]);
        if (n > 0) target[n] = 0;
        if (n > 0 && strchr(expect[i], '@'))
            CHECK(strstr(target, "voxmesh-b@.service") != NULL, "%s -> the template (%s)", expect[i], target);
    }
    snprintf(path, sizeof path, "%s/voxmesh-far.service", wants);
    CHECK(access(path, F_OK) != 0, "the remote service is not wanted");

    /* b with 3 replicas but only a plain unit; c without any unit; a runs another program. */
    s_write("g2", "bus\n    pub = ipc://@c.pub\n    sub = ipc://@c.sub\n    external = true\nservices\n"
                  "    a\n        program = voxmesh-other\n    b\n        replicas = 2\n    c\n");
    char b_tpl[256];
    snprintf(b_tpl, sizeof b_tpl, "%s/voxmesh-b@.service", units);
    unlink(b_tpl);
    s_write("units/voxmesh-b.service", "[Service]\nExecStart=/usr/bin/voxmesh-b\n");
    graph_t *g2 = s_graph("g2");
    log = tmpfile();
    CHECK(g2 && conf_units(g2, dirs, 1, NULL, log) == -1, "conf_units refuses g2");
    const char *text = s_read_log(log);
    CHECK(strstr(text, "runs program 'voxmesh-other' but its unit") != NULL, "a program the unit does not start: %s", text);
    CHECK(strstr(text, "service 'b' has 2 replicas but") != NULL, "replicas without a template unit");
    CHECK(strstr(text, "service 'c' has no systemd unit") != NULL, "a service without a unit");
    CHECK(strstr(text, "'bus'") == NULL, "an external bus needs no bus unit");
    graph_destroy(&g2);
    graph_destroy(&g);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0) printf("could not remove %s\n", s_dir);
    return TEST_DONE();
}
