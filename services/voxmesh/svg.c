/* svg — `voxmesh svg GRAPH > graph.svg`: the graph drawn by graphviz. */

/* graphviz's types.h (pulled in by gvc.h) typedefs its own graph_t; rename
 * theirs while it is included so that ours, from graph.h, keeps the name. */
#define graph_t gv_graph_t
#include <gvc.h>
#undef graph_t

#include "check.h"
#include "cli.h"
#include "graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LeakSanitizer hook (unused without it): fontconfig, which graphviz's
 * text layout loads through pango, keeps caches it never frees. Not ours
 * to fix, and it would fail every ASan run that draws a graph. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

/* Escapes a string for a graphviz label: backslashes start escapes there. */
static char *s_escape(const char *s)
{
    size_t n = 0;
    for (const char *c = s; *c; c++)
        n += *c == '\\' ? 2 : 1;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const char *c = s; *c; c++) {
        if (*c == '\\')
            *o++ = '\\';
        *o++ = *c;
    }
    *o = 0;
    return out;
}

/* Sets an attribute from a format; cgraph copies the value. */
static void s_set(void *obj, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_set(void *obj, const char *name, const char *fmt, ...)
{
    char *value = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&value, fmt, ap) < 0)
        value = NULL;
    va_end(ap);
    if (value)
        agsafeset(obj, (char *)name, value, "");
    free(value);
}

/* A sink or source drawn for topics that have no other end. */
static Agnode_t *s_nobody(Agraph_t *g, const char *name, const char *color)
{
    Agnode_t *n = agnode(g, (char *)name, 1);
    s_set(n, "shape", "plaintext");
    s_set(n, "style", "solid");
    s_set(n, "fontcolor", "%s", color);
    return n;
}

static void s_edge(Agraph_t *g, Agnode_t *from, Agnode_t *to, const char *topic, const char *color, bool dashed)
{
    Agedge_t *e = agedge(g, from, to, (char *)topic, 1);
    if (!e)
        return;
    s_set(e, "label", "%s", topic);
    if (color) {
        s_set(e, "color", "%s", color);
        s_set(e, "fontcolor", "%s", color);
    }
    if (dashed)
        s_set(e, "style", "dashed");
}

/* The graphviz context, made once and kept for the life of the process:
 * graphviz 2.43's pango plugin caches a pointer to a font name that
 * gvFreeContext frees, so laying out in a second context reads freed
 * memory (found by ASan rendering twice in one test). Not thread-safe;
 * render from one thread. */
static GVC_t *s_context(void)
{
    static GVC_t *gvc;
    if (!gvc)
        gvc = gvContext();
    return gvc;
}

