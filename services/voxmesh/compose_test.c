/* compose_test — the compose file of graphs made here, with fake service
 * programs (shell scripts) in a temporary directory: bus over tcp, ports,
 * replicas, remote services, an external bus, quoting, and the refusals. */
#include "compose.h"
#include "graph.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_failures;
static char s_dir[64];

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        s_failures++; \
    } \
} while (0)

#define CHECK_HAS(text, needle) s_check_has(text, needle, true, __LINE__)
#define CHECK_LACKS(text, needle) s_check_has(text, needle, false, __LINE__)

static void s_check_has(const char *text, const char *needle, bool want, int line)
{
    if (!text || (strstr(text, needle) != NULL) != want) {
        fprintf(stderr, "%s:%d: expected %s \"%s\" in:\n%s\n", __FILE__, line,
                want ? "to find" : "not to find", needle, text ? text : "(null)");
        s_failures++;
    }
}

static void s_write(const char *name, int mode, const char *text)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror(name);
        exit(1);
    }
    close(fd);
}

/* A fake service that publishes `pub` and subscribes to `sub`, whatever its options. */
static void s_fake(const char *name, const char *pub, const char *sub)
{
    char path[128], script[1024];
    snprintf(path, sizeof path, "bin/voxmesh-%s", name);
    snprintf(script, sizeof script,
             "#!/bin/sh\necho 'service = %s'\necho '    publishes'\necho '        topic = %s'\n"
             "echo '    subscribes'\necho '        topic = %s'\n", name, pub, sub);
    s_write(path, 0755, script);
}

/* Writes the graph `text` to graphs/NAME, loads it and returns its compose
 * file (malloc'd), or NULL with *err set. */
