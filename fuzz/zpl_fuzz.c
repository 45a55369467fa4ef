/* zpl_fuzz — libFuzzer target for the ZPL parser (common/zpl.c), which
 * reads files users write and the --describe output of other programs.
 *
 * Beyond "no crash, no leak", it checks the parser's promises: an error is
 * "NAME:LINE: reason" with a line inside the input; a tree has sane names
 * and line numbers; and printing a tree parses back to the same tree. */
#include "zpl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n' || (data[i] == '\r' && !(i + 1 < size && data[i + 1] == '\n')))
            n++;
    return n;
}

static void s_check_tree(const zpl_node_t *node, int depth, size_t max_line, size_t *count)
{
    for (const zpl_node_t *n = zpl_child(node); n; n = zpl_next(n)) {
        (*count)++;
        if (depth >= ZPL_MAX_DEPTH || zpl_parent(n) != node || !*zpl_name(n)
            || zpl_line(n) < 1 || (size_t)zpl_line(n) > max_line
            || (zpl_next(n) && zpl_line(zpl_next(n)) <= zpl_line(n)))
            abort();
        s_check_tree(n, depth + 1, max_line, count);
    }
}

/* Same shape, names and values (lines may differ after printing). */
static void s_same(const zpl_node_t *a, const zpl_node_t *b)
{
    for (a = zpl_child(a), b = zpl_child(b); a || b; a = zpl_next(a), b = zpl_next(b)) {
        if (!a || !b || strcmp(zpl_name(a), zpl_name(b)))
            abort();
        const char *va = zpl_value(a), *vb = zpl_value(b);
        if ((!va) != (!vb) || (va && strcmp(va, vb)))
            abort();
        s_same(a, b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = NULL;
    zpl_node_t *root = zpl_parse((const char *)data, size, "fuzz", &err);
    size_t lines = s_lines(data, size);
    if (!root) {
        int line = 0;
        if (!err || sscanf(err, "fuzz:%d: ", &line) != 1 || line < 1 || (size_t)line > lines)
            abort();
        free(err);
        return 0;
    }
    if (err)
        abort();
    size_t count = 0;
    s_check_tree(root, 0, lines, &count);
    if (count > ZPL_MAX_NODES)
        abort();

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out || zpl_print(root, out))
        abort();
    fclose(out);
    zpl_node_t *again = zpl_parse(text, len, "printed", &err);
    if (!again)
        abort();
    s_same(root, again);
    zpl_destroy(&again);
    free(text);
    zpl_destroy(&root);
    return 0;
}
