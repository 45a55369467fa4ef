/* zpl — see zpl.h. */
#include "zpl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct zpl_node {
    char *name;
    char *value;                /* NULL: no value */
    int line;
    char *source;               /* owned by the root, shared by the others */
    struct zpl_node *parent;
    struct zpl_node *child;
    struct zpl_node *last;      /* last child, so appending is O(1) */
    struct zpl_node *next;
};

static bool s_is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || strchr("$-_@.&+/", c) != NULL;
}

static bool s_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Sets *err to "SOURCE:LINE: reason"; the parser's only error path. */
static void s_fail(char **err, const char *source, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_fail(char **err, const char *source, int line, const char *fmt, ...)
{
    if (!err)
        return;
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (asprintf(err, "%s:%d: %s", source, line, reason) < 0)
        *err = NULL;
}

/* Describes a byte for an error message: printable ones as themselves. */
static const char *s_show_char(unsigned char c, char buf[8])
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", c);
    return buf;
}

static zpl_node_t *s_node_new(zpl_node_t *parent, const char *name, size_t name_len,
                              const char *value, size_t value_len, int line)
{
    zpl_node_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->name = strndup(name, name_len);
    self->value = value ? strndup(value, value_len) : NULL;
    if (!self->name || (value && !self->value)) {
        free(self->name);
        free(self->value);
        free(self);
        return NULL;
    }
    self->line = line;
    self->parent = parent;
    if (parent) {
        self->source = parent->source;
        if (parent->last)
            parent->last->next = self;
        else
            parent->child = self;
        parent->last = self;
    }
    return self;
}

/* Frees a node and its subtree, but not the shared source name. Depth is
 * bounded by ZPL_MAX_DEPTH, so recursing on children is safe; siblings, which
 * are unbounded, are walked in a loop. */
static void s_free_tree(zpl_node_t *self)
{
    zpl_node_t *child = self->child;
    while (child) {
        zpl_node_t *next = child->next;
        s_free_tree(child);
        child = next;
    }
    free(self->name);
    free(self->value);
    free(self);
}

void zpl_destroy(zpl_node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zpl_node_t *self = *self_p;
    char *source = self->parent ? NULL : self->source;
    s_free_tree(self);
    free(source);
    *self_p = NULL;
}

/* Parses one line (no line ending) into the tree. `stack[d]` is the last node
 * at depth d (stack[0] the root) and `*top` the deepest level a property may
 * take now. Returns 0, or -1 with *err set. */
static int s_parse_line(const char *p, size_t len, int lineno, zpl_node_t **stack, int *top,
                        size_t *nodes, char **err)
{
    const char *src = stack[0]->source;
    char cb[8];
    if (len > ZPL_MAX_LINE) {
        s_fail(err, src, lineno, "line longer than %d bytes", ZPL_MAX_LINE);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            s_fail(err, src, lineno, "control character %s", s_show_char(c, cb));
            return -1;
        }
    }
    const char *end = p + len;
    const char *q = p;
    while (q < end && *q == ' ')
        q++;
    size_t indent = (size_t)(q - p);
    const char *r = q;
    while (r < end && s_is_blank(*r))
        r++;
    if (r == end || *r == '#')
        return 0;                   /* blank or comment line: indentation is free */
    if (*q == '\t') {
        s_fail(err, src, lineno, "tab in indentation (indent with 4 spaces per level)");
        return -1;
    }
    if (indent % 4) {
        s_fail(err, src, lineno, "bad indentation: %zu spaces is not a multiple of 4", indent);
        return -1;
    }
    size_t level = indent / 4;
    if (level > (size_t)*top) {
        s_fail(err, src, lineno, "bad indentation: %zu spaces, expected at most %d",
               indent, *top * 4);
        return -1;
    }
    if (level >= ZPL_MAX_DEPTH) {
        s_fail(err, src, lineno, "nested deeper than %d levels", ZPL_MAX_DEPTH);
        return -1;
    }

    const char *name = q;
    while (q < end && s_is_name_char((unsigned char)*q))
        q++;
    size_t name_len = (size_t)(q - name);
    if (name_len == 0) {
        if (*q == '=')
            s_fail(err, src, lineno, "missing name before '='");
        else
            s_fail(err, src, lineno, "bad character %s in name", s_show_char((unsigned char)*q, cb));
        return -1;
    }
    if (q < end && !s_is_blank(*q) && *q != '=' && *q != '#') {
        s_fail(err, src, lineno, "bad character %s in name '%.*s'",
               s_show_char((unsigned char)*q, cb), (int)(name_len > 64 ? 64 : name_len), name);
        return -1;
    }
    while (q < end && s_is_blank(*q))
        q++;

    const char *value = NULL;
    size_t value_len = 0;
    if (q < end && *q == '=') {
        q++;
        while (q < end && s_is_blank(*q))
            q++;
        if (q == end || *q == '#') {
            s_fail(err, src, lineno, "missing value after '=' (write \"\" for an empty one)");
            return -1;
        }
        if (*q == '"' || *q == '\'') {
            const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
            if (!close) {
                s_fail(err, src, lineno, "unterminated quote %c", *q);
                return -1;
            }
            value = q + 1;
            value_len = (size_t)(close - value);
            q = close + 1;
            while (q < end && s_is_blank(*q))
                q++;
            if (q < end && *q != '#') {
                s_fail(err, src, lineno, "unexpected %s after the quoted value",
                       s_show_char((unsigned char)*q, cb));
                return -1;
            }
        }
        else {
            value = q;
            const char *stop = memchr(q, '#', (size_t)(end - q));
            if (!stop)
                stop = end;
            while (stop > value && s_is_blank(stop[-1]))
                stop--;
            value_len = (size_t)(stop - value);
        }
    }
    else if (q < end && *q != '#') {
        s_fail(err, src, lineno, "expected '=' after name '%.*s'",
               (int)(name_len > 64 ? 64 : name_len), name);
        return -1;
    }

    if (*nodes >= ZPL_MAX_NODES) {
        s_fail(err, src, lineno, "more than %d properties", ZPL_MAX_NODES);
        return -1;
    }
    zpl_node_t *node = s_node_new(stack[level], name, name_len, value, value_len, lineno);
    if (!node) {
        s_fail(err, src, lineno, "out of memory");
        return -1;
    }
    (*nodes)++;
    stack[level + 1] = node;
    *top = (int)level + 1;
    return 0;
}

