/* graph_test — graph files, --describe, the check rules and the SVG, with
 * fake service programs (shell scripts) in a temporary directory. */
#include "check.h"
#include "cli.h"
#include "graph.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_failures;
static char s_dir[64];
static graph_options_t s_opts;

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        s_failures++; \
    } \
} while (0)

/* Checks that `text` contains `needle`, showing the text when it does not. */
#define CHECK_HAS(text, needle) s_check_has(text, needle, __LINE__)

static void s_check_has(const char *text, const char *needle, int line)
{
    if (!text || !strstr(text, needle)) {
        fprintf(stderr, "%s:%d: expected to find \"%s\" in:\n%s\n", __FILE__, line, needle,
                text ? text : "(null)");
        s_failures++;
    }
}

/* Checks that `text` is `want` exactly. */
#define CHECK_STR(text, want) do { \
    const char *t_ = (text); \
    if (!t_ || strcmp(t_, (want))) { \
        fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, (want), t_ ? t_ : "(null)"); \
        s_failures++; \
    } \
} while (0)

static void s_write(const char *name, int mode, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_write(const char *name, int mode, const char *fmt, ...)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    va_list ap;
    va_start(ap, fmt);
    if (vdprintf(fd, fmt, ap) < 0)
        exit(1);
    va_end(ap);
    close(fd);
}

/* A fake service: `voxmesh-NAME --describe` lists the given topics
 * (space-separated). */
static void s_fake(const char *name, const char *publishes, const char *subscribes)
{
    char script[4096];
    int n = snprintf(script, sizeof script,
                     "#!/bin/sh\n[ \"$1\" = --describe ] || exit 9\nprintf '%%s\\n' 'service = %s'\n"
                     "echo '    publishes'\nfor t in %s; do echo \"        topic = $t\"; done\n"
                     "echo '    subscribes'\nfor t in %s; do echo \"        topic = $t\"; done\n",
                     name, publishes, subscribes);
    if (n <= 0 || (size_t)n >= sizeof script)
        exit(1);
    char file[128];
    snprintf(file, sizeof file, "voxmesh-%s", name);
    s_write(file, 0755, "%s", script);
}

/* The fake programs of deploy/graphs/parrot (see the brief there). */
static void s_fake_parrot_stack(void)
{
    s_fake("edge", "audio.in.opus. session. video.in.vp8.", "audio.out.opus. turn.interrupt.");
    s_fake("codec", "audio.in.pcm. audio.out.opus. video.frame.",
           "audio.in.opus. audio.out.pcm. session. turn.interrupt. video.in.vp8.");
    s_fake("parrot", "audio.out.pcm.", "audio.in.pcm.");
    s_fake("vad", "vad.event. speech.segment. turn.interrupt.", "audio.in.pcm.");
}

static const char *s_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    return path;
}

/* Loads a graph file written from `text`; returns it, or NULL with the
 * error text in *err. */
static graph_t *s_load(const char *text, char **err)
{
    s_write("g", 0644, "%s", text);
    *err = NULL;
    return graph_load(s_path("g"), &s_opts, err);
}

/* Loads `text`, which must fail; returns the error text (caller frees). */
static char *s_load_error(const char *text)
{
    char *err = NULL;
    graph_t *g = s_load(text, &err);
    CHECK(g == NULL);
    graph_destroy(&g);
    return err;
}

/* Runs the check on a loaded graph; returns its output (caller frees). */
static char *s_check(graph_t *g, int *errors, int *warnings)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *errors = graph_check_counts(g, out, warnings, NULL);
    fclose(out);
    return text;
}

#define BUS "bus\n    pub = ipc://@t.pub\n    sub = ipc://@t.sub\n"

static const char s_parrot[] =
    "# the echo stack\n"
    BUS
    "services\n"
    "    edge\n"
    "        settings\n"
    "            listen = 127.0.0.1:8080\n"
    "            verbose\n"
    "    codec\n"
    "        settings\n"
    "            rate = 48000\n"
    "    vad\n"
    "    parrot\n"
    "        replicas = 3\n";

