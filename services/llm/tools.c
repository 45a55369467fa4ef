/* tools — see tools.h. */
#include "tools.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOLS_MAX_FILE (1u << 20)

typedef struct {
    char *name, *description, *parameters, *url;
} s_tool_t;

struct tools {
    s_tool_t tools[TOOLS_MAX];
    size_t n;
};

void tools_destroy(tools_t **self_p)
{
    if (!self_p || !*self_p) return;
    tools_t *t = *self_p;
    for (size_t i = 0; i < t->n; i++) {
        free(t->tools[i].name);
        free(t->tools[i].description);
        free(t->tools[i].parameters);
        free(t->tools[i].url);
    }
    free(t);
    *self_p = NULL;
}

static bool s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

tools_t *tools_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    char jerr[128];
    json_t *root = json_parse(text, len, jerr, sizeof jerr);
    if (!root) {
        snprintf(err, errlen, "%s: %s", name, jerr);
        return NULL;
    }
    tools_t *t = calloc(1, sizeof *t);
    const char *why = NULL;
    size_t i = 0;
    bool per_tool = false;
    if (!t) why = "out of memory";
    else if (json_type(root) != JSON_ARRAY) why = "not a JSON array of tools";
    else if (json_len(root) > TOOLS_MAX) why = "too many tools";
    for (i = 0; !why && i < json_len(root); i++) {
        const json_t *o = json_index(root, i);
        const char *n = json_str(json_get(o, "name")), *url = json_str(json_get(o, "url"));
        const json_t *params = json_get(o, "parameters");
        const json_t *desc = json_get(o, "description");
        if (json_type(o) != JSON_OBJECT) why = "not an object";
        else if (!n || !s_name_ok(n)) why = "\"name\" must be 1 to 64 letters, digits, _ or -";
        else if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) why = "\"url\" must be an http(s) URL";
        else if (params && json_type(params) != JSON_OBJECT) why = "\"parameters\" must be a JSON schema object";
        else if (desc && !json_str(desc)) why = "\"description\" must be a string";
        else if (tools_url(t, n)) why = "a second tool of that name";
        if ((per_tool = why != NULL)) break;
        s_tool_t *tool = &t->tools[t->n];
        tool->name = strdup(n);
        tool->url = strdup(url);
        tool->description = strdup(desc ? json_str(desc) : "");
        tool->parameters = params ? json_dump(params) : strdup("{\"type\":\"object\",\"properties\":{}}");
        t->n++;
        if (!tool->name || !tool->url || !tool->description || !tool->parameters) why = "out of memory";
    }
    if (why) {
        if (per_tool) snprintf(err, errlen, "%s: tool %zu: %s", name, i + 1, why);
        else snprintf(err, errlen, "%s: %s", name, why);
        tools_destroy(&t);
    }
    json_destroy(&root);
    return t;
}

tools_t *tools_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(TOOLS_MAX_FILE + 1);
    size_t n = text ? fread(text, 1, TOOLS_MAX_FILE + 1, f) : 0;
    fclose(f);
    tools_t *t = NULL;
    if (!text) snprintf(err, errlen, "%s: out of memory", path);
    else if (n > TOOLS_MAX_FILE) snprintf(err, errlen, "%s: larger than %u bytes", path, TOOLS_MAX_FILE);
    else t = tools_parse(text, n, path, err, errlen);
    free(text);
    return t;
}

size_t tools_count(const tools_t *t) { return t ? t->n : 0; }

void tools_write(const tools_t *t, json_buf_t *out)
{
    json_buf_raw(out, "[");
    for (size_t i = 0; t && i < t->n; i++) {
        const s_tool_t *tool = &t->tools[i];
        json_buf_raw(out, i ? ",{\"type\":\"function\",\"function\":{\"name\":" : "{\"type\":\"function\",\"function\":{\"name\":");
        json_buf_str(out, tool->name);
        json_buf_raw(out, ",\"description\":");
        json_buf_str(out, tool->description);
        json_buf_raw(out, ",\"parameters\":");
        json_buf_raw(out, tool->parameters);
        json_buf_raw(out, "}}");
    }
    json_buf_raw(out, "]");
}

const char *tools_url(const tools_t *t, const char *name)
{
    for (size_t i = 0; t && name && i < t->n; i++)
        if (!strcmp(t->tools[i].name, name)) return t->tools[i].url;
    return NULL;
}
