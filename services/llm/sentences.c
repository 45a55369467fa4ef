/* sentences — see sentences.h.
 *
 * The buffer holds the text not yet emitted; `scan` is where the search
 * for the next end resumes, so each byte is looked at about once however
 * small the pieces are (streams arrive a few characters at a time). */
#include "sentences.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SENTENCE_DEFAULT_MAX 400

struct sentences {
    char *buf;
    size_t len, cap;
    size_t scan;
    size_t max_len;
};

/* Lower-case, without the dot. */
static const char *const s_abbreviations[] = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "approx", "inc", "ltd", "dept",
    "est", "fig", "al", "cf", "mt", "ft", "rev", "gen", "sgt", "capt", "lt", "col", "gov", "sen", NULL
};

sentences_t *sentences_new(size_t max_len)
{
    sentences_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->max_len = max_len ? max_len : SENTENCE_DEFAULT_MAX;
    return s;
}

void sentences_destroy(sentences_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

void sentences_reset(sentences_t *s)
{
    s->len = 0;
    s->scan = 0;
}

static bool s_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes of the UTF-8 sequence starting with c (1 for ASCII and for stray
 * continuation bytes, which we step over one at a time). */
static size_t s_seq_len(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

typedef enum { T_NONE, T_WESTERN, T_CJK } s_term_t;

/* A sentence-ending mark at b[0..n): its kind and length. */
static s_term_t s_terminator(const char *b, size_t n, size_t *len)
{
    unsigned char c = (unsigned char)b[0];
    *len = 1;
    if (c == '.' || c == '!' || c == '?') return T_WESTERN;
    if (n >= 3 && !memcmp(b, "\xE2\x80\xA6", 3)) { *len = 3; return T_WESTERN; }   /* … */
    if (n >= 3 && (!memcmp(b, "\xE3\x80\x82", 3) || !memcmp(b, "\xEF\xBC\x81", 3)
                   || !memcmp(b, "\xEF\xBC\x9F", 3))) {                             /* 。！？ */
        *len = 3;
        return T_CJK;
    }
    return T_NONE;
}

/* A closing quote or bracket after the mark: its length, or 0. */
static size_t s_closer(const char *b, size_t n)
{
    unsigned char c = (unsigned char)b[0];
    if (c == '"' || c == '\'' || c == ')' || c == ']') return 1;
    if (n >= 3 && (!memcmp(b, "\xE2\x80\x9D", 3) || !memcmp(b, "\xE2\x80\x99", 3))) return 3;   /* ” ’ */
    if (n >= 2 && !memcmp(b, "\xC2\xBB", 2)) return 2;                                         /* » */
    return 0;
}

/* Is the '.' at b[dot] the end of an abbreviation or an initial? */
static bool s_abbreviation(const char *b, size_t dot)
{
    size_t start = dot;
    while (start > 0 && (isalpha((unsigned char)b[start - 1]) || b[start - 1] == '.')) start--;
    size_t n = dot - start;
    if (n == 0) return false;
    if (memchr(b + start, '.', n)) return true;                   /* e.g  i.e  U.S */
    if (n == 1 && isupper((unsigned char)b[start])) return true;  /* J. R. R. Tolkien */
    for (const char *const *a = s_abbreviations; *a; a++)
        if (strlen(*a) == n && !strncasecmp(*a, b + start, n)) return true;
    return false;
}

/* Is the text before the '.' only a list number ("1.", "12.")? */
static bool s_list_number(const char *b, size_t dot)
{
    size_t i = 0;
    while (i < dot && s_space((unsigned char)b[i])) i++;
    if (i == dot || dot - i > 3) return false;
    for (; i < dot; i++)
        if (!isdigit((unsigned char)b[i])) return false;
    return true;
}

static bool s_has_text(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s_space((unsigned char)b[i])) return true;
    return false;
}

/* Finds the next sentence end: the sentence is buf[0..*end), the rest
 * starts at *next. Returns false when there is none yet. */
static bool s_find(sentences_t *s, size_t *end, size_t *next)
{
    const char *b = s->buf;
    size_t n = s->len, i = s->scan;
    while (i < n) {
        unsigned char c = (unsigned char)b[i];
        if (c >= 0xC0 && i + s_seq_len(c) > n) break;   /* a character cut in two: wait */
        if (c == '\n') {
            if (s_has_text(b, i)) {
                *end = i;
                *next = i + 1;
                return true;
            }
            i++;
            continue;
        }
        size_t tl;
        s_term_t kind = s_terminator(b + i, n - i, &tl);
        if (kind == T_NONE) {
            i += c >= 0xC0 ? s_seq_len(c) : 1;
            continue;
        }
        if (kind == T_CJK) {
            *end = *next = i + tl;
            return true;
        }
        size_t j = i;
        int marks = 0;
        bool only_dots = true;
        while (j < n && s_terminator(b + j, n - j, &tl) == T_WESTERN) {
            if (b[j] != '.') only_dots = false;
            j += tl;
            marks++;
        }
        size_t cl;
        while (j < n && (cl = s_closer(b + j, n - j))) j += cl;
        /* Undecided: the mark (and its closers) end the text so far, or a
         * multi-byte closer may be cut in two. */
        if (j >= n || ((unsigned char)b[j] >= 0xC0 && j + s_seq_len((unsigned char)b[j]) > n)) {
            s->scan = i;
            return false;
        }
        if (!s_space((unsigned char)b[j])
            || (only_dots && marks == 1 && (s_abbreviation(b, i) || s_list_number(b, i)))) {
            i = j;
            continue;
        }
        *end = j;
        *next = j + 1;
        return true;
    }
    s->scan = i < n ? i : n;
    return false;
}

/* Where to cut a sentence that is too long: after the last ", ; :" that is
 * followed by a space, else at the last space, else at max_len (on a
 * character boundary). */
static size_t s_cut_point(const char *b, size_t max_len)
{
    for (size_t i = max_len; i > 1; i--)
        if ((b[i - 2] == ',' || b[i - 2] == ';' || b[i - 2] == ':') && b[i - 1] == ' ') return i - 1;
    for (size_t i = max_len; i > 0; i--)
        if (b[i - 1] == ' ') return i - 1;
    size_t i = max_len;
    while (i > 0 && ((unsigned char)b[i] & 0xC0) == 0x80) i--;
    return i ? i : max_len;
}

static void s_emit(sentences_t *s, size_t end, size_t next, sentence_fn *fn, void *user)
{
    size_t a = 0, z = end;
    while (a < z && s_space((unsigned char)s->buf[a])) a++;
    while (z > a && s_space((unsigned char)s->buf[z - 1])) z--;
    if (z > a) fn(s->buf + a, z - a, user);
    memmove(s->buf, s->buf + next, s->len - next);
    s->len -= next;
    s->scan = 0;
}

int sentences_push(sentences_t *s, const char *text, size_t len, sentence_fn *fn, void *user)
{
    if (s->len + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + len + 1) cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) return -ENOMEM;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    size_t end, next;
    while (true) {
        /* Leading blanks do not count towards the length. */
        size_t lead = 0;
        while (lead < s->len && s_space((unsigned char)s->buf[lead])) lead++;
        bool found = s_find(s, &end, &next);
        if (found && end - lead <= s->max_len) {
            s_emit(s, end, next, fn, user);
            continue;
        }
        /* Too long, with or without an end: cut it. */
        if ((found ? end : s->len) - lead <= s->max_len) break;
        size_t cut = lead + s_cut_point(s->buf + lead, s->max_len);
        s_emit(s, cut, cut, fn, user);
    }
    return 0;
}

void sentences_flush(sentences_t *s, sentence_fn *fn, void *user)
{
    if (s->len) s_emit(s, s->len, s->len, fn, user);
    sentences_reset(s);
}