static void test_valid(void)
{
    s_fake_parrot_stack();
    char *err = NULL;
    graph_t *g = s_load(s_parrot, &err);
    CHECK(g);
    CHECK(!err);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        free(err);
        return;
    }
    CHECK(!strcmp(graph_bus_pub(g), "ipc://@t.pub"));
    CHECK(!strcmp(graph_bus_sub(g), "ipc://@t.sub"));
    CHECK(graph_size(g) == 4);
    const graph_service_t *edge = graph_service(g, 0);
    CHECK(!strcmp(edge->name, "edge"));
    CHECK(!strcmp(edge->program, "voxmesh-edge"));
    CHECK(!strcmp(edge->path, s_path("voxmesh-edge")));
    CHECK(!strcmp(edge->kind, "edge"));
    CHECK(edge->line == 6);
    CHECK(edge->replicas == 1);
    CHECK(edge->settings_size == 2);
    CHECK(!strcmp(edge->settings[0], "--listen=127.0.0.1:8080"));
    CHECK(!strcmp(edge->settings[1], "--verbose"));
    CHECK(edge->publishes_size == 3 && !strcmp(edge->publishes[2], "video.in.vp8."));
    CHECK(edge->subscribes_size == 2 && !strcmp(edge->subscribes[1], "turn.interrupt."));
    const graph_service_t *parrot = graph_find(g, "parrot");
    CHECK(parrot && parrot->replicas == 3 && parrot->line == 14);
    CHECK(graph_find(g, "nope") == NULL);
    CHECK(graph_service(g, 4) == NULL);

    int errors, warnings;
    char *out = s_check(g, &errors, &warnings);
    CHECK(errors == 0);
    CHECK(graph_check(g, NULL) == 0);
    /* video.frame., vad.event. and speech.segment. have no consumer yet. */
    CHECK(warnings == 3);
    CHECK_HAS(out, ":10: warning: service 'codec' publishes 'video.frame.' but no other service subscribes to it");
    free(out);

    /* The argv `up` starts a replica with. */
    char **argv = graph_argv(g, edge, 0);
    CHECK(argv);
    const char *expect_edge[] = { s_path("voxmesh-edge"), "--name=edge", "--replica=0", "--replicas=1",
                                  "--bus-pub=ipc://@t.pub", "--bus-sub=ipc://@t.sub",
                                  "--listen=127.0.0.1:8080", "--verbose", NULL };
    for (size_t i = 0; argv && i < sizeof expect_edge / sizeof *expect_edge; i++)
        CHECK((!argv[i] && !expect_edge[i]) || (argv[i] && expect_edge[i] && !strcmp(argv[i], expect_edge[i])));
    graph_argv_destroy(&argv);
    CHECK(argv == NULL);
    argv = graph_argv(g, parrot, 2);
    CHECK(argv && !strcmp(argv[1], "--name=parrot.2") && !strcmp(argv[2], "--replica=2")
          && !strcmp(argv[3], "--replicas=3") && argv[6] == NULL);
    graph_argv_destroy(&argv);
    CHECK(graph_argv(g, parrot, 3) == NULL);
    CHECK(graph_argv(g, parrot, -1) == NULL);
    graph_destroy(&g);
    CHECK(g == NULL);
}