zpl_node_t *zpl_parse(const char *text, size_t len, const char *name, char **err)
{
    if (err)
        *err = NULL;
    zpl_node_t *root = s_node_new(NULL, "", 0, NULL, 0, 0);
    if (!root || !(root->source = strdup(name ? name : "<input>"))) {
        if (err)
            *err = strdup("out of memory");
        zpl_destroy(&root);
        return NULL;
    }
    if (!text)
        len = 0;
    zpl_node_t *stack[ZPL_MAX_DEPTH + 1] = { root };
    int top = 0;
    size_t nodes = 0;
    int lineno = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n' && text[i] != '\r')
            i++;
        size_t line_len = i - start;
        if (i < len)
            i += (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') ? 2 : 1;
        lineno++;
        if (s_parse_line(text + start, line_len, lineno, stack, &top, &nodes, err)) {
            zpl_destroy(&root);
            return NULL;
        }
    }
    return root;
}

zpl_node_t *zpl_load(const char *path, char **err)
{
    if (err)
        *err = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err && asprintf(err, "%s: %s", path, strerror(errno)) < 0)
            *err = NULL;
        return NULL;
    }
    /* Read to EOF rather than trusting st_size, so pipes work too. */
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : ENOMEM;
    while (!rc) {
        if (len == cap) {
            if (cap > ZPL_MAX_FILE) {
                rc = EFBIG;
                break;
            }
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                rc = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = errno;
        else if (n == 0)
            break;
        else
            len += (size_t)n;
    }
    close(fd);
    if (!rc && len > ZPL_MAX_FILE)
        rc = EFBIG;
    if (rc) {
        if (err) {
            int r = rc == EFBIG ? asprintf(err, "%s: larger than %d bytes", path, ZPL_MAX_FILE)
                                : asprintf(err, "%s: %s", path, strerror(rc));
            if (r < 0)
                *err = NULL;
        }
        free(buf);
        return NULL;
    }
    zpl_node_t *root = zpl_parse(buf, len, path, err);
    free(buf);
    return root;
}

const char *zpl_name(const zpl_node_t *self)
{
    return self ? self->name : NULL;
}

const char *zpl_value(const zpl_node_t *self)
{
    return self ? self->value : NULL;
}

int zpl_line(const zpl_node_t *self)
{
    return self ? self->line : 0;
}

const char *zpl_source(const zpl_node_t *self)
{
    return self ? self->source : NULL;
}

zpl_node_t *zpl_child(const zpl_node_t *self)
{
    return self ? self->child : NULL;
}

zpl_node_t *zpl_next(const zpl_node_t *self)
{
    return self ? self->next : NULL;
}

zpl_node_t *zpl_parent(const zpl_node_t *self)
{
    return self ? self->parent : NULL;
}

zpl_node_t *zpl_locate(const zpl_node_t *self, const char *path)
{
    if (!self || !path)
        return NULL;
    const zpl_node_t *node = self;
    while (*path == '/')
        path++;
    while (*path) {
        size_t seg = strcspn(path, "/");
        zpl_node_t *child = node->child;
        while (child && !(strlen(child->name) == seg && !memcmp(child->name, path, seg)))
            child = child->next;
        if (!child)
            return NULL;
        node = child;
        path += seg;
        while (*path == '/')
            path++;
    }
    return (zpl_node_t *)node;
}

const char *zpl_get(const zpl_node_t *self, const char *path, const char *default_value)
{
    zpl_node_t *node = zpl_locate(self, path);
    return node && node->value ? node->value : default_value;
}

/* Writes a value so that the parser reads it back unchanged: bare when it
 * can be, otherwise in whichever quotes it does not contain. */
static void s_print_value(const char *value, FILE *out)
{
    size_t len = strlen(value);
    bool bare = len > 0 && !strchr(value, '#') && !s_is_blank(value[0])
             && !s_is_blank(value[len - 1]) && value[0] != '"' && value[0] != '\'';
    if (bare)
        fputs(value, out);
    else if (!strchr(value, '"'))
        fprintf(out, "\"%s\"", value);
    else
        fprintf(out, "'%s'", value);
}

static void s_print(const zpl_node_t *self, int depth, FILE *out)
{
    for (; self; self = self->next) {
        fprintf(out, "%*s%s", depth * 4, "", self->name);
        if (self->value) {
            fputs(" = ", out);
            s_print_value(self->value, out);
        }
        fputc('\n', out);
        s_print(self->child, depth + 1, out);
    }
}

int zpl_print(const zpl_node_t *self, FILE *out)
{
    if (!self || !out)
        return -1;
    if (self->parent) {
        /* A subtree: print the node itself, but not its siblings. */
        fprintf(out, "%s", self->name);
        if (self->value) {
            fputs(" = ", out);
            s_print_value(self->value, out);
        }
        fputc('\n', out);
        s_print(self->child, 1, out);
    }
    else
        s_print(self->child, 0, out);
    return ferror(out) ? -1 : 0;
}
