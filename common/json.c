/* json — see json.h.
 *
 * The reader is a recursive-descent parser over the bytes (depth-limited,
 * so the recursion is bounded). Every node and string of one document lives
 * in one arena owned by the root: parsing is a few large allocations instead
 * of one per value, and json_destroy() frees the whole tree at once. The
 * children of an array or object are collected on a scratch stack while
 * they are parsed and copied into the arena when the container closes, so
 * a container's members are one contiguous array (json_index is O(1);
 * json_get is a linear scan, fine for the small objects of provider
 * protocols). */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64u << 10)

typedef struct s_chunk {
    struct s_chunk *next;
    size_t used, cap;
    max_align_t data[];
} s_chunk_t;

struct json {
    json_type_t type;
    bool is_root;              /* json_destroy frees only a root */
    bool b;
    size_t len;                /* string bytes, or number of members */
    union {
        double num;
        char *str;             /* NUL-terminated (may hold NULs before len) */
        json_t **items;        /* arrays and objects */
    } u;
    struct json **keys;        /* objects: key of each member (string nodes) */
};

typedef struct {
    json_t root;               /* first, so that &doc->root converts back */
    s_chunk_t *chunks;
} s_doc_t;

/* ---- arena ------------------------------------------------------------------------ */

static void *s_alloc(s_doc_t *doc, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    s_chunk_t *c = doc->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = doc->chunks;
        doc->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

/* ---- parser ----------------------------------------------------------------------- */

typedef struct {
    const char *text;
    size_t len, pos;
    size_t values;
    s_doc_t *doc;
    json_t **stack;            /* scratch: children of open containers */
    json_t **kstack;           /* their keys (NULL for array elements) */
    size_t sp, scap;
    char *sbuf;                /* scratch: a string being unescaped */
    size_t scap_str;
    char *err;
    size_t errlen;
    bool failed;
} s_parser_t;

static void s_fail_at(s_parser_t *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void s_fail_at(s_parser_t *p, size_t pos, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = true;
    if (!p->err || !p->errlen) return;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        if (p->text[i] == '\n') { line++; col = 1; }
        else col++;
    }
    int n = snprintf(p->err, p->errlen, "line %zu col %zu: ", line, col);
    if (n < 0 || (size_t)n >= p->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void s_skip_ws(s_parser_t *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static json_t *s_node(s_parser_t *p, json_type_t type)
{
    if (++p->values > JSON_MAX_VALUES) {
        s_fail_at(p, p->pos, "more than %u values", JSON_MAX_VALUES);
        return NULL;
    }
    json_t *v = s_alloc(p->doc, sizeof *v);
    if (!v) {
        s_fail_at(p, p->pos, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

static bool s_push(s_parser_t *p, json_t *v, json_t *key)
{
    if (p->sp == p->scap) {
        size_t cap = p->scap ? p->scap * 2 : 64;
        json_t **s = realloc(p->stack, cap * sizeof *s);
        if (!s) return false;
        p->stack = s;
        json_t **k = realloc(p->kstack, cap * sizeof *k);
        if (!k) return false;
        p->kstack = k;
        p->scap = cap;
    }
    p->stack[p->sp] = v;
    p->kstack[p->sp] = key;
    p->sp++;
    return true;
}

static bool s_sbuf_put(s_parser_t *p, size_t *n, const char *bytes, size_t len)
{
    if (*n + len + 1 > p->scap_str) {
        size_t cap = p->scap_str ? p->scap_str : 256;
        while (cap < *n + len + 1) cap *= 2;
        char *b = realloc(p->sbuf, cap);
        if (!b) return false;
        p->sbuf = b;
        p->scap_str = cap;
    }
    memcpy(p->sbuf + *n, bytes, len);
    *n += len;
    return true;
}

static size_t s_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 when it is not
 * one: overlong forms, UTF-16 surrogates and code points above U+10FFFF are
 * refused (RFC 3629). */
static size_t s_utf8_valid(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int s_hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Parses the string at p->pos (which is '"') into the arena. */
static char *s_string(s_parser_t *p, size_t *len_out)
{
    size_t start = p->pos++;
    size_t n = 0;
    while (true) {
        /* Copy the run of plain bytes in one go. */
        size_t run = p->pos;
        while (run < p->len) {
            unsigned char c = (unsigned char)p->text[run];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            run++;
        }
        if (run > p->pos && !s_sbuf_put(p, &n, p->text + p->pos, run - p->pos)) goto oom;
        p->pos = run;
        if (p->pos >= p->len) {
            s_fail_at(p, start, "unterminated string");
            return NULL;
        }
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            s_fail_at(p, p->pos, "control character 0x%02x in a string", c);
            return NULL;
        }
        if (c >= 0x80) {
            size_t l = s_utf8_valid((const unsigned char *)p->text + p->pos, p->len - p->pos);
            if (!l) {
                s_fail_at(p, p->pos, "invalid UTF-8 in a string");
                return NULL;
            }
            if (!s_sbuf_put(p, &n, p->text + p->pos, l)) goto oom;
            p->pos += l;
            continue;
        }
        /* A backslash escape. */
        size_t esc = p->pos;
        if (p->pos + 1 >= p->len) {
            s_fail_at(p, start, "unterminated string");
            return NULL;
        }
        char e = p->text[p->pos + 1];
        p->pos += 2;
        char out[4];
        size_t olen = 1;
        switch (e) {
        case '"': out[0] = '"'; break;
        case '\\': out[0] = '\\'; break;
        case '/': out[0] = '/'; break;
        case 'b': out[0] = '\b'; break;
        case 'f': out[0] = '\f'; break;
        case 'n': out[0] = '\n'; break;
        case 'r': out[0] = '\r'; break;
        case 't': out[0] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (p->pos + 4 > p->len || s_hex4(p->text + p->pos, &cp) < 0) {
                s_fail_at(p, esc, "bad \\u escape");
                return NULL;
            }
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                s_fail_at(p, esc, "lone low surrogate \\u%04X", (unsigned)cp);
                return NULL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->pos + 6 > p->len || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u'
                    || s_hex4(p->text + p->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    s_fail_at(p, esc, "lone high surrogate \\u%04X", (unsigned)cp);
                    return NULL;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            olen = s_utf8_encode(cp, out);
            break;
        }
        default:
            s_fail_at(p, esc, "bad escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            return NULL;
        }
        if (!s_sbuf_put(p, &n, out, olen)) goto oom;
    }
    char *s = s_alloc(p->doc, n + 1);
    if (!s) goto oom;
    if (n) memcpy(s, p->sbuf, n);
    s[n] = 0;
    *len_out = n;
    return s;
oom:
    s_fail_at(p, p->pos, "out of memory");
    return NULL;
}

static json_t *s_number(s_parser_t *p)
{
    size_t start = p->pos, i = p->pos;
    const char *t = p->text;
#define DIGIT(k) ((k) < p->len && t[k] >= '0' && t[k] <= '9')
    if (i < p->len && t[i] == '-') i++;
    if (!DIGIT(i)) {
        s_fail_at(p, start, "bad number");
        return NULL;
    }
    if (t[i] == '0') {
        i++;
        if (DIGIT(i)) {
            s_fail_at(p, start, "leading zero in a number");
            return NULL;
        }
    } else {
        while (DIGIT(i)) i++;
    }
    if (i < p->len && t[i] == '.') {
        i++;
        if (!DIGIT(i)) {
            s_fail_at(p, i, "digits expected after '.'");
            return NULL;
        }
        while (DIGIT(i)) i++;
    }
    if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < p->len && (t[i] == '+' || t[i] == '-')) i++;
        if (!DIGIT(i)) {
            s_fail_at(p, i, "digits expected in the exponent");
            return NULL;
        }
        while (DIGIT(i)) i++;
    }
#undef DIGIT
    /* strtod wants a terminated string; the text need not be one. */
    size_t n = i - start;
    char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) {
        s_fail_at(p, start, "out of memory");
        return NULL;
    }
    memcpy(buf, t + start, n);
    buf[n] = 0;
    errno = 0;
    double d = strtod(buf, NULL);
    int e = errno;
    if (buf != small) free(buf);
    /* Underflow to 0 is fine; a number beyond double's range is not. */
    if (isinf(d) || (e == ERANGE && fabs(d) > 1.0)) {
        s_fail_at(p, start, "number out of range");
        return NULL;
    }
    p->pos = i;
    json_t *v = s_node(p, JSON_NUMBER);
    if (v) v->u.num = d;
    return v;
}

static bool s_literal(s_parser_t *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0) return false;
    p->pos += n;
    return true;
}

static json_t *s_value(s_parser_t *p, int depth);

/* Moves the top `count` scratch entries into the container. */
static bool s_close(s_parser_t *p, json_t *v, size_t base, bool keys)
{
    size_t count = p->sp - base;
    v->len = count;
    if (count) {
        v->u.items = s_alloc(p->doc, count * sizeof *v->u.items);
        if (!v->u.items) return false;
        memcpy(v->u.items, p->stack + base, count * sizeof *v->u.items);
        if (keys) {
            v->keys = s_alloc(p->doc, count * sizeof *v->keys);
            if (!v->keys) return false;
            memcpy(v->keys, p->kstack + base, count * sizeof *v->keys);
        }
    }
    p->sp = base;
    return true;
}

static json_t *s_array(s_parser_t *p, int depth)
{
    size_t open = p->pos++;
    json_t *v = s_node(p, JSON_ARRAY);
    if (!v) return NULL;
    size_t base = p->sp;
    s_skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == ']') {
        p->pos++;
        return v;
    }
    while (true) {
        json_t *item = s_value(p, depth + 1);
        if (!item) return NULL;
        if (!s_push(p, item, NULL)) {
            s_fail_at(p, p->pos, "out of memory");
            return NULL;
        }
        s_skip_ws(p);
        if (p->pos >= p->len) {
            s_fail_at(p, open, "unterminated array");
            return NULL;
        }
        char c = p->text[p->pos];
        if (c == ']') {
            p->pos++;
            break;
        }
        if (c != ',') {
            s_fail_at(p, p->pos, "expected ',' or ']'");
            return NULL;
        }
        p->pos++;
    }
    if (!s_close(p, v, base, false)) {
        s_fail_at(p, p->pos, "out of memory");
        return NULL;
    }
    return v;
}

static json_t *s_object(s_parser_t *p, int depth)
{
    size_t open = p->pos++;
    json_t *v = s_node(p, JSON_OBJECT);
    if (!v) return NULL;
    size_t base = p->sp;
    s_skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == '}') {
        p->pos++;
        return v;
    }
    while (true) {
        s_skip_ws(p);
        if (p->pos >= p->len) {
            s_fail_at(p, open, "unterminated object");
            return NULL;
        }
        if (p->text[p->pos] != '"') {
            s_fail_at(p, p->pos, "expected a string key");
            return NULL;
        }
        /* Keys are string nodes (not counted as values): they may hold
         * \u0000, and json_dump must write them back unchanged. */
        json_t *key = s_alloc(p->doc, sizeof *key);
        if (!key) {
            s_fail_at(p, p->pos, "out of memory");
            return NULL;
        }
        memset(key, 0, sizeof *key);
        key->type = JSON_STRING;
        if (!(key->u.str = s_string(p, &key->len))) return NULL;
        s_skip_ws(p);
        if (p->pos >= p->len || p->text[p->pos] != ':') {
            s_fail_at(p, p->pos, "expected ':'");
            return NULL;
        }
        p->pos++;
        json_t *item = s_value(p, depth + 1);
        if (!item) return NULL;
        if (!s_push(p, item, key)) {
            s_fail_at(p, p->pos, "out of memory");
            return NULL;
        }
        s_skip_ws(p);
        if (p->pos >= p->len) {
            s_fail_at(p, open, "unterminated object");
            return NULL;
        }
        char c = p->text[p->pos];
        if (c == '}') {
            p->pos++;
            break;
        }
        if (c != ',') {
            s_fail_at(p, p->pos, "expected ',' or '}'");
            return NULL;
        }
        p->pos++;
    }
    if (!s_close(p, v, base, true)) {
        s_fail_at(p, p->pos, "out of memory");
        return NULL;
    }
    return v;
}

static json_t *s_value(s_parser_t *p, int depth)
{
    s_skip_ws(p);
    if (p->pos >= p->len) {
        s_fail_at(p, p->pos, "unexpected end of input");
        return NULL;
    }
    char c = p->text[p->pos];
    if ((c == '[' || c == '{') && depth >= JSON_MAX_DEPTH) {
        s_fail_at(p, p->pos, "nested deeper than %d", JSON_MAX_DEPTH);
        return NULL;
    }
    switch (c) {
    case '{': return s_object(p, depth);
    case '[': return s_array(p, depth);
    case '"': {
        json_t *v = s_node(p, JSON_STRING);
        if (!v) return NULL;
        v->u.str = s_string(p, &v->len);
        return v->u.str ? v : NULL;
    }
    case 't': case 'f': case 'n': {
        size_t at = p->pos;
        json_t *v = NULL;
        if (s_literal(p, "true")) { if ((v = s_node(p, JSON_BOOL))) v->b = true; }
        else if (s_literal(p, "false")) v = s_node(p, JSON_BOOL);
        else if (s_literal(p, "null")) v = s_node(p, JSON_NULL);
        else s_fail_at(p, at, "unexpected '%c'", c);
        return v;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return s_number(p);
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f) s_fail_at(p, p->pos, "unexpected '%c'", c);
        else s_fail_at(p, p->pos, "unexpected byte 0x%02x", (unsigned char)c);
        return NULL;
    }
}

static void s_doc_free(s_doc_t *doc)
{
    s_chunk_t *c = doc->chunks;
    while (c) {
        s_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(doc);
}

json_t *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    s_parser_t p = { .text = text ? text : "", .len = text ? len : 0, .err = err, .errlen = errlen };
    if (p.len > JSON_MAX_INPUT) {
        s_fail_at(&p, 0, "input larger than %u bytes", JSON_MAX_INPUT);
        return NULL;
    }
    s_doc_t *doc = calloc(1, sizeof *doc);
    if (!doc) {
        s_fail_at(&p, 0, "out of memory");
        return NULL;
    }
    p.doc = doc;
    json_t *v = s_value(&p, 0);
    if (v) {
        s_skip_ws(&p);
        if (p.pos < p.len) {
            s_fail_at(&p, p.pos, "unexpected data after the value");
            v = NULL;
        }
    }
    free(p.stack);
    free(p.kstack);
    free(p.sbuf);
    if (!v) {
        s_doc_free(doc);
        return NULL;
    }
    /* The root is copied into the document header, so that json_destroy
     * can find the arena from it. */
    doc->root = *v;
    doc->root.is_root = true;
    return &doc->root;
}

void json_destroy(json_t **self_p)
{
    if (!self_p || !*self_p) return;
    if ((*self_p)->is_root) s_doc_free((s_doc_t *)(void *)*self_p);
    *self_p = NULL;
}

/* ---- accessors ---------------------------------------------------------------------- */

json_type_t json_type(const json_t *v) { return v ? v->type : JSON_NULL; }

const json_t *json_get(const json_t *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT || !key) return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (!strcmp(obj->keys[i]->u.str, key)) return obj->u.items[i];
    return NULL;
}

const json_t *json_index(const json_t *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->len) return NULL;
    return arr->u.items[i];
}