static void test_missing_publisher(void)
{
    s_fake_parrot_stack();
    char *err = NULL;
    /* Without parrot, nobody publishes audio.out.pcm. that codec wants. */
    graph_t *g = s_load(BUS "services\n    edge\n    codec\n    vad\n", &err);
    CHECK(g);
    int errors, warnings;
    char *out = s_check(g, &errors, &warnings);
    CHECK(errors == 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:6: service 'codec' subscribes to 'audio.out.pcm.' but no service publishes it\n", s_path("g"));
    CHECK_HAS(out, expected);
    free(out);
    graph_destroy(&g);
}

static void test_did_you_mean(void)
{
    s_fake_parrot_stack();
    s_fake("vad", "turn.interrupt.", "audio.in.pmc.");
    char *err = NULL;
    graph_t *g = s_load(BUS "services\n    edge\n    codec\n    parrot\n    vad\n", &err);
    CHECK(g);
    int errors, warnings;
    char *out = s_check(g, &errors, &warnings);
    CHECK(errors == 1);
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s:8: service 'vad' subscribes to 'audio.in.pmc.' but no service publishes it "
             "(did you mean 'audio.in.pcm.' published by 'codec'?)\n", s_path("g"));
    CHECK_HAS(out, expected);
    free(out);
    graph_destroy(&g);

    /* A subscription is a prefix, so a prefix of a topic is suggested too. */
    s_fake("pub", "stt.final.en.", "");
    s_fake("sub", "", "stt.fnal. zzz.qqq.xxx.");
    g = s_load(BUS "services\n    pub\n    sub\n", &err);
    CHECK(g);
    out = s_check(g, &errors, &warnings);
    CHECK(errors == 2);
    CHECK_HAS(out, "subscribes to 'stt.fnal.' but no service publishes it (did you mean 'stt.final.' published by 'pub'?)");
    /* Nothing close: no suggestion. */
    CHECK_HAS(out, "subscribes to 'zzz.qqq.xxx.' but no service publishes it\n");
    free(out);
    graph_destroy(&g);
}

static void test_prefix_semantics(void)
{
    CHECK(graph_topic_matches("stt.", "stt.final."));
    CHECK(graph_topic_matches("stt.final.", "stt.final."));
    CHECK(!graph_topic_matches("stt.w1.", "stt.w10."));
    CHECK(!graph_topic_matches("stt.final.", "stt."));

    s_fake("pub", "stt.w10. stt.final.", "");
    s_fake("sub", "", "stt.w1.");
    s_fake("all", "", "stt.");
    char *err = NULL;
    graph_t *g = s_load(BUS "services\n    pub\n    sub\n    all\n", &err);
    CHECK(g);
    int errors, warnings;
    char *out = s_check(g, &errors, &warnings);
    CHECK(errors == 1);
    CHECK_HAS(out, "service 'sub' subscribes to 'stt.w1.' but no service publishes it (did you mean 'stt.w10.' published by 'pub'?)");
    CHECK(warnings == 0);       /* 'all' consumes both */
    free(out);
    graph_destroy(&g);
}

static void test_self_only(void)
{
    s_fake("loop", "a.b.", "a.");
    char *err = NULL;
    graph_t *g = s_load(BUS "services\n    loop\n", &err);
    CHECK(g);
    int errors, warnings;
    char *out = s_check(g, &errors, &warnings);
    CHECK(errors == 1 && warnings == 1);
    CHECK_HAS(out, "service 'loop' subscribes to 'a.' but no other service publishes it (only 'loop' itself does)");
    free(out);
    graph_destroy(&g);
}

static void test_replicas(void)
{
    s_fake_parrot_stack();
    char *err = s_load_error(BUS "services\n    edge\n        replicas = 0\n    codec\n        replicas = 65\n"
                             "    vad\n        replicas = abc\n    parrot\n        replicas = 64\n");
    char expected[512];
    snprintf(expected, sizeof expected, "%s:6: replicas must be a whole number from 1 to 64, not '0'", s_path("g"));
    CHECK_HAS(err, expected);
    snprintf(expected, sizeof expected, "%s:8: replicas must be a whole number from 1 to 64, not '65'", s_path("g"));
    CHECK_HAS(err, expected);
    snprintf(expected, sizeof expected, "%s:10: replicas must be a whole number from 1 to 64, not 'abc'", s_path("g"));
    CHECK_HAS(err, expected);
    CHECK(!strstr(err, ":12:"));          /* 64 is fine */
    free(err);
    err = s_load_error(BUS "services\n    edge\n        replicas\n");
    CHECK_HAS(err, ":6: replicas must be a whole number from 1 to 64, not ''");
    free(err);
}

/* A service on another host is described and checked, flagged remote; a
 * bus on another host is flagged external; bad values are errors. */
