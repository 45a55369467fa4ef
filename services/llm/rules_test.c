/* rules_test — the rules language (words, alternatives, wildcards,
 * captures, templates, first match wins, alternatives in turn), every
 * load error with its file and line, and the shipped demo rules
 * (deploy/rules/agent.rules) answering what a demo caller says. */
#include "rules.h"
#include "sentences.h"
#include "test.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rules_t *s_rules(const char *text)
{
    char err[256] = "";
    rules_t *r = rules_parse(text, strlen(text), "t.rules", err, sizeof err);
    if (!r) printf("     (parse error: %s)\n", err);
    return r;
}

/* The reply, or "(none)"; static buffer. */
static const char *s_say(rules_t *r, const char *transcript)
{
    static char out[8192];
    char *reply = rules_reply(r, transcript, 0, NULL);
    snprintf(out, sizeof out, "%s", reply ? reply : "(none)");
    free(reply);
    return out;
}

static void s_language(void)
{
    rules_t *r = s_rules("# comment\n"
                         "\n"
                         "hello -> exact\n"
                         "hello * -> prefix\n"
                         "* my name is (name) * ; call me (name) -> Hi {name}!\n"
                         "* i like (things...) -> You like {things}.\n"
                         "* red|green|blue * -> A colour: {transcript}.\n"
                         "* what's up * -> Not much.\n"
                         "braces * -> {{literal}} and }} too\n"
                         "rotate -> one\n"
                         "-> two\n"
                         "+ and more\n"
                         "-> three\n");
    CHECK(r && rules_count(r) == 8, "a rules text with comments, blank lines, alternatives and continuations");
    CHECK(!strcmp(s_say(r, "Hello"), "exact"), "a single word, case-insensitive");
    CHECK(!strcmp(s_say(r, "hello, world!"), "prefix"), "punctuation separates words; the first match wins");
    CHECK(!strcmp(s_say(r, "Well, my name is Ada Lovelace."), "Hi Ada!"), "(name) captures one word, as said");
    CHECK(!strcmp(s_say(r, "call me Ishmael"), "Hi Ishmael!"), "a second pattern of the same rule");
    CHECK(!strcmp(s_say(r, "Green is nice!"), "A colour: Green is nice."),
          "a|b alternatives; {transcript} without its final punctuation");
    CHECK(!strcmp(s_say(r, "I like blue skies"), "You like blue skies."), "rules are tried in order");
    CHECK(!strcmp(s_say(r, "so I like long walks"), "You like long walks."), "(x...) captures the rest");
    CHECK(!strcmp(s_say(r, "What\xE2\x80\x99s up?"), "Not much."), "a typographic apostrophe matches a plain one");
    CHECK(!strcmp(s_say(r, "braces"), "{literal} and } too"), "{{ and }} are braces; * matches no word too");
    CHECK(!strcmp(s_say(r, "rotate"), "one") && !strcmp(s_say(r, "rotate"), "two and more")
          && !strcmp(s_say(r, "rotate"), "three") && !strcmp(s_say(r, "rotate"), "one"),
          "alternatives in turn; + continues the reply above");
    CHECK(!strcmp(s_say(r, "nothing matches this"), "(none)"), "no rule matches: NULL");
    CHECK(!strcmp(s_say(r, ""), "(none)"), "an empty transcript matches nothing here");
    int line = 0;
    char *reply = rules_reply(r, "call me maybe", 0, &line);
    CHECK(reply && line == 5, "the line of the rule that matched (%d)", line);
    free(reply);
    rules_destroy(&r);
    CHECK(r == NULL, "destroy sets NULL");

    /* Many wildcards against many words: memoised, so this returns. */
    r = s_rules("* * * * * * * * * * * * * * * * zebra -> found\n* -> fallback\n");
    char text[2048] = "";
    for (int i = 0; i < 127; i++) strcat(text, "word ");
    strcat(text, "zebra");
    CHECK(!strcmp(s_say(r, text), "found"), "16 wildcards over 128 words");
    text[strlen(text) - 5] = 0;
    CHECK(!strcmp(s_say(r, text), "fallback"), "and the failing case too");
    rules_destroy(&r);
}

static void s_time(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    rules_t *r = s_rules("* time * -> It is {time}.\n* date * -> Today is {date}.\n");
    time_t t = 1764774420;   /* Wed 2025-12-03 15:07:00 UTC */
    char *a = rules_reply(r, "what time is it", t, NULL), *b = rules_reply(r, "the date", t, NULL);
    CHECK(a && !strcmp(a, "It is 3:07 PM."), "{time}: %s", a ? a : "(null)");
    CHECK(b && !strcmp(b, "Today is Wednesday, December 3."), "{date}: %s", b ? b : "(null)");
    free(a);
    free(b);
    a = rules_reply(r, "time", 1764720000, NULL);   /* 00:00 UTC */
    CHECK(a && !strcmp(a, "It is 12:00 AM."), "midnight is 12:00 AM: %s", a ? a : "(null)");
    free(a);
    rules_destroy(&r);
}