static char *s_compose(const char *path, const char *text, char **err)
{
    s_write(path, 0644, text);
    graph_options_t opts = { .bin_dir = "bin" };
    *err = NULL;
    graph_t *g = graph_load(path, &opts, err);
    if (!g)
        return NULL;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    int rc = compose_write(g, f, err);
    fclose(f);
    graph_destroy(&g);
    if (rc) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_listen_parse(void)
{
    char host[64];
    int port = 0;
    CHECK(compose_listen_parse("127.0.0.1:8080", host, sizeof host, &port) == 0 && port == 8080 && !strcmp(host, "127.0.0.1"));
    CHECK(compose_listen_parse("localhost:80", host, sizeof host, &port) == 0 && port == 80 && !strcmp(host, "127.0.0.1"));
    CHECK(compose_listen_parse("[::1]:443", host, sizeof host, &port) == 0 && port == 443 && !strcmp(host, "127.0.0.1"));
    CHECK(compose_listen_parse("0.0.0.0:9", host, sizeof host, &port) == 0 && port == 9 && !*host);
    CHECK(compose_listen_parse("*:9", host, sizeof host, &port) == 0 && !*host);
    CHECK(compose_listen_parse("[::]:9", host, sizeof host, &port) == 0 && !*host);
    CHECK(compose_listen_parse("10.1.2.3:7000", host, sizeof host, &port) == 0 && !strcmp(host, "10.1.2.3"));
    CHECK(compose_listen_parse("8080", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("127.0.0.1:0", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("127.0.0.1:70000", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("127.0.0.1:80x", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("256.0.0.1:80", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("http://127.0.0.1:80", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("example.com:80", host, sizeof host, &port) < 0);
    CHECK(compose_listen_parse("[::1:80", host, sizeof host, &port) < 0);
}

static void test_quote(void)
{
    char *q = compose_quote("a \"b\" \\ $HOME\x01");
    CHECK(q && !strcmp(q, "\"a \\\"b\\\" \\\\ $$HOME\\x01\""));
    free(q);
}

static const char s_stack[] =
    "bus\n"
    "    pub = ipc://@t.pub\n"
    "    sub = ipc://@t.sub\n"
    "services\n"
    "    front\n"
    "        settings\n"
    "            listen = 127.0.0.1:8080\n"
    "            ice-ports = 20000-20099\n"
    "    work\n"
    "        replicas = 3\n"
    "        metrics-port = 9200\n"
    "        settings\n"
    "            greeting = 'it costs $5 \"now\"'\n"
    "            api-key-env = WORK_KEY\n"
    "            flag\n"
    "    far\n"
    "        remote = true\n";

static void test_stack(void)
{
    s_fake("front", "a.", "b.");
    s_fake("work", "b.", "a.");
    s_fake("far", "c.", "a.");
    char *err = NULL;
    char *y = s_compose("graphs/stack", s_stack, &err);
    CHECK(y != NULL);
    if (!y) {
        fprintf(stderr, "%s\n", err);
        free(err);
        return;
    }
    CHECK_HAS(y, "name: voxmesh-stack\n");
    CHECK_HAS(y, "command: [\"voxmesh\", \"check\", \"graphs/stack\"]");
    /* ipc in the graph: the bus container binds the default tcp ports; a
     * remote service needs them published on the host. */
    CHECK_HAS(y, "command: [\"voxmesh\", \"bus\", \"--pub=tcp://0.0.0.0:5560\", \"--sub=tcp://0.0.0.0:5561\", \"graphs/stack\"]");
    CHECK_HAS(y, "ports: [\"5560:5560\", \"5561:5561\"]");
    CHECK_HAS(y, "\"--bus-pub=tcp://bus:5560\", \"--bus-sub=tcp://bus:5561\"");
    /* The listen address binds every address inside and is published where the graph said. */
    CHECK_HAS(y, "\"--listen=0.0.0.0:8080\"");
    CHECK_HAS(y, "ports: [\"127.0.0.1:8080:8080\", \"20000-20099:20000-20099/udp\"]");
    CHECK_HAS(y, "\"--ice-ports=20000-20099\"");
    CHECK_LACKS(y, "--metrics-addr=127.0.0.1");
    /* Metrics: the graph's port is kept, else the default; exposed either way. */
    CHECK_HAS(y, "\"--metrics-addr=0.0.0.0\", \"--metrics-port=9100\"]");
    CHECK_HAS(y, "\"--metrics-addr=0.0.0.0\", \"--metrics-port=9200\"]");
    CHECK_HAS(y, "expose: [\"9200\"]");
    CHECK_HAS(y, "expose: [\"9100\"]");
    /* Replicas, names from the hostname, quoting, environment. */
    CHECK_HAS(y, "    deploy:\n      replicas: 3\n");
    CHECK_HAS(y, "\"exec \\\"$$0\\\" \\\"$$@\\\" --name=work.$$HOSTNAME\"");
    CHECK_HAS(y, "\"--greeting=it costs $$5 \\\"now\\\"\"");
    CHECK_HAS(y, "\"--flag\"");
    CHECK_HAS(y, "environment: [\"WORK_KEY\"]");
    /* The remote service is named, not started. */
    CHECK_HAS(y, "# Not started here (remote = true in the graph): far\n");
    CHECK_LACKS(y, "\n  far:\n");
    CHECK_HAS(y, "\n  front:\n");
    CHECK_HAS(y, "\n  work:\n");
    free(y);
}

static void test_tcp_and_external(void)
{
    s_fake("one", "a.", "a.");
    s_fake("two", "a.", "a.");
    char *err = NULL;
    const char *services = "services\n    one\n    two\n";
    char text[512];
    snprintf(text, sizeof text, "bus\n    pub = tcp://10.0.0.1:7711\n    sub = tcp://10.0.0.1:7712\n%s", services);
    char *y = s_compose("graphs/tcp", text, &err);
    CHECK(y != NULL);
    CHECK_HAS(y, "\"--pub=tcp://0.0.0.0:7711\", \"--sub=tcp://0.0.0.0:7712\"");
    CHECK_HAS(y, "\"--bus-pub=tcp://bus:7711\", \"--bus-sub=tcp://bus:7712\"");
    CHECK_LACKS(y, "ports:");
    free(y);

    snprintf(text, sizeof text, "bus\n    pub = tcp://10.0.0.1:7711\n    sub = tcp://10.0.0.1:7712\n    external = true\n%s", services);
    y = s_compose("graphs/ext", text, &err);
    CHECK(y != NULL);
    CHECK_LACKS(y, "\n  bus:\n");
    CHECK_LACKS(y, "condition: service_started");
    CHECK_HAS(y, "\"--bus-pub=tcp://10.0.0.1:7711\", \"--bus-sub=tcp://10.0.0.1:7712\"");
    free(y);

    snprintf(text, sizeof text, "bus\n    pub = ipc://@x.pub\n    sub = ipc://@x.sub\n    external = true\n%s", services);
    y = s_compose("graphs/extipc", text, &err);
    CHECK(y == NULL);
    CHECK_HAS(err, "graphs/extipc: the bus is external but not on tcp");
    free(err);

    snprintf(text, sizeof text, "bus\n    pub = tcp://a:7000\n    sub = tcp://b:7000\n%s", services);
    y = s_compose("graphs/sameport", text, &err);
    CHECK(y == NULL);
    CHECK_HAS(err, "same port 7000");
    free(err);
}

static void test_refusals(void)
{
    s_fake("bus", "a.", "b.");
    s_fake("other", "b.", "a.");
    char *err = NULL;
    char *y = s_compose("graphs/named", "bus\n    pub = ipc://@n.pub\n    sub = ipc://@n.sub\nservices\n    other\n    bus\n", &err);
    CHECK(y == NULL);
    CHECK_HAS(err, "graphs/named:6: service 'bus': 'bus' and 'check' name containers");
    free(err);

    char abs[128];
    snprintf(abs, sizeof abs, "%s/graphs/abs", s_dir);
    y = s_compose(abs, "bus\n    pub = ipc://@n.pub\n    sub = ipc://@n.sub\nservices\n    other\n", &err);
    CHECK(y == NULL);
    CHECK_HAS(err, "relative to the top of the source tree");
    free(err);
}

static void test_program_path(void)
{
    mkdir("graphs/tools", 0755);
    s_write("graphs/tools/mine", 0755, "#!/bin/sh\necho 'service = mine'\necho '    publishes'\necho '        topic = a.'\n");
    char *err = NULL;
    char *y = s_compose("graphs/prog", "bus\n    pub = ipc://@p.pub\n    sub = ipc://@p.sub\nservices\n    mine\n        program = tools/mine\n", &err);
    CHECK(y != NULL);
    CHECK_HAS(y, "command: [\"graphs/tools/mine\", ");
    free(y);
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/compose_test.XXXXXX");
    if (!mkdtemp(s_dir) || chdir(s_dir) || mkdir("bin", 0755) || mkdir("graphs", 0755)) {
        perror(s_dir);
        return 1;
    }
    test_listen_parse();
    test_quote();
    test_stack();
    test_tcp_and_external();
    test_refusals();
    test_program_path();
    if (chdir("/") == 0)
        nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    if (s_failures)
        fprintf(stderr, "compose_test: %d failure(s)\n", s_failures);
    else
        printf("compose_test: ok\n");
    return s_failures ? 1 : 0;
}