static void test_remote(void)
{
    s_fake_parrot_stack();
    char *err = NULL;
    graph_t *g = s_load("bus\n    pub = tcp://10.0.0.1:1\n    sub = tcp://10.0.0.1:2\n    external = true\n"
                        "services\n    edge\n        remote = true\n    codec\n        remote = false\n"
                        "    vad\n    parrot\n", &err);
    CHECK(g != NULL);
    CHECK(g && graph_bus_external(g));
    CHECK(g && graph_find(g, "edge")->remote && !graph_find(g, "codec")->remote && !graph_find(g, "vad")->remote);
    CHECK(g && graph_find(g, "edge")->publishes_size > 0);      /* described all the same */
    int errors = -1, warnings = 0;
    char *out = g ? s_check(g, &errors, &warnings) : NULL;
    CHECK(errors == 0);
    free(out);
    graph_destroy(&g);
    free(err);
    err = s_load_error(BUS "services\n    edge\n        remote = maybe\n");
    CHECK_HAS(err, ":6: remote must be true or false, not 'maybe'");
    free(err);
    err = s_load_error("bus\n    pub = ipc://@a\n    sub = ipc://@b\n    external = yes\nservices\n    edge\n");
    CHECK_HAS(err, ":4: external must be true or false, not 'yes'");
    free(err);
}

/* The direct bus: each replica's endpoint, each subscriber's sources (every
 * replica of every service publishing what it takes; a published family
 * that is a prefix of a subscription counts), the argv, and the refusals. */
static void test_direct(void)
{
    s_fake_parrot_stack();
    s_fake("fam", "stt.w.", "");
    s_fake("wsub", "", "stt.w.3.");
    char *err = NULL;
    graph_t *g = s_load("bus\n    pub = ipc://@t.pub\n    sub = ipc://@t.sub\n    direct = true\nservices\n"
                        "    edge\n    codec\n    vad\n        replicas = 2\n    parrot\n    fam\n    wsub\n", &err);
    CHECK(g != NULL);
    if (!g) { fprintf(stderr, "%s\n", err ? err : ""); free(err); return; }
    CHECK(graph_bus_direct(g));
    char *ep = graph_direct_endpoint(g, graph_find(g, "vad"), 1);
    CHECK_STR(ep, "ipc://@t.pub.vad.1");
    free(ep);
    char *src = graph_direct_sources(g, graph_find(g, "parrot"));
    CHECK_STR(src, "ipc://@t.pub.codec");      /* audio.in.pcm.: the codec only here */
    free(src);
    src = graph_direct_sources(g, graph_find(g, "codec"));
    CHECK_STR(src, "ipc://@t.pub.edge,ipc://@t.pub.vad.0,ipc://@t.pub.vad.1,ipc://@t.pub.parrot");
    free(src);
    src = graph_direct_sources(g, graph_find(g, "wsub"));
    CHECK_STR(src, "ipc://@t.pub.fam");
    free(src);
    src = graph_direct_sources(g, graph_find(g, "fam"));
    CHECK_STR(src, "");
    free(src);
    char **argv = graph_argv(g, graph_find(g, "vad"), 0);
    bool bind = false, direct = false;
    for (char **a = argv; a && *a; a++) {
        bind |= !strcmp(*a, "--bus-bind=ipc://@t.pub.vad.0");
        direct |= !strcmp(*a, "--bus-direct=ipc://@t.pub.codec");
    }
    CHECK(bind && direct);
    graph_argv_destroy(&argv);
    graph_destroy(&g);
    free(err);

    /* Off: no endpoints, no options. */
    g = s_load(s_parrot, &err);
    CHECK(g && !graph_bus_direct(g) && !graph_direct_sources(g, graph_find(g, "parrot")));
    argv = g ? graph_argv(g, graph_find(g, "parrot"), 0) : NULL;
    for (char **a = argv; a && *a; a++) CHECK(strncmp(*a, "--bus-bind", 10) && strncmp(*a, "--bus-direct", 12));
    graph_argv_destroy(&argv);
    graph_destroy(&g);
    free(err);

    /* tcp: direct-port, one port per replica in file order, on the bus's host. */
    g = s_load("bus\n    pub = tcp://127.0.0.1:7000\n    sub = tcp://127.0.0.1:7001\n    direct = true\n"
               "    direct-port = 7100\nservices\n    edge\n    codec\n    vad\n        replicas = 2\n    parrot\n", &err);
    CHECK(g != NULL);
    ep = g ? graph_direct_endpoint(g, graph_find(g, "parrot"), 0) : NULL;
    CHECK_STR(ep, "tcp://127.0.0.1:7104");
    free(ep);
    graph_destroy(&g);
    free(err);

    err = s_load_error("bus\n    pub = tcp://127.0.0.1:7000\n    sub = tcp://127.0.0.1:7001\n    direct = true\n"
                       "services\n    edge\n");
    CHECK_HAS(err, ":4: direct = true over tcp needs 'direct-port = N'");
    free(err);
    err = s_load_error(BUS "    direct = yes\nservices\n    edge\n");
    CHECK_HAS(err, ":4: direct must be true or false, not 'yes'");
    free(err);
    err = s_load_error(BUS "    direct-port = 7100\nservices\n    edge\n");
    CHECK_HAS(err, ":4: direct-port is only for 'direct = true'");
    free(err);
    err = s_load_error(BUS "    direct = true\nservices\n    edge\n        remote = true\n");
    CHECK_HAS(err, ":6: service 'edge' is remote: direct = true needs every service on this host");
    free(err);
}