static void s_errors(void)
{
    struct { const char *text; const char *want; } bad[] = {
        { "hello -> hi\nno arrow here\n", "t.rules:2: expected `pattern -> reply`" },
        { "\n\n* (Name -> x\n", "t.rules:3: bad capture" },
        { "* (time) -> x\n", "t.rules:1: bad capture" },
        { "* (a) (a) -> x\n", "t.rules:1: capture 'a' twice" },
        { "* (a) -> {b}\n", "t.rules:1: {b} is not captured by pattern 1" },
        { "(a) ; b -> {a}\n", "t.rules:1: {a} is not captured by pattern 2" },
        { "+ more\n", "t.rules:1: '+' before any rule" },
        { "-> alt\n", "t.rules:1: '->' before any rule" },
        { "hi ->   \n", "t.rules:1: an empty reply" },
        { "hi -> a { b\n", "t.rules:1: a '{' without '}'" },
        { "hi -> a } b\n", "t.rules:1: a '}' without '{'" },
        { "hello! -> x\n", "t.rules:1: bad word 'hello!'" },
        { "a||b -> x\n", "t.rules:1: bad word" },
        { " ; hi -> x\n", "t.rules:1: an empty pattern" },
        { "-> x\n", "t.rules:1: '->' before any rule" },
        { "hi -> ok\nhi -> {x}\n", "t.rules:2: {x} is not captured" },
        { "hi -> ok\n+ {x}\n", "t.rules:2: {x} is not captured" },
        { "# only comments\n\n", "t.rules: no rules" },
        { "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g -> x\n", "t.rules:1: a pattern has more than" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        rules_t *r = rules_parse(bad[i].text, strlen(bad[i].text), "t.rules", err, sizeof err);
        CHECK(!r && !strncmp(err, bad[i].want, strlen(bad[i].want)), "refused: %s", err);
        rules_destroy(&r);
    }
    char *longline = malloc(RULES_MAX_LINE + 16);
    memset(longline, 'a', RULES_MAX_LINE + 8);
    memcpy(longline, "x -> ", 5);
    longline[RULES_MAX_LINE + 8] = 0;
    char err[256];
    rules_t *r = rules_parse(longline, strlen(longline), "t.rules", err, sizeof err);
    CHECK(!r && strstr(err, "t.rules:1: line longer than"), "a line too long: %s", err);
    free(longline);
    r = rules_parse("hi -> a\0b\n", 10, "t.rules", err, sizeof err);
    CHECK(!r && strstr(err, "t.rules:1: a NUL byte"), "a NUL byte: %s", err);
    r = rules_load("/nonexistent/agent.rules", err, sizeof err);
    CHECK(!r && !strcmp(err, "/nonexistent/agent.rules: No such file or directory"), "a missing file: %s", err);
}

/* ---- the shipped demo rules ----------------------------------------------------------- */

typedef struct {
    int n;
} s_count_t;

static void s_count_sentence(const char *text, size_t len, void *user)
{
    (void)text; (void)len;
    ((s_count_t *)user)->n++;
}

static int s_sentences(const char *text)
{
    s_count_t c = { 0 };
    sentences_t *s = sentences_new(0);
    sentences_push(s, text, strlen(text), s_count_sentence, &c);
    sentences_flush(s, s_count_sentence, &c);
    sentences_destroy(&s);
    return c.n;
}

static void s_shipped(void)
{
    const char *path = "deploy/rules/agent.rules";
    if (access(path, R_OK) != 0) path = "../../deploy/rules/agent.rules";
    char err[256] = "";
    rules_t *r = rules_load(path, err, sizeof err);
    CHECK(r && rules_count(r) >= 12, "the shipped rules load: %zu rules %s", rules_count(r), err);
    if (!r) return;
    const char *s = s_say(r, "Hello!");
    CHECK(strstr(s, "Hello") && strstr(s, "voxmesh") && strstr(s, "not on a language model"),
          "hello greets and says what it is: %s", s);
    s = s_say(r, "hi there");
    CHECK(strstr(s, "Hello!"), "hi greets too");
    s = s_say(r, "Good morning.");
    CHECK(strstr(s, "Hello!"), "good morning greets too");
    s = s_say(r, "What is your name?");
    CHECK(strstr(s, "My name is Vox"), "what is your name: %s", s);
    s = s_say(r, "what's your name");
    CHECK(strstr(s, "My name is Vox"), "what's your name too");
    setenv("TZ", "UTC", 1);
    tzset();
    char *t = rules_reply(r, "What time is it?", 1764774420, NULL);
    CHECK(t && !strcmp(t, "It is 3:07 PM."), "what time is it: %s", t ? t : "(null)");
    free(t);
    s = s_say(r, "How are you?");
    CHECK(strstr(s, "doing well"), "how are you: %s", s);
    s = s_say(r, "Thanks a lot.");
    CHECK(strstr(s, "welcome"), "thanks: %s", s);
    s = s_say(r, "OK, goodbye.");
    CHECK(strstr(s, "Goodbye"), "goodbye: %s", s);
    s = s_say(r, "What can you do?");
    CHECK(strstr(s, "time") && strstr(s, "story") && strstr(s, "interrupt"), "what can you do: %s", s);
    char joke1[512];
    snprintf(joke1, sizeof joke1, "%s", s_say(r, "Tell me a joke."));
    s = s_say(r, "tell me a joke");
    CHECK(strchr(joke1, '?') && strcmp(joke1, s) != 0, "jokes, a different one the next time: %s", joke1);
    s = s_say(r, "My name is Alice.");
    CHECK(!strcmp(s, "Nice to meet you, Alice."), "my name is: %s", s);
    s = s_say(r, "Tell me a long story.");
    int n = s_sentences(s);
    CHECK(n >= 10 && strlen(s) > 800, "a long story: %d sentences, %zu bytes", n, strlen(s));
    s = s_say(r, "The cat sat on the mat.");
    CHECK(!strcmp(s, "You said: The cat sat on the mat."), "the fallback echoes: %s", s);
    rules_destroy(&r);
}

int main(void)
{
    s_language();
    s_time();
    s_errors();
    s_shipped();
    return TEST_DONE();
}