size_t json_len(const json_t *v)
{
    if (!v) return 0;
    return v->type == JSON_ARRAY || v->type == JSON_OBJECT || v->type == JSON_STRING ? v->len : 0;
}

const char *json_key(const json_t *obj, size_t i)
{
    if (!obj || obj->type != JSON_OBJECT || i >= obj->len) return NULL;
    return obj->keys[i]->u.str;
}

const json_t *json_member(const json_t *obj, size_t i)
{
    if (!obj || obj->type != JSON_OBJECT || i >= obj->len) return NULL;
    return obj->u.items[i];
}

const char *json_str(const json_t *v) { return v && v->type == JSON_STRING ? v->u.str : NULL; }

double json_num(const json_t *v, double fallback) { return v && v->type == JSON_NUMBER ? v->u.num : fallback; }

bool json_bool(const json_t *v, bool fallback) { return v && v->type == JSON_BOOL ? v->b : fallback; }

/* ---- writer ------------------------------------------------------------------------- */

void json_buf_init(json_buf_t *b)
{
    /* data is a valid (empty) string from the start, or oom is set. */
    memset(b, 0, sizeof *b);
    b->data = malloc(256);
    if (b->data) {
        b->cap = 256;
        b->data[0] = 0;
    } else {
        b->oom = true;
    }
}