/* The metrics ports: consecutive from the 'metrics' base in file order, one
 * per replica, a service's own metrics-port wins, overlaps and bad values
 * are refused, and the argv carries them. */
static void test_metrics(void)
{
    s_fake_parrot_stack();
    char *err = NULL;
    graph_t *g = s_load(BUS "metrics\n    port = 9400\n    addr = 0.0.0.0\nservices\n    edge\n    codec\n"
                        "        replicas = 2\n    vad\n        metrics-port = 9500\n    parrot\n        replicas = 3\n",
                        &err);
    CHECK(g != NULL);
    if (g) {
        CHECK(graph_metrics_port(g, graph_find(g, "edge"), 0) == 9400);
        CHECK(graph_metrics_port(g, graph_find(g, "codec"), 0) == 9401);
        CHECK(graph_metrics_port(g, graph_find(g, "codec"), 1) == 9402);
        CHECK(graph_metrics_port(g, graph_find(g, "codec"), 2) == -1);
        CHECK(graph_metrics_port(g, graph_find(g, "vad"), 0) == 9500);
        CHECK(graph_metrics_port(g, graph_find(g, "parrot"), 2) == 9405);
        CHECK(!strcmp(graph_metrics_addr(g), "0.0.0.0"));
        char **argv = graph_argv(g, graph_find(g, "parrot"), 1);
        bool port = false, addr = false;
        for (char **a = argv; a && *a; a++) {
            port |= !strcmp(*a, "--metrics-port=9404");
            addr |= !strcmp(*a, "--metrics-addr=0.0.0.0");
        }
        CHECK(port && addr);
        graph_argv_destroy(&argv);
    }
    graph_destroy(&g);
    free(err);
    err = NULL;
    /* No section: no endpoint, unless the service asks; port 0: any. */
    g = s_load(BUS "services\n    edge\n    codec\n        metrics-port = 0\n    vad\n    parrot\n", &err);
    CHECK(g && graph_metrics_port(g, graph_find(g, "edge"), 0) == -1);
    CHECK(g && graph_metrics_port(g, graph_find(g, "codec"), 0) == 0);
    CHECK(g && !strcmp(graph_metrics_addr(g), "127.0.0.1"));
    char **argv = g ? graph_argv(g, graph_find(g, "edge"), 0) : NULL;
    for (char **a = argv; a && *a; a++) CHECK(strncmp(*a, "--metrics", 9));
    graph_argv_destroy(&argv);
    graph_destroy(&g);
    free(err);
    err = s_load_error(BUS "metrics\n    port = 9400\nservices\n    edge\n        metrics-port = 9401\n    codec\n"
                       "        replicas = 2\n    vad\n        metrics-port = http\n    parrot\n"
                       "        settings\n            metrics-port = 1\n");
    CHECK_HAS(err, ":9: service 'codec': metrics ports 9400..9401 overlap those of 'edge' (9401..9401)");
    CHECK_HAS(err, ":12: metrics-port must be a TCP port from 0 to 65535 (0: any free port), not 'http'");
    CHECK_HAS(err, ":15: setting 'metrics-port' is not a setting here");
    free(err);
    err = s_load_error(BUS "metrics\n    port = 65535\n    addr = localhost\n    path = /m\nservices\n    edge\n"
                       "        replicas = 2\n");
    CHECK_HAS(err, ":6: metrics addr must be an IPv4 address");
    CHECK_HAS(err, ":7: unknown key 'path' in 'metrics' (expected port or addr)");
    CHECK_HAS(err, ":9: service 'edge': metrics ports 65535..65536 go past 65535");
    free(err);
    err = s_load_error(BUS "metrics\nservices\n    edge\n");
    CHECK_HAS(err, ":4: 'metrics' has no 'port'");
    free(err);
}

