/* check — `voxmesh check GRAPH`, and the rules behind it. See check.h. */
#include "check.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Edit distance with adjacent transpositions counted as one edit (optimal
 * string alignment), since "pmc" for "pcm" is the typo people make. Topics
 * are at most GRAPH_MAX_TOPIC_LEN bytes; longer input is cut. */
static int s_distance(const char *a, size_t la, const char *b, size_t lb)
{
    enum { MAX = GRAPH_MAX_TOPIC_LEN + 1 };
    if (la >= MAX)
        la = MAX - 1;
    if (lb >= MAX)
        lb = MAX - 1;
    int rows[3][MAX + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* True when a service other than `self` subscribes to something that
 * matches `topic`. */
static bool s_consumed(const graph_t *graph, const graph_service_t *self, const char *topic)
{
    /* Health events are the supervisor's own input (`voxmesh up` subscribes
     * to them) and the monitor's: never a dangling output. */
    if (graph_topic_matches("health.", topic))
        return true;
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *o = graph_service(graph, i);
        /* A worker that listens to its own output hears its peers (the
         * TTS workers' tts.progress.): that is a consumer too. */
        if (o == self) {
            for (size_t s = 0; s < o->listens_size; s++)
                if (graph_topic_matches(o->listens[s], topic))
                    return true;
            continue;
        }
        for (size_t s = 0; s < o->subscribes_size; s++)
            if (graph_topic_matches(o->subscribes[s], topic))
                return true;
        for (size_t s = 0; s < o->listens_size; s++)   /* an optional subscriber consumes it too */
            if (graph_topic_matches(o->listens[s], topic))
                return true;
    }
    return false;
}

/* Counts the topics of services other than `self` that `sub` matches. */
static int s_feeds(const graph_t *graph, const graph_service_t *self, const char *sub)
{
    int n = 0;
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *o = graph_service(graph, i);
        if (o == self)
            continue;
        for (size_t p = 0; p < o->publishes_size; p++)
            n += graph_topic_matches(sub, o->publishes[p]);
    }
    return n;
}

/* Reports an unfed subscription, with the nearest thing on offer. The
 * candidates are every published topic of the other services and each of
 * its '.'-ended prefixes, because a subscription is a prefix: "stt.fnal."
 * is best answered by "stt.final.", even when what is published is
 * "stt.final.en.". */
static void s_report_unfed(const graph_t *graph, const graph_service_t *svc, const char *sub, FILE *out)
{
    size_t sub_len = strlen(sub);
    int best = -1;
    const char *best_topic = NULL;
    size_t best_len = 0;
    const graph_service_t *best_svc = NULL;
    bool self_publishes = false;
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *o = graph_service(graph, i);
        for (size_t p = 0; p < o->publishes_size; p++) {
            const char *topic = o->publishes[p];
            if (o == svc) {
                self_publishes |= graph_topic_matches(sub, topic);
                continue;
            }
            for (size_t len = strlen(topic); len > 0; len--) {
                if (topic[len - 1] != '.')
                    continue;
                int d = s_distance(sub, sub_len, topic, len);
                if (best < 0 || d < best) {
                    best = d;
                    best_topic = topic;
                    best_len = len;
                    best_svc = o;
                }
            }
        }
    }
    /* Close enough to be a typo: a third of the length, at most 3 edits. */
    int limit = (int)sub_len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    if (!out)
        return;
    fprintf(out, "%s:%d: service '%s' subscribes to '%s' but no %sservice publishes it",
            graph_file(graph), svc->line, svc->name, sub, self_publishes ? "other " : "");
    if (self_publishes)
        fprintf(out, " (only '%s' itself does)", svc->name);
    if (best_svc && best <= limit)
        fprintf(out, " (did you mean '%.*s' published by '%s'?)", (int)best_len, best_topic, best_svc->name);
    fputc('\n', out);
}