void json_buf_free(json_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static bool s_reserve(json_buf_t *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

static void s_put(json_buf_t *b, const char *s, size_t n)
{
    if (!s_reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void json_buf_raw(json_buf_t *b, const char *text)
{
    if (text) s_put(b, text, strlen(text));
}

void json_buf_printf(json_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        s_put(b, small, (size_t)n);
        return;
    }
    if (!s_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void json_buf_strn(json_buf_t *b, const char *s, size_t n)
{
    if (!s) {
        s_put(b, "null", 4);
        return;
    }
    s_put(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n) {
            unsigned char c = (unsigned char)s[run];
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
            run++;
        }
        if (run > i) s_put(b, s + i, run - i);
        i = run;
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* Text from a peer may hold broken UTF-8; what we write is
             * always valid JSON (U+FFFD for each bad byte). */
            size_t l = s_utf8_valid((const unsigned char *)s + i, n - i);
            if (l) s_put(b, s + i, l);
            else s_put(b, "\xEF\xBF\xBD", 3);
            i += l ? l : 1;
            continue;
        }
        char esc[8];
        switch (c) {
        case '"': s_put(b, "\\\"", 2); break;
        case '\\': s_put(b, "\\\\", 2); break;
        case '\n': s_put(b, "\\n", 2); break;
        case '\r': s_put(b, "\\r", 2); break;
        case '\t': s_put(b, "\\t", 2); break;
        case '\b': s_put(b, "\\b", 2); break;
        case '\f': s_put(b, "\\f", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            s_put(b, esc, 6);
        }
        i++;
    }
    s_put(b, "\"", 1);
}

void json_buf_str(json_buf_t *b, const char *s)
{
    json_buf_strn(b, s, s ? strlen(s) : 0);
}

void json_buf_num(json_buf_t *b, double d)
{
    if (!isfinite(d)) {
        s_put(b, "null", 4);   /* JSON has no NaN or infinity */
        return;
    }
    /* The shortest form that reads back as the same double. */
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    s_put(b, tmp, strlen(tmp));
}

static void s_dump(json_buf_t *b, const json_t *v)
{
    switch (json_type(v)) {
    case JSON_NULL: s_put(b, "null", 4); break;
    case JSON_BOOL: json_buf_raw(b, v->b ? "true" : "false"); break;
    case JSON_NUMBER: json_buf_num(b, v->u.num); break;
    case JSON_STRING: json_buf_strn(b, v->u.str, v->len); break;
    case JSON_ARRAY:
        s_put(b, "[", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (i) s_put(b, ",", 1);
            s_dump(b, v->u.items[i]);
        }
        s_put(b, "]", 1);
        break;
    case JSON_OBJECT:
        s_put(b, "{", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (i) s_put(b, ",", 1);
            json_buf_strn(b, v->keys[i]->u.str, v->keys[i]->len);
            s_put(b, ":", 1);
            s_dump(b, v->u.items[i]);
        }
        s_put(b, "}", 1);
        break;
    }
}

void json_buf_value(json_buf_t *b, const json_t *v)
{
    s_dump(b, v);
}

char *json_dump(const json_t *v)
{
    json_buf_t b;
    json_buf_init(&b);
    s_dump(&b, v);
    if (b.oom || !b.data) {
        json_buf_free(&b);
        return NULL;
    }
    return b.data;
}
