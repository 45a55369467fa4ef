/* targets — see targets.h. */
#include "targets.h"
#include "registry.h"
#include "log.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_path[1200];
static char s_graph[128];

const char *targets_path(void) { return s_path; }

/* Removes NAME-PID.json files whose PID is not running. */
static void s_prune(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json")) continue;
        const char *dash = strrchr(de->d_name, '-');
        long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
        if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

int targets_open(const char *graph_file)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/targets", registry_dir());
    /* RUNDIR itself was made by registry_add. */
    if (mkdir(registry_dir(), 0755) < 0 && errno != EEXIST)
        return log_error_errno(errno, "cannot write the Prometheus targets in %s: %m", registry_dir());
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return log_error_errno(errno, "cannot write the Prometheus targets in %s: %m", dir);
    s_prune(dir);
    /* The graph's name as the registry has it: the file's base name, without .zpl or .graph. */
    const char *b = strrchr(graph_file, '/');
    snprintf(s_graph, sizeof s_graph, "%s", b ? b + 1 : graph_file);
    char *dot = strrchr(s_graph, '.');
    if (dot && dot != s_graph && (!strcmp(dot, ".zpl") || !strcmp(dot, ".graph"))) *dot = 0;
    snprintf(s_path, sizeof s_path, "%s/%s-%d.json", dir, s_graph, (int)getpid());
    return targets_write(NULL, 0);
}

/* Label values are instance names and host names: letters, digits and a few
 * marks; anything else is written as '_' so the JSON stays valid. */
static void s_label(FILE *f, const char *key, const char *value)
{
    fprintf(f, "\"%s\": \"", key);
    for (const char *c = value ? value : ""; *c; c++)
        fputc(*c == '"' || *c == '\\' || (unsigned char)*c < 0x20 ? '_' : *c, f);
    fputc('"', f);
}

int targets_write(const targets_entry_t *entries, size_t n)
{
    if (!s_path[0]) return -EINVAL;
    char host[256] = "localhost", tmp[1300];
    gethostname(host, sizeof host - 1);
    snprintf(tmp, sizeof tmp, "%s.tmp", s_path);
    FILE *f = fopen(tmp, "w");
    if (!f) return log_error_errno(errno, "cannot write %s: %m", tmp);
    fputs("[", f);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const char *ep = entries[i].endpoint;
        if (!ep || !*ep) continue;
        const char *port = strrchr(ep, ':');
        if (!port) continue;
        bool any = !strncmp(ep, "0.0.0.0:", 8);
        fprintf(f, "%s\n  { \"targets\": [ \"%.*s%s\" ], \"labels\": { ", first ? "" : ",",
                any ? (int)strlen(host) : (int)(port - ep), any ? host : ep, port);
        s_label(f, "graph", s_graph);
        fputs(", ", f);
        s_label(f, "service", entries[i].service);
        fputs(", ", f);
        s_label(f, "name", entries[i].name);
        fputs(", ", f);
        s_label(f, "host", host);
        fputs(" } }", f);
        first = false;
    }
    fputs(first ? "]\n" : "\n]\n", f);
    if (fclose(f) != 0 || rename(tmp, s_path) < 0) {
        int r = errno;
        unlink(tmp);
        return log_error_errno(r, "cannot write %s: %m", s_path);
    }
    return 0;
}

void targets_close(void)
{
    if (s_path[0]) unlink(s_path);
    s_path[0] = 0;
}