int graph_check_counts(const graph_t *graph, FILE *out, int *warnings, int *connections)
{
    int errors = 0, warned = 0, conns = 0;
    for (size_t i = 0; i < graph_size(graph); i++) {
        const graph_service_t *svc = graph_service(graph, i);
        for (size_t s = 0; s < svc->subscribes_size; s++) {
            int n = s_feeds(graph, svc, svc->subscribes[s]);
            if (n == 0) {
                errors++;
                s_report_unfed(graph, svc, svc->subscribes[s], out);
            }
        }
        for (size_t p = 0; p < svc->publishes_size; p++) {
            const char *topic = svc->publishes[p];
            if (!s_consumed(graph, svc, topic)) {
                warned++;
                if (out)
                    fprintf(out, "%s:%d: warning: service '%s' publishes '%s' but no other service subscribes to it\n",
                            graph_file(graph), svc->line, svc->name, topic);
            }
            /* One connection per subscriber that receives this topic. */
            for (size_t j = 0; j < graph_size(graph); j++) {
                const graph_service_t *o = graph_service(graph, j);
                if (o == svc)
                    continue;
                for (size_t s = 0; s < o->subscribes_size; s++)
                    if (graph_topic_matches(o->subscribes[s], topic)) {
                        conns++;
                        break;
                    }
            }
        }
    }
    if (warnings)
        *warnings = warned;
    if (connections)
        *connections = conns;
    return errors;
}

int graph_check(const graph_t *graph, FILE *out)
{
    return graph_check_counts(graph, out, NULL, NULL);
}

int check_args(int argc, char **argv, const char *usage, graph_options_t *options,
               const char **graph_path, const char **output)
{
    *graph_path = NULL;
    if (output)
        *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        bool bin = !strcmp(a, "--bin-dir") || !strncmp(a, "--bin-dir=", 10);
        bool tmo = !strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10);
        bool out = output && (!strcmp(a, "-o") || !strcmp(a, "--output") || !strncmp(a, "--output=", 9));
        if (bin || tmo || out) {
            const char *eq = strchr(a, '=');
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else {
                fprintf(stderr, "voxmesh %s: %s needs a value\n%s", argv[0], a, usage);
                return 2;
            }
            if (bin)
                options->bin_dir = v;
            else if (out)
                *output = v;
            else {
                char *end = NULL;
                double s = strtod(v, &end);
                if (!end || *end || !(s > 0 && s <= 600)) {
                    fprintf(stderr, "voxmesh %s: bad --timeout '%s' (seconds, up to 600)\n%s", argv[0], v, usage);
                    return 2;
                }
                options->timeout_ms = (int)(s * 1000);
                if (options->timeout_ms < 1)
                    options->timeout_ms = 1;
            }
        }
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stderr);
            return 2;
        }
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "voxmesh %s: unknown option '%s'\n%s", argv[0], a, usage);
            return 2;
        }
        else if (*graph_path) {
            fprintf(stderr, "voxmesh %s: one graph file only\n%s", argv[0], usage);
            return 2;
        }
        else
            *graph_path = a;
    }
    if (!*graph_path) {
        fprintf(stderr, "voxmesh %s: which graph file?\n%s", argv[0], usage);
        return 2;
    }
    return 0;
}

graph_t *check_load(const char *path, const graph_options_t *options)
{
    char *err = NULL;
    graph_t *graph = graph_load(path, options, &err);
    if (!graph) {
        fprintf(stderr, "%s\n", err ? err : "out of memory");
        free(err);
    }
    return graph;
}

graph_t *check_open(int argc, char **argv, const char *usage, const char **graph_path, const char **output,
                    int *rc)
{
    graph_options_t options = { 0 };
    *rc = check_args(argc, argv, usage, &options, graph_path, output);
    if (*rc) return NULL;
    graph_t *graph = check_load(*graph_path, &options);
    if (!graph) *rc = 1;
    return graph;
}

int check_main(int argc, char **argv)
{
    const char *usage =
        "usage: voxmesh check [--bin-dir DIR] [--timeout SECONDS] GRAPH\n"
        "  Loads GRAPH, runs every service's --describe and checks that every\n"
        "  subscription is fed by another service. Exit 0 when it is, 1 if not.\n";
    const char *path;
    int rc;
    graph_t *graph = check_open(argc, argv, usage, &path, NULL, &rc);
    if (!graph)
        return rc;
    int warnings = 0, connections = 0;
    int errors = graph_check_counts(graph, stderr, &warnings, &connections);
    size_t replicas = 0;
    for (size_t i = 0; i < graph_size(graph); i++)
        replicas += (size_t)graph_service(graph, i)->replicas;
    fprintf(errors ? stderr : stdout, "%s: %s: %zu services (%zu processes), %d connections, %d error%s, %d warning%s\n",
            path, errors ? "FAILED" : "ok", graph_size(graph), replicas, connections,
            errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
    graph_destroy(&graph);
    return errors ? 1 : 0;
}
