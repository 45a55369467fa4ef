/* rules — see rules.h.
 *
 * Matching is a backtracking walk over (pattern token, transcript word)
 * with a table of positions already known to fail, so a pattern of many
 * `*` costs at most tokens x words x words steps, never exponential. */
#include "rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RULES_MAX_PATTERNS 16      /* per rule */
#define RULES_MAX_ALTS 16          /* words of one a|b|c token */
#define RULES_MAX_FILE (4u << 20)

typedef enum { TOK_WORD, TOK_STAR, TOK_CAPTURE, TOK_CAPTURE_MANY } s_tok_kind_t;

typedef struct {
    s_tok_kind_t kind;
    char *alts[RULES_MAX_ALTS];    /* TOK_WORD: lower-case words */
    size_t nalts;
    char *name;                    /* captures */
} s_tok_t;

typedef struct {
    s_tok_t toks[RULES_MAX_TOKENS];
    size_t ntoks;
} s_pattern_t;

typedef struct {
    int line;
    s_pattern_t *patterns;
    size_t npatterns;
    char **replies;                /* alternatives */
    size_t nreplies;
    size_t next;                   /* the alternative to use next */
} s_rule_t;

struct rules {
    s_rule_t *rules;
    size_t n;
};

/* A transcript word: lower-cased for matching, as said for captures. */
typedef struct {
    char lower[64];
    const char *orig;
    size_t len;
} s_word_t;