static void test_structure_errors(void)
{
    s_fake_parrot_stack();
    char *err = s_load_error(BUS "services\n    edge\n    codec\n    edge\n        program = voxmesh-edge\n");
    char expected[512];
    snprintf(expected, sizeof expected, "%s:7: duplicate service 'edge' (first at line 5)", s_path("g"));
    CHECK_HAS(err, expected);
    free(err);

    err = s_load_error(BUS "services\n    edge\n        colour = blue\n        settings\n            name = x\n"
                       "            a = 1\n            a = 2\n    bad.name\n    vad = 3\n"
                       "extra\n");
    CHECK_HAS(err, ":6: unknown key 'colour' in service 'edge' (expected program, replicas, remote, "
              "metrics-port or settings)");
    CHECK_HAS(err, ":8: setting 'name' is reserved: voxmesh passes --name itself");
    CHECK_HAS(err, ":10: duplicate setting 'a' (first at line 9)");
    CHECK_HAS(err, ":11: bad service name 'bad.name'");
    CHECK_HAS(err, ":12: service 'vad' takes no value");
    CHECK_HAS(err, ":13: unknown key 'extra' (expected bus, metrics or services)");
    /* Sorted by line. */
    CHECK(err && strstr(err, ":6:") < strstr(err, ":13:"));
    free(err);

    err = s_load_error("bus\n    pub = nope\n    sub = ipc://@x\nservices\n    edge\n");
    CHECK_HAS(err, ":2: bus pub must be a ZeroMQ endpoint such as ipc://@name or tcp://host:port, not 'nope'");
    free(err);
    err = s_load_error("services\n    edge\n");
    CHECK_HAS(err, ": no 'bus' section");
    free(err);
    err = s_load_error(BUS "services\n");
    CHECK_HAS(err, ":4: 'services' lists no service");
    free(err);
}

static void test_syntax_error(void)
{
    char *err = s_load_error(BUS "services\n    edge\n      replicas = 2\n");
    char expected[512];
    snprintf(expected, sizeof expected, "%s:6: bad indentation: 6 spaces is not a multiple of 4", s_path("g"));
    CHECK(err && !strcmp(err, expected));
    free(err);
    err = s_load_error(BUS "services\n    edge\n        settings\n            motd = \"hello\n");
    CHECK_HAS(err, ":7: unterminated quote \"");
    free(err);
}

