/* whip — see whip.h. A GHashTable keyed by id: the edge holds at most a few
 * thousand sessions and looks one up per PATCH/DELETE. */
#include "whip.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

typedef struct {
    char id[WHIP_ID_LEN + 1];
    char etag[WHIP_ETAG_LEN + 1];
    void *session;
    bool live;
} s_entry_t;

struct whip_table {
    GHashTable *entries;        /* id -> s_entry_t (owned) */
    size_t max;
    size_t live;
};

int whip_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    if (!out || nbytes > sizeof buf)
        return -EINVAL;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(buf + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

whip_table_t *whip_table_new(size_t max_sessions)
{
    whip_table_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
    t->max = max_sessions;
    return t;
}

void whip_table_destroy(whip_table_t **p)
{
    if (!p || !*p)
        return;
    whip_table_t *t = *p;
    g_hash_table_destroy(t->entries);
    free(t);
    *p = NULL;
}

int whip_table_reserve(whip_table_t *t, char *id_out)
{
    if (g_hash_table_size(t->entries) >= t->max)
        return -EBUSY;
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    /* 128 random bits do not collide in practice; the loop only makes the
     * table's invariant independent of that argument. */
    do {
        int rc = whip_random_hex(e->id, WHIP_ID_BYTES);
        if (rc < 0) {
            free(e);
            return rc;
        }
    } while (g_hash_table_contains(t->entries, e->id));
    g_hash_table_insert(t->entries, e->id, e);
    memcpy(id_out, e->id, sizeof e->id);
    return 0;
}

int whip_table_commit(whip_table_t *t, const char *id, void *session, char *etag_out)
{
    s_entry_t *e = g_hash_table_lookup(t->entries, id);
    if (!e || e->live)
        return -ENOENT;
    int rc = whip_random_hex(e->etag, WHIP_ID_BYTES);
    if (rc < 0)
        return rc;
    e->session = session;
    e->live = true;
    t->live++;
    memcpy(etag_out, e->etag, sizeof e->etag);
    return 0;
}

int whip_table_remove(whip_table_t *t, const char *id)
{
    s_entry_t *e = g_hash_table_lookup(t->entries, id);
    if (!e)
        return -ENOENT;
    if (e->live)
        t->live--;
    g_hash_table_remove(t->entries, id);
    return 0;
}

bool whip_table_lookup(whip_table_t *t, const char *id, void **session, const char **etag)
{
    s_entry_t *e = id ? g_hash_table_lookup(t->entries, id) : NULL;
    if (!e || !e->live)
        return false;
    if (session) *session = e->session;
    if (etag) *etag = e->etag;
    return true;
}

int whip_table_new_etag(whip_table_t *t, const char *id, char *etag_out)
{
    s_entry_t *e = g_hash_table_lookup(t->entries, id);
    if (!e || !e->live)
        return -ENOENT;
    int rc = whip_random_hex(e->etag, WHIP_ID_BYTES);
    if (rc < 0)
        return rc;
    memcpy(etag_out, e->etag, sizeof e->etag);
    return 0;
}

size_t whip_table_size(whip_table_t *t)
{
    return g_hash_table_size(t->entries);
}

size_t whip_table_live(whip_table_t *t)
{
    return t->live;
}

void whip_table_foreach(whip_table_t *t, void (*fn)(const char *id, void *session, void *arg),
                        void *arg)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, t->entries);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        s_entry_t *e = value;
        if (e->live)
            fn(e->id, e->session, arg);
    }
}

bool whip_id_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')) || n >= WHIP_ID_LEN)
            return false;
    return n == WHIP_ID_LEN;
}

int whip_if_match(const char *field, const char *etag)
{
    if (!field)
        return -1;
    const char *p = field;
    bool any = false, matched = false;
    int tokens = 0;
    size_t etag_len = etag ? strlen(etag) : 0;
    for (;; tokens++) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '*') {
            p++;
            any = true;
        } else {
            bool weak = false;
            if (p[0] == 'W' && p[1] == '/') {
                weak = true;
                p += 2;
            }
            if (*p != '"')
                return -1;
            const char *q = strchr(p + 1, '"');
            if (!q)
                return -1;
            size_t n = (size_t)(q - p - 1);
            /* Strong comparison: a weak tag never matches (RFC 9110 8.8.3.2). */
            if (!weak && etag && n == etag_len && !memcmp(p + 1, etag, n))
                matched = true;
            p = q + 1;
        }
        while (*p == ' ' || *p == '\t') p++;
        if (!*p)
            break;
        if (*p != ',')
            return -1;
        p++;
    }
    if (any)
        return tokens == 0 ? 2 : -1;       /* "*" stands alone */
    return matched ? 1 : 0;
}