static void s_err(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void s_err(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
    if (!err || !errlen) return;
    int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", name, line) : snprintf(err, errlen, "%s: ", name);
    if (n < 0 || (size_t)n >= errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool s_word_char(unsigned char c)
{
    return isalnum(c) || c == '\'' || c >= 0x80;
}

static void s_rule_free(s_rule_t *r)
{
    for (size_t p = 0; p < r->npatterns; p++)
        for (size_t t = 0; t < r->patterns[p].ntoks; t++) {
            s_tok_t *tok = &r->patterns[p].toks[t];
            for (size_t a = 0; a < tok->nalts; a++) free(tok->alts[a]);
            free(tok->name);
        }
    free(r->patterns);
    for (size_t i = 0; i < r->nreplies; i++) free(r->replies[i]);
    free(r->replies);
}

void rules_destroy(rules_t **self_p)
{
    if (!self_p || !*self_p) return;
    rules_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) s_rule_free(&self->rules[i]);
    free(self->rules);
    free(self);
    *self_p = NULL;
}

size_t rules_count(const rules_t *self) { return self ? self->n : 0; }

/* ---- parsing -------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int line;
    char *err;
    size_t errlen;
} s_ctx_t;

/* The typographic apostrophe (U+2019) reads as a plain one: STT output
 * and rules files may use either. */
static void s_fold_quotes(char *s)
{
    char *q;
    while ((q = strstr(s, "\xE2\x80\x99"))) {
        *q = '\'';
        memmove(q + 1, q + 3, strlen(q + 3) + 1);
    }
}

static char *s_strndup_lower(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = 0;
    s_fold_quotes(d);
    return d;
}

static bool s_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 32 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static bool s_reserved(const char *s, size_t n)
{
    return (n == 10 && !strncmp(s, "transcript", 10)) || (n == 4 && !strncmp(s, "time", 4))
        || (n == 4 && !strncmp(s, "date", 4));
}

static int s_parse_token(s_ctx_t *c, s_pattern_t *p, const char *t, size_t n)
{
    if (p->ntoks == RULES_MAX_TOKENS) {
        s_err(c->err, c->errlen, c->name, c->line, "a pattern has more than %d words", RULES_MAX_TOKENS);
        return -1;
    }
    s_tok_t *tok = &p->toks[p->ntoks];
    memset(tok, 0, sizeof *tok);
    if (n == 1 && t[0] == '*') {
        tok->kind = TOK_STAR;
    } else if (t[0] == '(') {
        bool many = n > 5 && !strncmp(t + n - 4, "...)", 4);
        size_t nlen = n - 2 - (many ? 3 : 0);
        if (t[n - 1] != ')' || !s_name_ok(t + 1, nlen) || s_reserved(t + 1, nlen)) {
            s_err(c->err, c->errlen, c->name, c->line,
                  "bad capture '%.*s' (want (name) or (name...), a name of letters, digits and _, "
                  "not transcript, time or date)", (int)n, t);
            return -1;
        }
        for (size_t i = 0; i < p->ntoks; i++)
            if (p->toks[i].name && strlen(p->toks[i].name) == nlen && !strncmp(p->toks[i].name, t + 1, nlen)) {
                s_err(c->err, c->errlen, c->name, c->line, "capture '%.*s' twice in one pattern", (int)nlen, t + 1);
                return -1;
            }
        tok->kind = many ? TOK_CAPTURE_MANY : TOK_CAPTURE;
        if (!(tok->name = strndup(t + 1, nlen))) return -ENOMEM;
    } else {
        tok->kind = TOK_WORD;
        const char *a = t, *end = t + n;
        while (a <= end) {
            const char *bar = memchr(a, '|', (size_t)(end - a));
            const char *z = bar ? bar : end;
            bool ok = z > a;
            for (const char *q = a; q < z; q++)
                if (!s_word_char((unsigned char)*q)) ok = false;
            if (!ok || tok->nalts == RULES_MAX_ALTS || (size_t)(z - a) >= sizeof ((s_word_t *)0)->lower) {
                s_err(c->err, c->errlen, c->name, c->line,
                      "bad word '%.*s' (words are letters, digits and ', alternatives a|b, at most %d)", (int)n, t,
                      RULES_MAX_ALTS);
                for (size_t i = 0; i < tok->nalts; i++) free(tok->alts[i]);
                tok->nalts = 0;
                return -1;
            }
            if (!(tok->alts[tok->nalts] = s_strndup_lower(a, (size_t)(z - a)))) return -ENOMEM;
            tok->nalts++;
            if (!bar) break;
            a = bar + 1;
        }
    }
    p->ntoks++;
    return 0;
}

static int s_parse_patterns(s_ctx_t *c, s_rule_t *r, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p <= end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *z = semi ? semi : end;
        if (r->npatterns == RULES_MAX_PATTERNS) {
            s_err(c->err, c->errlen, c->name, c->line, "more than %d patterns in one rule", RULES_MAX_PATTERNS);
            return -1;
        }
        s_pattern_t *pat = &r->patterns[r->npatterns];
        memset(pat, 0, sizeof *pat);
        r->npatterns++;
        const char *q = p;
        while (q < z) {
            while (q < z && isspace((unsigned char)*q)) q++;
            const char *w = q;
            while (q < z && !isspace((unsigned char)*q)) q++;
            if (q > w) {
                int rc = s_parse_token(c, pat, w, (size_t)(q - w));
                if (rc < 0) return rc;
            }
        }
        if (pat->ntoks == 0) {
            s_err(c->err, c->errlen, c->name, c->line, "an empty pattern");
            return -1;
        }
        if (!semi) break;
        p = semi + 1;
    }
    return 0;
}

static bool s_pattern_captures(const s_pattern_t *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->ntoks; i++)
        if (p->toks[i].name && strlen(p->toks[i].name) == n && !strncmp(p->toks[i].name, name, n)) return true;
    return false;
}

/* Every {placeholder} of a template must be known to every pattern. */
static int s_check_template(s_ctx_t *c, const s_rule_t *r, const char *t)
{
    for (const char *p = t; *p; p++) {
        if (p[0] == '{' && p[1] == '{') { p++; continue; }
        if (p[0] == '}' && p[1] == '}') { p++; continue; }
        if (*p == '}') {
            s_err(c->err, c->errlen, c->name, c->line, "a '}' without '{' (write }} for a brace)");
            return -1;
        }
        if (*p != '{') continue;
        const char *close = strchr(p, '}');
        if (!close) {
            s_err(c->err, c->errlen, c->name, c->line, "a '{' without '}' (write {{ for a brace)");
            return -1;
        }
        const char *name = p + 1;
        size_t n = (size_t)(close - name);
        if (!s_reserved(name, n)) {
            for (size_t i = 0; i < r->npatterns; i++)
                if (!s_pattern_captures(&r->patterns[i], name, n)) {
                    s_err(c->err, c->errlen, c->name, c->line,
                          "{%.*s} is not captured by pattern %zu of this rule (and is not transcript, time or date)",
                          (int)n, name, i + 1);
                    return -1;
                }
        }
        p = close;
    }
    return 0;
}