static void test_unknown_programs(void)
{
    s_fake_parrot_stack();
    s_write("voxmesh-fails", 0755, "#!/bin/sh\necho 'bad option --frob' >&2\nexit 3\n");
    s_write("voxmesh-chatty", 0755, "#!/bin/sh\necho 'starting up'\n");
    s_write("voxmesh-quiet", 0755, "#!/bin/sh\nexit 0\n");
    s_write("voxmesh-badtopic", 0755, "#!/bin/sh\nprintf 'service = x\\n    publishes\\n        topic = audio\\n'\n");
    s_write("voxmesh-notexec", 0644, "#!/bin/sh\n");
    char *err = s_load_error(BUS "services\n    ghost\n    a\n        program = voxmesh-fails\n"
                             "    b\n        program = voxmesh-chatty\n    c\n        program = voxmesh-quiet\n"
                             "    d\n        program = voxmesh-badtopic\n    e\n        program = voxmesh-notexec\n"
                             "    f\n        program = ./voxmesh-edge\n");
    char expected[512];
    snprintf(expected, sizeof expected, "%s:5: unknown service 'ghost': program 'voxmesh-ghost' not found in %s",
             s_path("g"), s_dir);
    CHECK_HAS(err, expected);
    snprintf(expected, sizeof expected, ":6: unknown service 'a': '%s --describe' failed with exit status 3: bad option --frob",
             s_path("voxmesh-fails"));
    CHECK_HAS(err, expected);
    CHECK_HAS(err, ":8: unknown service 'b': ");
    CHECK_HAS(err, "voxmesh-chatty --describe' printed garbage: output:1: expected '=' after name 'starting'");
    CHECK_HAS(err, "voxmesh-quiet --describe' printed nothing");
    CHECK_HAS(err, "voxmesh-badtopic --describe' printed garbage: output:3: topic 'audio' does not end with '.'");
    CHECK_HAS(err, ":14: unknown service 'e': program 'voxmesh-notexec' not found");
    /* A program with a '/' is a path relative to the graph file. */
    CHECK(err && !strstr(err, ":16:"));
    free(err);
}

static void test_describe_timeout_and_settings(void)
{
    s_write("voxmesh-hangs", 0755, "#!/bin/sh\nsleep 30\n");
    /* Publishes whatever --topic says: settings reach --describe. */
    s_write("voxmesh-echo", 0755,
            "#!/bin/sh\nfor a; do case \"$a\" in --topic=*) t=\"${a#--topic=}\";; esac; done\n"
            "printf 'service = echo\\n    publishes\\n        topic = %%s\\n' \"$t\"\n");
    s_fake("sub", "", "custom.");
    graph_options_t opts = s_opts;
    opts.timeout_ms = 300;
    s_write("g", 0644, BUS "services\n    h\n        program = voxmesh-hangs\n");
    char *err = NULL;
    graph_t *g = graph_load(s_path("g"), &opts, &err);
    CHECK(!g);
    CHECK_HAS(err, ":5: unknown service 'h': ");
    CHECK_HAS(err, "voxmesh-hangs --describe' did not answer within 0.3 s");
    free(err);

    g = s_load(BUS "services\n    gen\n        program = voxmesh-echo\n        settings\n"
                   "            topic = custom.made.\n    sub\n", &err);
    CHECK(g);
    if (g) {
        CHECK(graph_find(g, "gen")->publishes_size == 1);
        CHECK(!strcmp(graph_find(g, "gen")->publishes[0], "custom.made."));
        CHECK(graph_check(g, NULL) == 0);
    }
    graph_destroy(&g);
}

static void test_env_bin_dir(void)
{
    s_fake_parrot_stack();
    graph_options_t none = { 0 };
    setenv("VOXMESH_BIN_DIR", s_dir, 1);
    s_write("g", 0644, "%s", s_parrot);
    char *err = NULL;
    graph_t *g = graph_load(s_path("g"), &none, &err);
    CHECK(g);
    graph_destroy(&g);
    g = graph_load(s_path("g"), NULL, &err);
    CHECK(g);
    graph_destroy(&g);
    /* Set but holding nothing: not found, and the message says where. */
    setenv("VOXMESH_BIN_DIR", "/nonexistent", 1);
    g = graph_load(s_path("g"), NULL, &err);
    CHECK(!g);
    CHECK_HAS(err, "unknown service 'edge': program 'voxmesh-edge' not found in /nonexistent");
    free(err);
    unsetenv("VOXMESH_BIN_DIR");
}

