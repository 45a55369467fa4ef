/* lm_build — see lm_build.h. */
#include "lm_build.h"

#include <ctype.h>
#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Absolute discount of every seen n-gram count. Small: the example
 * sentences are what callers say, so seen n-grams keep nearly all their mass
 * and the back-off to unseen word sequences is unlikely; measured on a
 * held-out set of domain sentences (services/stt/tune_corpus.txt), 0.1 makes
 * about a fifth fewer errors than 0.5, most in noise, where the acoustics
 * say least (docs/stt.md). */
#define LM_DISCOUNT 0.1
#define LM_MAX_WORDS_PER_LINE 64

typedef struct {
    GHashTable *uni;    /* "w" -> count */
    GHashTable *bi;     /* "w1 w2" -> count */
    GHashTable *tri;    /* "w1 w2 w3" -> count */
    GHashTable *hist1;  /* "w1" -> total count as a bigram history */
    GHashTable *hist2;  /* "w1 w2" -> total count as a trigram history */
    GHashTable *types1; /* "w1" -> distinct followers */
    GHashTable *types2; /* "w1 w2" -> distinct followers */
    double total;       /* unigram tokens */
} s_counts_t;

static void s_inc(GHashTable *t, const char *key, double by)
{
    gpointer old = NULL;
    double *v;
    if (g_hash_table_lookup_extended(t, key, NULL, &old)) v = old;
    else {
        v = g_new0(double, 1);
        g_hash_table_insert(t, g_strdup(key), v);
    }
    *v += by;
}

static double s_get(GHashTable *t, const char *key)
{
    double *v = g_hash_table_lookup(t, key);
    return v ? *v : 0;
}

static GHashTable *s_table(void) { return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free); }

/* Dictionary words (lower case, variants "(2)" folded). */
static GHashTable *s_load_dict(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    GHashTable *d = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *sp = strpbrk(line, " \t(");
        if (!sp || sp == line) continue;
        *sp = 0;
        g_hash_table_add(d, g_ascii_strdown(line, -1));
    }
    fclose(f);
    return d;
}

/* Splits a sentence into lower-case words: letters, digits and apostrophes. */
static int s_words(char *line, char **out, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p && !(isalnum((unsigned char)*p) || *p == '\'')) p++;
        if (!*p) break;
        char *start = p;
        while (*p && (isalnum((unsigned char)*p) || *p == '\'')) {
            *p = (char)tolower((unsigned char)*p);
            p++;
        }
        if (*p) *p++ = 0;
        out[n++] = start;
    }
    return n;
}

static void s_count_sentence(s_counts_t *c, char **w, int n)
{
    const char *seq[LM_MAX_WORDS_PER_LINE + 2];
    int m = 0;
    seq[m++] = "<s>";
    for (int i = 0; i < n; i++) seq[m++] = w[i];
    seq[m++] = "</s>";
    char key[512];
    for (int i = 0; i < m; i++) {
        if (i > 0) s_inc(c->uni, seq[i], 1), c->total++;   /* <s> is never predicted */
        if (i >= 1) {
            snprintf(key, sizeof key, "%s %s", seq[i - 1], seq[i]);
            if (s_get(c->bi, key) == 0) s_inc(c->types1, seq[i - 1], 1);
            s_inc(c->bi, key, 1);
            s_inc(c->hist1, seq[i - 1], 1);
        }
        if (i >= 2) {
            snprintf(key, sizeof key, "%s %s %s", seq[i - 2], seq[i - 1], seq[i]);
            char h[512];
            snprintf(h, sizeof h, "%s %s", seq[i - 2], seq[i - 1]);
            if (s_get(c->tri, key) == 0) s_inc(c->types2, h, 1);
            s_inc(c->tri, key, 1);
            s_inc(c->hist2, h, 1);
        }
    }
}

/* Unigram probability (add-one over the vocabulary). */
static double s_p1(const s_counts_t *c, const char *w, double vocab)
{
    return (s_get(c->uni, w) + 1) / (c->total + vocab);
}

/* Back-off bigram probability p(w2 | w1). */
static double s_p2(const s_counts_t *c, const char *w1, const char *w2, double vocab, GHashTable *bow1)
{
    char key[512];
    snprintf(key, sizeof key, "%s %s", w1, w2);
    double n = s_get(c->bi, key), h = s_get(c->hist1, w1);
    if (n > 0) return (n - LM_DISCOUNT) / h;
    double *b = g_hash_table_lookup(bow1, w1);
    return (b ? *b : 1.0) * s_p1(c, w2, vocab);
}

static int s_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char **s_sorted_keys(GHashTable *t, guint *n)
{
    char **k = (char **)g_hash_table_get_keys_as_array(t, n);
    qsort(k, *n, sizeof *k, s_cmp_str);
    return k;
}