static char *s_trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

static int s_add_reply(s_ctx_t *c, s_rule_t *r, const char *text)
{
    if (!*text) {
        s_err(c->err, c->errlen, c->name, c->line, "an empty reply");
        return -1;
    }
    if (r->nreplies == RULES_MAX_ALTS) {
        s_err(c->err, c->errlen, c->name, c->line, "more than %d replies for one rule", RULES_MAX_ALTS);
        return -1;
    }
    if (s_check_template(c, r, text) < 0) return -1;
    char **v = realloc(r->replies, (r->nreplies + 1) * sizeof *v);
    if (!v) return -ENOMEM;
    r->replies = v;
    if (!(r->replies[r->nreplies] = strdup(text))) return -ENOMEM;
    r->nreplies++;
    return 0;
}

/* "+ more": appended to the rule's last reply. */
static int s_continue_reply(s_ctx_t *c, s_rule_t *r, const char *text)
{
    char *last = r->replies[r->nreplies - 1];
    size_t a = strlen(last), b = strlen(text);
    if (a + 1 + b >= RULES_MAX_LINE) {
        s_err(c->err, c->errlen, c->name, c->line, "a reply longer than %d bytes", RULES_MAX_LINE);
        return -1;
    }
    if (s_check_template(c, r, text) < 0) return -1;
    char *joined = malloc(a + 1 + b + 1);
    if (!joined) return -ENOMEM;
    memcpy(joined, last, a);
    joined[a] = ' ';
    memcpy(joined + a + 1, text, b + 1);
    free(last);
    r->replies[r->nreplies - 1] = joined;
    return 0;
}

static int s_parse_line(s_ctx_t *c, rules_t *self, char *line)
{
    char *t = s_trim(line);
    if (!*t || *t == '#') return 0;
    s_rule_t *last = self->n ? &self->rules[self->n - 1] : NULL;
    if (t[0] == '+' || (t[0] == '-' && t[1] == '>')) {
        if (!last) {
            s_err(c->err, c->errlen, c->name, c->line, "'%s' before any rule", t[0] == '+' ? "+" : "->");
            return -1;
        }
        char *text = s_trim(t + (t[0] == '+' ? 1 : 2));
        return t[0] == '+' ? (*text ? s_continue_reply(c, last, text) : 0) : s_add_reply(c, last, text);
    }
    char *arrow = strstr(t, "->");
    if (!arrow) {
        s_err(c->err, c->errlen, c->name, c->line, "expected `pattern -> reply`");
        return -1;
    }
    if (self->n == RULES_MAX_RULES) {
        s_err(c->err, c->errlen, c->name, c->line, "more than %d rules", RULES_MAX_RULES);
        return -1;
    }
    s_rule_t *v = realloc(self->rules, (self->n + 1) * sizeof *v);
    if (!v) return -ENOMEM;
    self->rules = v;
    s_rule_t *r = &self->rules[self->n++];
    memset(r, 0, sizeof *r);
    r->line = c->line;
    if (!(r->patterns = calloc(RULES_MAX_PATTERNS, sizeof *r->patterns))) return -ENOMEM;
    *arrow = 0;
    int rc = s_parse_patterns(c, r, t, strlen(t));
    if (rc < 0) return rc;
    return s_add_reply(c, r, s_trim(arrow + 2));
}