static void test_svg(void)
{
    s_fake_parrot_stack();
    s_fake("vad", "turn.interrupt.", "audio.in.pmc.");
    char *err = NULL;
    graph_t *g = s_load(s_parrot, &err);
    CHECK(g);
    if (!g)
        return;
    char *svg = NULL;
    size_t len = 0;
    CHECK(graph_svg(g, &svg, &len, &err) == 0);
    CHECK(svg && len == strlen(svg));
    CHECK_HAS(svg, "<svg");
    CHECK_HAS(svg, "</svg>");
    CHECK_HAS(svg, "<title>edge</title>");
    CHECK_HAS(svg, "<title>codec</title>");
    CHECK_HAS(svg, "<title>parrot</title>");
    CHECK_HAS(svg, "<title>vad</title>");
    CHECK_HAS(svg, "\xc3\x97" "3");                           /* parrot ×3 */
    CHECK_HAS(svg, "<title>edge&#45;&gt;codec</title>");      /* an edge ... */
    CHECK_HAS(svg, ">audio.in.opus.</text>");                 /* ... and its topic */
    CHECK_HAS(svg, "<title>codec&#45;&gt;parrot</title>");
    CHECK_HAS(svg, "<title>(no publisher)&#45;&gt;vad</title>");   /* the typo, in red */
    CHECK_HAS(svg, ">audio.in.pmc.</text>");
    CHECK_HAS(svg, "ipc://@t.pub");                          /* the caption */
    graph_destroy(&g);

    /* Well-formed XML, when xmllint is around to say so. */
    s_write("out.svg", 0644, "%s", svg ? svg : "");
    free(svg);
    if (system("command -v xmllint >/dev/null 2>&1") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", s_path("out.svg"));
        CHECK(system(cmd) == 0);
    }
}

/* Sends stdout and stderr to /dev/null (quiet) or back (!quiet): the CLI
 * tests would otherwise fill the test log with the usage texts. */
static void s_quiet(bool quiet)
{
    static int saved_out = -1, saved_err = -1;
    fflush(stdout);
    fflush(stderr);
    if (quiet) {
        saved_out = dup(1);
        saved_err = dup(2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        close(null);
    }
    else if (saved_out >= 0) {
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
        saved_out = saved_err = -1;
    }
}

static void test_cli(void)
{
    s_fake_parrot_stack();
    s_quiet(true);
    s_write("g", 0644, "%s", s_parrot);
    char graph[256], out[256];
    snprintf(graph, sizeof graph, "%s", s_path("g"));
    snprintf(out, sizeof out, "%s", s_path("cli.svg"));
    char *check_ok[] = { "check", "--bin-dir", s_dir, graph, NULL };
    CHECK(check_main(4, check_ok) == 0);
    char *usage1[] = { "check", NULL };
    CHECK(check_main(1, usage1) == 2);
    char *usage2[] = { "check", "--frob", graph, NULL };
    CHECK(check_main(3, usage2) == 2);
    char *usage3[] = { "check", "--timeout", "abc", graph, NULL };
    CHECK(check_main(4, usage3) == 2);
    char *missing[] = { "check", "/nonexistent/graph", NULL };
    CHECK(check_main(2, missing) == 1);
    s_fake("vad", "", "audio.in.pmc.");
    char bindir[128];
    snprintf(bindir, sizeof bindir, "--bin-dir=%s", s_dir);
    char *check_bad[] = { "check", bindir, graph, NULL };
    CHECK(check_main(3, check_bad) == 1);
    char *svg[] = { "svg", bindir, "-o", out, graph, NULL };
    CHECK(svg_main(5, svg) == 0);
    s_quiet(false);
    struct stat st;
    CHECK(stat(out, &st) == 0 && st.st_size > 500);
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/graph_test.XXXXXX");
    if (!mkdtemp(s_dir)) {
        perror("mkdtemp");
        return 1;
    }
    s_opts.bin_dir = s_dir;
    unsetenv("VOXMESH_BIN_DIR");
    test_valid();
    test_missing_publisher();
    test_did_you_mean();
    test_prefix_semantics();
    test_self_only();
    test_replicas();
    test_remote();
    test_metrics();
    test_direct();
    test_structure_errors();
    test_syntax_error();
    test_unknown_programs();
    test_describe_timeout_and_settings();
    test_env_bin_dir();
    test_svg();
    test_cli();
    nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    if (s_failures) {
        fprintf(stderr, "graph_test: %d failure(s)\n", s_failures);
        return 1;
    }
    printf("graph_test: ok\n");
    return 0;
}
