/* sentences_test — the splitter: ends at . ! ? … and newlines, not inside
 * numbers, abbreviations, initials or list numbers; the same sentences
 * however the stream is cut into pieces; over-long sentences cut at a comma
 * or a space; flush gives the remainder. */
#include "sentences.h"
#include "test.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char out[8192];
    size_t len;
    int count;
} s_got_t;

static void s_collect(const char *text, size_t len, void *user)
{
    s_got_t *g = user;
    int n = snprintf(g->out + g->len, sizeof g->out - g->len, "%s%.*s", g->count ? "|" : "", (int)len, text);
    if (n > 0 && (size_t)n < sizeof g->out - g->len) g->len += (size_t)n;
    g->count++;
}

/* Splits text pushed in one piece plus the flush; "|" between sentences. */
static const char *s_split(s_got_t *g, const char *text, size_t max_len)
{
    memset(g, 0, sizeof *g);
    sentences_t *s = sentences_new(max_len);
    sentences_push(s, text, strlen(text), s_collect, g);
    sentences_flush(s, s_collect, g);
    sentences_destroy(&s);
    return g->out;
}

static void s_expect(const char *text, const char *want)
{
    s_got_t g;
    s_split(&g, text, 0);
    CHECK(!strcmp(g.out, want), "'%s' -> '%s'", text, g.out);
}

static void s_rules(void)
{
    s_expect("Hello there. How are you? I am fine! Good.", "Hello there.|How are you?|I am fine!|Good.");
    s_expect("Pi is about 3.14 and e is 2.718. Nice.", "Pi is about 3.14 and e is 2.718.|Nice.");
    s_expect("Mr. Smith met Dr. Jones. They talked.", "Mr. Smith met Dr. Jones.|They talked.");
    s_expect("Bring fruit, e.g. apples, i.e. red ones, etc. and go. Done", "Bring fruit, e.g. apples, i.e. red ones, etc. and go.|Done");
    s_expect("J. R. R. Tolkien wrote it. Yes.", "J. R. R. Tolkien wrote it.|Yes.");
    s_expect("He lives in the U.S. now", "He lives in the U.S. now");
    s_expect("Wait... What?! Really?", "Wait...|What?!|Really?");
    s_expect("She said \"Stop.\" Then she left.", "She said \"Stop.\"|Then she left.");
    s_expect("Steps:\n1. Preheat the oven.\n2. Bake it.", "Steps:|1. Preheat the oven.|2. Bake it.");
    s_expect("It costs 3. Then more.", "It costs 3.|Then more.");
    s_expect("Well\xE2\x80\xA6 maybe. \xE2\x80\x9CYes.\xE2\x80\x9D Ok", "Well\xE2\x80\xA6|maybe.|\xE2\x80\x9CYes.\xE2\x80\x9D|Ok");
    s_expect("\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82\xE5\x86\x8D\xE8\xA7\x81\xEF\xBC\x81",
             "\xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82|\xE5\x86\x8D\xE8\xA7\x81\xEF\xBC\x81");
    s_expect("   \n\n  ", "");
    s_expect("  leading blanks. and trailing  ", "leading blanks.|and trailing");
    s_expect("version 2.0.1 is out. ok", "version 2.0.1 is out.|ok");
    s_expect("No. I refuse.", "No.|I refuse.");
}

/* A sentence is emitted as soon as the blank after it arrives, and not
 * before: a '.' at the end of the text so far may be a decimal point. */
static void s_streaming(void)
{
    s_got_t g;
    memset(&g, 0, sizeof g);
    sentences_t *s = sentences_new(0);
    sentences_push(s, "The value is 3.", 15, s_collect, &g);
    CHECK(g.count == 0, "'3.' at the end of the text so far: undecided");
    sentences_push(s, "14", 2, s_collect, &g);
    CHECK(g.count == 0, "'3.14': no end");
    sentences_push(s, ". Next", 6, s_collect, &g);
    CHECK(g.count == 1 && !strcmp(g.out, "The value is 3.14."), "the first sentence as soon as its blank came: '%s'", g.out);
    sentences_push(s, " one", 4, s_collect, &g);
    sentences_flush(s, s_collect, &g);
    CHECK(g.count == 2 && !strcmp(g.out, "The value is 3.14.|Next one"), "flush gives the rest: '%s'", g.out);
    sentences_flush(s, s_collect, &g);
    CHECK(g.count == 2, "a second flush gives nothing");
    sentences_push(s, "Dropped text", 12, s_collect, &g);
    sentences_reset(s);
    sentences_flush(s, s_collect, &g);
    CHECK(g.count == 2, "reset forgets what was buffered");
    sentences_destroy(&s);
    CHECK(s == NULL, "destroy sets NULL");
}

static void s_pieces(void)
{
    const char *text = "Hi Mr. Brown. It is 3.5 km\xE2\x80\xA6 far! Is it? \xE2\x80\x9CYes.\xE2\x80\x9D\n- a list item\n"
                       "Prices e.g. 4.99 etc. apply. \xE4\xBD\xA0\xE5\xA5\xBD\xE3\x80\x82The end";
    s_got_t whole, part;
    s_split(&whole, text, 0);
    CHECK(whole.count == 9, "reference: %d sentences: %s", whole.count, whole.out);
    size_t len = strlen(text);
    int bad = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        memset(&part, 0, sizeof part);
        sentences_t *s = sentences_new(0);
        sentences_push(s, text, cut, s_collect, &part);
        sentences_push(s, text + cut, len - cut, s_collect, &part);
        sentences_flush(s, s_collect, &part);
        sentences_destroy(&s);
        if (strcmp(part.out, whole.out)) bad++;
    }
    CHECK(bad == 0, "cut in two at each of %zu points: %d differ", len + 1, bad);
    memset(&part, 0, sizeof part);
    sentences_t *s = sentences_new(0);
    for (size_t i = 0; i < len; i++) sentences_push(s, text + i, 1, s_collect, &part);
    sentences_flush(s, s_collect, &part);
    sentences_destroy(&s);
    CHECK(!strcmp(part.out, whole.out), "byte by byte: same sentences");
}

static void s_long(void)
{
    s_got_t g;
    s_split(&g, "one two three, four five six seven eight nine", 20);
    CHECK(!strcmp(g.out, "one two three,|four five six seven|eight nine"), "cut at the comma, then a space: '%s'", g.out);
    s_split(&g, "one two three four five six seven eight nine ten eleven. Short.", 20);
    CHECK(!strcmp(g.out, "one two three four|five six seven|eight nine ten|eleven.|Short."),
          "a long sentence that arrives whole is cut too: '%s'", g.out);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s_split(&g, big, 100);
    bool all_short = true;
    for (const char *p = g.out; *p;) {
        size_t n = strcspn(p, "|");
        if (n > 100) all_short = false;
        p += n + (p[n] == '|');
    }
    CHECK(g.count == 10 && all_short, "a 999-byte word is cut into pieces of at most 100 (%d)", g.count);
    /* UTF-8 is never cut inside a character. */
    char utf[601] = "";
    for (int i = 0; i < 200; i++) strcat(utf, "\xC3\xA9");   /* é, 2 bytes */
    s_split(&g, utf, 101);
    CHECK(g.count == 4 && strncmp(g.out, "\xC3\xA9", 2) == 0 && strstr(g.out, "|\xC3\xA9"), "cut on character boundaries");
}

int main(void)
{
    s_rules();
    s_streaming();
    s_pieces();
    s_long();
    return TEST_DONE();
}