int graph_svg(const graph_t *self, char **data, size_t *size, char **err)
{
    *data = NULL;
    *size = 0;
    if (err)
        *err = NULL;
    Agraph_t *g = agopen("voxmesh", Agdirected, NULL);
    if (!g) {
        if (err)
            *err = strdup("graphviz: cannot create a graph");
        return -1;
    }
    /* Left to right, the way audio flows from the caller and back. */
    agattr(g, AGRAPH, "rankdir", "LR");
    agattr(g, AGRAPH, "fontname", "Helvetica");
    agattr(g, AGRAPH, "fontsize", "11");
    agattr(g, AGRAPH, "labelloc", "b");
    agattr(g, AGRAPH, "labeljust", "l");
    agattr(g, AGRAPH, "nodesep", "0.4");
    agattr(g, AGRAPH, "ranksep", "1.2");
    agattr(g, AGNODE, "shape", "box");
    agattr(g, AGNODE, "style", "rounded,filled");
    agattr(g, AGNODE, "fillcolor", "#eef4fb");
    agattr(g, AGNODE, "color", "#4a6fa5");
    agattr(g, AGNODE, "fontname", "Helvetica");
    agattr(g, AGNODE, "fontsize", "13");
    agattr(g, AGEDGE, "fontname", "Helvetica");
    agattr(g, AGEDGE, "fontsize", "9");
    agattr(g, AGEDGE, "color", "#555555");
    /* Every attribute set per object below is declared here with its
     * default; agsafeset would otherwise declare it with "" as the default
     * for every other object, and a node with an empty label is invisible. */
    agattr(g, AGNODE, "label", "\\N");
    agattr(g, AGNODE, "fontcolor", "black");
    agattr(g, AGNODE, "tooltip", "");
    agattr(g, AGEDGE, "label", "");
    agattr(g, AGEDGE, "fontcolor", "black");
    agattr(g, AGEDGE, "style", "solid");

    char *file = s_escape(graph_file(self));
    char *pub = s_escape(graph_bus_pub(self));
    char *sub = s_escape(graph_bus_sub(self));
    if (file && pub && sub)
        s_set(g, "label", "%s\\lbus: publishers connect to %s, subscribers to %s\\l", file, pub, sub);
    free(file);
    free(pub);
    free(sub);

    size_t n = graph_size(self);
    Agnode_t **nodes = calloc(n ? n : 1, sizeof *nodes);
    if (!nodes) {
        agclose(g);
        if (err)
            *err = strdup("out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const graph_service_t *svc = graph_service(self, i);
        nodes[i] = agnode(g, svc->name, 1);
        /* "\n" is graphviz's line break; \xc3\x97 is U+00D7, the times sign. */
        s_set(nodes[i], "label", "%s\\n\xc3\x97%d", svc->name, svc->replicas);
        char *path = s_escape(svc->path ? svc->path : svc->program);
        if (path)
            s_set(nodes[i], "tooltip", "%s (%s)", path, svc->kind ? svc->kind : "?");
        free(path);
    }
    Agnode_t *no_sub = NULL, *no_pub = NULL;
    for (size_t i = 0; i < n; i++) {
        const graph_service_t *svc = graph_service(self, i);
        for (size_t p = 0; p < svc->publishes_size; p++) {
            const char *topic = svc->publishes[p];
            bool consumed = false;
            for (size_t j = 0; j < n; j++) {
                const graph_service_t *o = graph_service(self, j);
                if (j == i)
                    continue;
                for (size_t s = 0; s < o->subscribes_size; s++)
                    if (graph_topic_matches(o->subscribes[s], topic)) {
                        s_edge(g, nodes[i], nodes[j], topic, NULL, false);
                        consumed = true;
                        break;
                    }
            }
            if (!consumed) {
                if (!no_sub)
                    no_sub = s_nobody(g, "(no subscriber)", "#999999");
                s_edge(g, nodes[i], no_sub, topic, "#999999", true);
            }
        }
        for (size_t s = 0; s < svc->subscribes_size; s++) {
            bool fed = false;
            for (size_t j = 0; j < n && !fed; j++) {
                const graph_service_t *o = graph_service(self, j);
                for (size_t p = 0; j != i && p < o->publishes_size && !fed; p++)
                    fed = graph_topic_matches(svc->subscribes[s], o->publishes[p]);
            }
            if (!fed) {
                if (!no_pub)
                    no_pub = s_nobody(g, "(no publisher)", "#cc0000");
                s_edge(g, no_pub, nodes[i], svc->subscribes[s], "#cc0000", true);
            }
        }
    }
    free(nodes);

    int rc = -1;
    GVC_t *gvc = s_context();
    if (!gvc) {
        if (err)
            *err = strdup("graphviz: no context");
    }
    else if (gvLayout(gvc, g, "dot")) {
        if (err)
            *err = strdup("graphviz: the dot layout failed (is the dot layout plugin installed?)");
    }
    else {
        char *buf = NULL;
        unsigned int len = 0;
        if (gvRenderData(gvc, g, "svg", &buf, &len) || !buf) {
            if (err)
                *err = strdup("graphviz: rendering SVG failed");
        }
        else if ((*data = malloc(len + 1))) {
            memcpy(*data, buf, len);
            (*data)[len] = 0;
            *size = len;
            rc = 0;
        }
        else if (err)
            *err = strdup("out of memory");
        if (buf)
            gvFreeRenderData(buf);
        gvFreeLayout(gvc, g);
    }
    agclose(g);
    return rc;
}

int svg_main(int argc, char **argv)
{
    const char *usage =
        "usage: voxmesh svg [--bin-dir DIR] [--timeout SECONDS] [-o FILE] GRAPH\n"
        "  Draws GRAPH as SVG (to FILE, or stdout): a box per service, an arrow\n"
        "  per topic from publisher to subscriber; red: no publisher.\n";
    const char *path, *output = NULL;
    int rc;
    graph_t *graph = check_open(argc, argv, usage, &path, &output, &rc);
    if (!graph)
        return rc;
    /* The picture is drawn even when the check fails: the red edges show
     * what is missing. The problems are listed as well. */
    graph_check(graph, stderr);
    char *svg = NULL, *err = NULL;
    size_t len = 0;
    if (graph_svg(graph, &svg, &len, &err)) {
        fprintf(stderr, "voxmesh svg: %s\n", err ? err : "failed");
        free(err);
        graph_destroy(&graph);
        return 1;
    }
    graph_destroy(&graph);
    FILE *out = output ? fopen(output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "voxmesh svg: %s: %m\n", output);
        free(svg);
        return 1;
    }
    bool ok = fwrite(svg, 1, len, out) == len;
    ok &= (output ? fclose(out) : fflush(out)) == 0;
    free(svg);
    if (!ok) {
        fprintf(stderr, "voxmesh svg: write failed: %m\n");
        return 1;
    }
    return 0;
}
