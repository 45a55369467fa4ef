/* registry — see registry.h. */
#include "registry.h"
#include "zpl.h"
#include "log.h"

#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[512];
static char s_mine[1200];
static char s_found_graph[1024];

const char *registry_dir(void)
{
    if (s_dir[0]) return s_dir;
    const char *env = getenv("VOXMESH_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
    if (env && *env) snprintf(s_dir, sizeof s_dir, "%s", env);
    else if (xdg && *xdg) snprintf(s_dir, sizeof s_dir, "%s/voxmesh", xdg);
    else if (geteuid() == 0) snprintf(s_dir, sizeof s_dir, "/run/voxmesh");
    else snprintf(s_dir, sizeof s_dir, "/tmp/voxmesh-%u", (unsigned)geteuid());
    return s_dir;
}

static int s_mkdirs(const char *path)
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
    return 0;
}

static void s_base_name(const char *file, char *out, size_t size)
{
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    snprintf(out, size, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out && (!strcmp(dot, ".zpl") || !strcmp(dot, ".graph"))) *dot = 0;
}

int registry_add(const char *graph_file, const char *pub, const char *sub)
{
    char stacks[600], name[128], abs[PATH_MAX];
    snprintf(stacks, sizeof stacks, "%s/stacks", registry_dir());
    int r = s_mkdirs(stacks);
    if (r < 0) return log_error_errno(r, "cannot record the running stack in %s: %m", stacks);
    s_base_name(graph_file, name, sizeof name);
    if (!realpath(graph_file, abs)) snprintf(abs, sizeof abs, "%s", graph_file);
    char tmp[1300];
    snprintf(s_mine, sizeof s_mine, "%s/%s-%d.stack", stacks, name, (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", s_mine);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        r = -errno;
        s_mine[0] = 0;
        return log_error_errno(r, "cannot record the running stack in %s: %m", tmp);
    }
    fprintf(f, "name=%s\ngraph=%s\npub=%s\nsub=%s\npid=%d\n", name, abs, pub, sub, (int)getpid());
    if (fclose(f) != 0 || rename(tmp, s_mine) < 0) {
        r = -errno;
        unlink(tmp);
        s_mine[0] = 0;
        return log_error_errno(r, "cannot record the running stack in %s: %m", stacks);
    }
    return 0;
}

void registry_remove(void)
{
    if (s_mine[0]) unlink(s_mine);
    s_mine[0] = 0;
}

static int s_read(const char *path, registry_entry_t *e)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", path);
    char line[1400];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *v = eq + 1;
        if (!strcmp(line, "name")) snprintf(e->name, sizeof e->name, "%s", v);
        else if (!strcmp(line, "graph")) snprintf(e->graph, sizeof e->graph, "%s", v);
        else if (!strcmp(line, "pub")) snprintf(e->pub, sizeof e->pub, "%s", v);
        else if (!strcmp(line, "sub")) snprintf(e->sub, sizeof e->sub, "%s", v);
        else if (!strcmp(line, "pid")) e->pid = (pid_t)atoi(v);
    }
    fclose(f);
    return e->pid > 0 && e->sub[0] ? 0 : -1;
}

static int s_cmp_pid(const void *a, const void *b)
{
    const registry_entry_t *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

int registry_list(registry_entry_t *out, int max)
{
    char stacks[600];
    snprintf(stacks, sizeof stacks, "%s/stacks", registry_dir());
    DIR *d = opendir(stacks);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        size_t len = strlen(de->d_name);
        if (len < 7 || strcmp(de->d_name + len - 6, ".stack")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", stacks, de->d_name);
        if (s_read(path, &out[n]) < 0) continue;
        if (kill(out[n].pid, 0) < 0 && errno == ESRCH) {
            unlink(path);   /* stale: its supervisor died without cleaning up */
            continue;
        }
        n++;
    }
    closedir(d);
    qsort(out, (size_t)n, sizeof *out, s_cmp_pid);
    return n;
}

static void s_print_list(const registry_entry_t *e, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(stderr, "  %-12s pid %-7d bus %s  (%s)\n", e[i].name, (int)e[i].pid, e[i].sub, e[i].graph);
}

const char *registry_find_sub(const char *graph, const char *what)
{
    static registry_entry_t list[REGISTRY_MAX];
    static char sub[256];
    struct stat st;
    if (graph && stat(graph, &st) == 0 && S_ISREG(st.st_mode)) {
        char *err = NULL;
        zpl_node_t *root = zpl_load(graph, &err);
        if (!root) {
            fprintf(stderr, "%s: %s\n", what, err ? err : "cannot read the graph");
            free(err);
            return NULL;
        }
        const char *s = zpl_get(root, "bus/sub", NULL);
        if (s) {
            snprintf(sub, sizeof sub, "%s", s);
            snprintf(s_found_graph, sizeof s_found_graph, "%s", graph);
        } else fprintf(stderr, "%s: %s has no bus/sub\n", what, graph);
        zpl_destroy(&root);
        return s ? sub : NULL;
    }
    int n = registry_list(list, REGISTRY_MAX), match = -1, matches = 0;
    for (int i = 0; i < n; i++) {
        if (graph && strcmp(list[i].name, graph)) continue;
        match = i;
        matches++;
    }
    if (matches == 1) {
        snprintf(sub, sizeof sub, "%s", list[match].sub);
        snprintf(s_found_graph, sizeof s_found_graph, "%s", list[match].graph);
        fprintf(stderr, "%s: stack '%s' (pid %d), bus %s\n", what, list[match].name, (int)list[match].pid, sub);
        return sub;
    }
    if (n == 0) {
        fprintf(stderr, "%s: no running voxmesh stack found (none recorded in %s/stacks).\n"
                        "Start one with `voxmesh up GRAPH`, or name the bus with --bus ENDPOINT or --graph FILE.\n",
                what, registry_dir());
    } else if (matches == 0) {
        fprintf(stderr, "%s: no running stack is named '%s'; running:\n", what, graph);
        s_print_list(list, n);
    } else {
        fprintf(stderr, "%s: %d stacks are running; choose one with --graph NAME|FILE or --bus ENDPOINT:\n",
                what, matches);
        s_print_list(list, n);
    }
    return NULL;
}

const char *registry_found_graph(void)
{
    return s_found_graph[0] ? s_found_graph : NULL;
}