rules_t *rules_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    rules_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    s_ctx_t c = { name ? name : "rules", 0, err, errlen };
    const char *p = text, *end = text + len;
    char *line = malloc(RULES_MAX_LINE + 1);
    int rc = line ? 0 : -ENOMEM;
    while (rc == 0 && p < end) {
        c.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && p[n - 1] == '\r') n--;
        if (n > RULES_MAX_LINE) {
            s_err(err, errlen, c.name, c.line, "line longer than %d bytes", RULES_MAX_LINE);
            rc = -1;
            break;
        }
        if (memchr(p, 0, n)) {
            s_err(err, errlen, c.name, c.line, "a NUL byte");
            rc = -1;
            break;
        }
        memcpy(line, p, n);
        line[n] = 0;
        rc = s_parse_line(&c, self, line);
        p = nl ? nl + 1 : end;
    }
    free(line);
    if (rc == -ENOMEM) s_err(err, errlen, c.name, c.line, "out of memory");
    if (rc == 0 && self->n == 0) {
        s_err(err, errlen, c.name, 0, "no rules");
        rc = -1;
    }
    if (rc < 0) rules_destroy(&self);
    return self;
}

rules_t *rules_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        s_err(err, errlen, path, 0, "%s", strerror(errno));
        return NULL;
    }
    char *text = malloc(RULES_MAX_FILE + 1);
    size_t n = text ? fread(text, 1, RULES_MAX_FILE + 1, f) : 0;
    bool read_error = ferror(f);
    fclose(f);
    rules_t *r = NULL;
    if (!text) s_err(err, errlen, path, 0, "out of memory");
    else if (read_error) s_err(err, errlen, path, 0, "read error");
    else if (n > RULES_MAX_FILE) s_err(err, errlen, path, 0, "larger than %u bytes", RULES_MAX_FILE);
    else r = rules_parse(text, n, path, err, errlen);
    free(text);
    return r;
}

/* ---- matching --------------------------------------------------------------------------- */

typedef struct {
    const s_pattern_t *p;
    const s_word_t *w;
    size_t nw;
    uint8_t failed[RULES_MAX_TOKENS + 1][RULES_MAX_WORDS + 1];
    size_t cap_start[RULES_MAX_TOKENS], cap_len[RULES_MAX_TOKENS];
} s_match_t;

static bool s_word_is(const s_tok_t *tok, const s_word_t *w)
{
    for (size_t a = 0; a < tok->nalts; a++)
        if (!strcmp(tok->alts[a], w->lower)) return true;
    return false;
}

static bool s_match(s_match_t *m, size_t ti, size_t wi)
{
    if (ti == m->p->ntoks) return wi == m->nw;
    if (m->failed[ti][wi]) return false;
    const s_tok_t *tok = &m->p->toks[ti];
    bool ok = false;
    switch (tok->kind) {
    case TOK_STAR:
        for (size_t k = wi; k <= m->nw && !ok; k++) ok = s_match(m, ti + 1, k);
        break;
    case TOK_WORD:
        ok = wi < m->nw && s_word_is(tok, &m->w[wi]) && s_match(m, ti + 1, wi + 1);
        break;
    case TOK_CAPTURE:
        if (wi < m->nw) {
            m->cap_start[ti] = wi;
            m->cap_len[ti] = 1;
            ok = s_match(m, ti + 1, wi + 1);
        }
        break;
    case TOK_CAPTURE_MANY:
        for (size_t k = m->nw; k > wi && !ok; k--) {
            m->cap_start[ti] = wi;
            m->cap_len[ti] = k - wi;
            ok = s_match(m, ti + 1, k);
        }
        break;
    }
    if (!ok) m->failed[ti][wi] = 1;
    return ok;
}