int lm_build_arpa(const char *text_path, const char *dict_path, const char *arpa_path, size_t *unknown,
                  char *err, size_t errlen)
{
    GHashTable *dict = s_load_dict(dict_path, err, errlen);
    if (!dict) return -1;
    FILE *in = fopen(text_path, "r");
    if (!in) {
        snprintf(err, errlen, "%s: %s", text_path, strerror(errno));
        g_hash_table_destroy(dict);
        return -1;
    }
    s_counts_t c = { s_table(), s_table(), s_table(), s_table(), s_table(), s_table(), s_table(), 0 };
    char line[4096];
    int sentences = 0, lineno = 0;
    size_t unk = 0;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *w[LM_MAX_WORDS_PER_LINE], *kept[LM_MAX_WORDS_PER_LINE];
        int n = s_words(line, w, LM_MAX_WORDS_PER_LINE), k = 0;
        for (int i = 0; i < n; i++) {
            if (g_hash_table_contains(dict, w[i])) kept[k++] = w[i];
            else unk++;
        }
        if (k == 0) continue;
        s_count_sentence(&c, kept, k);
        sentences++;
    }
    fclose(in);
    g_hash_table_destroy(dict);
    if (unknown) *unknown = unk;
    int rc = -1;
    FILE *out = NULL;
    if (sentences == 0) {
        snprintf(err, errlen, "%s: no sentence with a word the dictionary knows", text_path);
        goto done;
    }
    out = fopen(arpa_path, "w");
    if (!out) {
        snprintf(err, errlen, "%s: %s", arpa_path, strerror(errno));
        goto done;
    }
    double vocab = (double)g_hash_table_size(c.uni);

    /* Back-off weights of the bigram histories: the discounted mass over
     * what the unigrams give to the unseen followers. */
    GHashTable *bow1 = s_table();
    guint nh;
    char **hs = s_sorted_keys(c.hist1, &nh);
    guint nb;
    char **bis = s_sorted_keys(c.bi, &nb);
    for (guint i = 0; i < nh; i++) {
        double seen_uni = 0;
        size_t hl = strlen(hs[i]);
        for (guint j = 0; j < nb; j++)
            if (!strncmp(bis[j], hs[i], hl) && bis[j][hl] == ' ') seen_uni += s_p1(&c, bis[j] + hl + 1, vocab);
        double left = LM_DISCOUNT * s_get(c.types1, hs[i]) / s_get(c.hist1, hs[i]);
        double *b = g_new(double, 1);
        *b = seen_uni < 1 ? left / (1 - seen_uni) : 1.0;
        g_hash_table_insert(bow1, g_strdup(hs[i]), b);
    }
    GHashTable *bow2 = s_table();
    guint nh2, nt;
    char **h2 = s_sorted_keys(c.hist2, &nh2);
    char **tris = s_sorted_keys(c.tri, &nt);
    for (guint i = 0; i < nh2; i++) {
        char w1[256], w2[256];
        if (sscanf(h2[i], "%255s %255s", w1, w2) != 2) continue;
        double seen = 0;
        size_t hl = strlen(h2[i]);
        for (guint j = 0; j < nt; j++)
            if (!strncmp(tris[j], h2[i], hl) && tris[j][hl] == ' ') seen += s_p2(&c, w2, tris[j] + hl + 1, vocab, bow1);
        double left = LM_DISCOUNT * s_get(c.types2, h2[i]) / s_get(c.hist2, h2[i]);
        double *b = g_new(double, 1);
        *b = seen < 1 ? left / (1 - seen) : 1.0;
        g_hash_table_insert(bow2, g_strdup(h2[i]), b);
    }

    guint nu;
    char **us = s_sorted_keys(c.uni, &nu);
    fprintf(out, "\\data\\\nngram 1=%u\nngram 2=%u\nngram 3=%u\n\n\\1-grams:\n", nu + 1, nb, nt);
    double *b0 = g_hash_table_lookup(bow1, "<s>");
    fprintf(out, "-99.0000 <s> %.4f\n", log10(b0 ? *b0 : 1.0));
    for (guint i = 0; i < nu; i++) {
        double *b = g_hash_table_lookup(bow1, us[i]);
        if (b) fprintf(out, "%.4f %s %.4f\n", log10(s_p1(&c, us[i], vocab)), us[i], log10(*b));
        else fprintf(out, "%.4f %s\n", log10(s_p1(&c, us[i], vocab)), us[i]);
    }
    fprintf(out, "\n\\2-grams:\n");
    for (guint i = 0; i < nb; i++) {
        char w1[256], w2[256];
        if (sscanf(bis[i], "%255s %255s", w1, w2) != 2) continue;
        double p = (s_get(c.bi, bis[i]) - LM_DISCOUNT) / s_get(c.hist1, w1);
        double *b = g_hash_table_lookup(bow2, bis[i]);
        if (b) fprintf(out, "%.4f %s %.4f\n", log10(p), bis[i], log10(*b));
        else fprintf(out, "%.4f %s\n", log10(p), bis[i]);
    }
    fprintf(out, "\n\\3-grams:\n");
    for (guint i = 0; i < nt; i++) {
        char w1[256], w2[256], w3[256];
        if (sscanf(tris[i], "%255s %255s %255s", w1, w2, w3) != 3) continue;
        char h[520];
        snprintf(h, sizeof h, "%s %s", w1, w2);
        double p = (s_get(c.tri, tris[i]) - LM_DISCOUNT) / s_get(c.hist2, h);
        fprintf(out, "%.4f %s\n", log10(p), tris[i]);
    }
    fprintf(out, "\n\\end\\\n");
    g_free(us);
    g_free(hs);
    g_free(bis);
    g_free(h2);
    g_free(tris);
    g_hash_table_destroy(bow1);
    g_hash_table_destroy(bow2);
    rc = fclose(out) == 0 ? sentences : -1;
    out = NULL;
    if (rc < 0) snprintf(err, errlen, "%s: %s", arpa_path, strerror(errno));
done:
    if (out) fclose(out);
    g_hash_table_destroy(c.uni);
    g_hash_table_destroy(c.bi);
    g_hash_table_destroy(c.tri);
    g_hash_table_destroy(c.hist1);
    g_hash_table_destroy(c.hist2);
    g_hash_table_destroy(c.types1);
    g_hash_table_destroy(c.types2);
    return rc;
}