static size_t s_words(const char *text, s_word_t *w, size_t max)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p && n < max) {
        while (*p && !s_word_char(*p)) p++;
        const unsigned char *s = p;
        while (*p && s_word_char(*p)) p++;
        size_t len = (size_t)(p - s);
        /* Apostrophes at the edges are quotes, not part of the word. */
        while (len && s[0] == '\'') { s++; len--; }
        while (len && s[len - 1] == '\'') len--;
        if (!len) continue;
        w[n].orig = (const char *)s;
        w[n].len = len;
        size_t k = len < sizeof w[n].lower - 1 ? len : sizeof w[n].lower - 1;
        for (size_t i = 0; i < k; i++) w[n].lower[i] = (char)tolower(s[i]);
        w[n].lower[k] = 0;
        s_fold_quotes(w[n].lower);
        n++;
    }
    return n;
}

/* ---- replies ----------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t n)
{
    if (!o->data) return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap * 2;
        while (cap < o->len + n + 1) cap *= 2;
        char *d = realloc(o->data, cap);
        if (!d) {
            free(o->data);
            o->data = NULL;
            return;
        }
        o->data = d;
        o->cap = cap;
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = 0;
}

/* The transcript without surrounding blanks and its final punctuation. */
static void s_put_transcript(s_out_t *o, const char *t)
{
    while (isspace((unsigned char)*t)) t++;
    size_t n = strlen(t);
    while (n && (isspace((unsigned char)t[n - 1]) || strchr(".!?,;:", t[n - 1]))) n--;
    s_put(o, t, n);
}

static void s_expand(s_out_t *o, const char *tpl, const s_match_t *m, const char *transcript, time_t now)
{
    struct tm tm;
    localtime_r(&now, &tm);
    for (const char *p = tpl; *p; p++) {
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            s_put(o, p, 1);
            p++;
            continue;
        }
        if (*p != '{') {
            s_put(o, p, 1);
            continue;
        }
        const char *name = p + 1, *close = strchr(name, '}');   /* checked at load */
        size_t n = (size_t)(close - name);
        char buf[64];
        if (n == 10 && !strncmp(name, "transcript", 10)) {
            s_put_transcript(o, transcript);
        } else if (n == 4 && !strncmp(name, "time", 4)) {
            int h = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
            snprintf(buf, sizeof buf, "%d:%02d %s", h, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
            s_put(o, buf, strlen(buf));
        } else if (n == 4 && !strncmp(name, "date", 4)) {
            size_t k = strftime(buf, sizeof buf, "%A, %B ", &tm);
            snprintf(buf + k, sizeof buf - k, "%d", tm.tm_mday);
            s_put(o, buf, strlen(buf));
        } else {
            for (size_t i = 0; i < m->p->ntoks; i++) {
                const s_tok_t *tok = &m->p->toks[i];
                if (!tok->name || strlen(tok->name) != n || strncmp(tok->name, name, n)) continue;
                for (size_t k = 0; k < m->cap_len[i]; k++) {
                    const s_word_t *w = &m->w[m->cap_start[i] + k];
                    if (k) s_put(o, " ", 1);
                    s_put(o, w->orig, w->len);
                }
            }
        }
        p = close;
    }
}

char *rules_reply(rules_t *self, const char *transcript, time_t now, int *line)
{
    if (!self || !transcript) return NULL;
    s_word_t *words = malloc(RULES_MAX_WORDS * sizeof *words);
    s_match_t *m = malloc(sizeof *m);
    char *reply = NULL;
    if (!words || !m) goto out;
    size_t nw = s_words(transcript, words, RULES_MAX_WORDS);
    for (size_t i = 0; i < self->n && !reply; i++) {
        s_rule_t *r = &self->rules[i];
        for (size_t k = 0; k < r->npatterns; k++) {
            memset(m->failed, 0, sizeof m->failed);
            m->p = &r->patterns[k];
            m->w = words;
            m->nw = nw;
            if (!s_match(m, 0, 0)) continue;
            s_out_t o = { malloc(256), 0, 256 };
            if (o.data) o.data[0] = 0;
            s_expand(&o, r->replies[r->next], m, transcript, now);
            r->next = (r->next + 1) % r->nreplies;
            reply = o.data;
            if (line) *line = r->line;
            break;
        }
    }
out:
    free(words);
    free(m);
    return reply;
}
