/* sse_test — the server-sent events parser (http_client.h): line ends
 * (LF, CRLF, CR), multi-line data, comments, event names, the same events
 * however the stream is split, the size limit and callback aborts. */
#include "http_client.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char log[8192];
    size_t len;
    int events;
    int stop_after;            /* return -1 on this event (1-based), 0: never */
} s_log_t;

static int s_on_event(const char *event, const char *data, size_t len, void *user)
{
    s_log_t *l = user;
    l->events++;
    if (strlen(data) != len) return -1;   /* must be terminated at len (no NULs in our tests) */
    int n = snprintf(l->log + l->len, sizeof l->log - l->len, "[%s|%s]", event, data);
    if (n > 0) l->len += (size_t)n;
    if (l->len >= sizeof l->log) l->len = sizeof l->log - 1;
    return l->stop_after && l->events == l->stop_after ? -1 : 0;
}

/* Feeds text in one piece and returns the log. */
static const char *s_run(s_log_t *l, const char *text, size_t len, int *rc)
{
    memset(l, 0, sizeof *l);
    sse_parser_t *p = sse_parser_new(s_on_event, l);
    *rc = sse_parser_feed(p, (const uint8_t *)text, len);
    sse_parser_destroy(&p);
    return l->log;
}

static void s_basics(void)
{
    s_log_t l;
    int rc;
    const char *lf = "data: hello\n\nevent: delta\ndata: a\ndata: b\n\n: comment\ndata:x\n\n";
    const char *want = "[|hello][delta|a\nb][|x]";
    CHECK(!strcmp(s_run(&l, lf, strlen(lf), &rc), want) && rc == 0, "LF: %s", l.log);
    const char *crlf = "data: hello\r\n\r\nevent: delta\r\ndata: a\r\ndata: b\r\n\r\n: comment\r\ndata:x\r\n\r\n";
    CHECK(!strcmp(s_run(&l, crlf, strlen(crlf), &rc), want), "CRLF: %s", l.log);
    const char *cr = "data: hello\r\revent: delta\rdata: a\rdata: b\r\r: comment\rdata:x\r\r";
    CHECK(!strcmp(s_run(&l, cr, strlen(cr), &rc), want), "CR: %s", l.log);

    const char *t = "data:  two spaces\n\ndata\n\nevent: only-a-name\n\nid: 7\nretry: 100\nfoo: bar\ndata: z\n\n";
    CHECK(!strcmp(s_run(&l, t, strlen(t), &rc), "[| two spaces][|][|z]"),
          "one space dropped, a bare `data` is an empty event, no data no event, other fields ignored: %s", l.log);
    const char *names = "event: a\ndata: 1\n\ndata: 2\n\n";
    CHECK(!strcmp(s_run(&l, names, strlen(names), &rc), "[a|1][|2]"), "the event name resets after dispatch: %s", l.log);
    const char *bom = "\xEF\xBB\xBF" "data: after bom\n\n";
    CHECK(!strcmp(s_run(&l, bom, strlen(bom), &rc), "[|after bom]"), "a leading BOM is dropped: %s", l.log);
    const char *nobom = "\xEF\xBB" "data: x\n\n";
    CHECK(!strcmp(s_run(&l, nobom, strlen(nobom), &rc), ""), "a partial BOM is part of the first line (unknown field)");
    const char *tail = "data: complete\n\ndata: incomplete";
    CHECK(!strcmp(s_run(&l, tail, strlen(tail), &rc), "[|complete]"), "an event without its blank line is not dispatched");
    const char *openai = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
    CHECK(!strcmp(s_run(&l, openai, strlen(openai), &rc), "[|{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}][|[DONE]]"),
          "an OpenAI stream: %s", l.log);
}

/* Every split of the stream into two pieces, and byte by byte, gives the
 * same events as one piece. */
static void s_splits(void)
{
    const char *text = "\xEF\xBB\xBF: hi\r\nevent: e1\r\ndata: one\r\ndata: two\r\n\r\ndata: three\r\rdata:four\n\n"
                       "data: five\r\n\r\n";
    size_t len = strlen(text);
    s_log_t whole, part;
    int rc;
    s_run(&whole, text, len, &rc);
    CHECK(!strcmp(whole.log, "[e1|one\ntwo][|three][|four][|five]"), "reference: %s", whole.log);
    int bad = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        memset(&part, 0, sizeof part);
        sse_parser_t *p = sse_parser_new(s_on_event, &part);
        sse_parser_feed(p, (const uint8_t *)text, cut);
        sse_parser_feed(p, (const uint8_t *)text + cut, len - cut);
        sse_parser_destroy(&p);
        if (strcmp(part.log, whole.log)) bad++;
    }
    CHECK(bad == 0, "split in two at each of %zu points: %d differ", len + 1, bad);
    memset(&part, 0, sizeof part);
    sse_parser_t *p = sse_parser_new(s_on_event, &part);
    for (size_t i = 0; i < len; i++) sse_parser_feed(p, (const uint8_t *)text + i, 1);
    sse_parser_destroy(&p);
    CHECK(!strcmp(part.log, whole.log), "byte by byte: %s", part.log);
}

static void s_limits(void)
{
    s_log_t l;
    memset(&l, 0, sizeof l);
    sse_parser_t *p = sse_parser_new(s_on_event, &l);
    size_t n = 64 * 1024;
    char *chunk = malloc(n);
    memset(chunk, 'x', n);
    memcpy(chunk, "data: ", 6);
    int rc = 0;
    size_t fed = 0;
    /* A data line that never ends. */
    while (rc == 0 && fed < 4u * 1024 * 1024) {
        rc = sse_parser_feed(p, (const uint8_t *)chunk, n);
        fed += n;
        memset(chunk, 'x', 6);
    }
    CHECK(rc == -2 && fed <= (1u << 20) + n, "an endless line fails with -2 after about 1 MiB (%zu bytes fed)", fed);
    CHECK(sse_parser_feed(p, (const uint8_t *)"\n\n", 2) == -2 && l.events == 0, "the failure is sticky, nothing dispatched");
    sse_parser_destroy(&p);

    /* Many short data lines that add up. */
    memset(&l, 0, sizeof l);
    p = sse_parser_new(s_on_event, &l);
    const char *line = "data: 0123456789012345678901234567890123456789012345678901234567890123456789\n";
    rc = 0;
    for (int i = 0; i < 20000 && rc == 0; i++) rc = sse_parser_feed(p, (const uint8_t *)line, strlen(line));
    CHECK(rc == -2, "an event of many lines over 1 MiB fails too");
    sse_parser_destroy(&p);

    /* Just under the limit is fine. */
    memset(&l, 0, sizeof l);
    p = sse_parser_new(s_on_event, &l);
    size_t big = 1000 * 1000;
    char *text = malloc(big + 16);
    memcpy(text, "data: ", 6);
    memset(text + 6, 'y', big);
    memcpy(text + 6 + big, "\n\n", 2);
    rc = sse_parser_feed(p, (const uint8_t *)text, big + 8);
    CHECK(rc == 0 && l.events == 1, "a 1 MB event is delivered");
    sse_parser_destroy(&p);
    free(text);
    free(chunk);

    memset(&l, 0, sizeof l);
    l.stop_after = 1;
    p = sse_parser_new(s_on_event, &l);
    rc = sse_parser_feed(p, (const uint8_t *)"data: a\n\ndata: b\n\n", 18);
    CHECK(rc == -1 && l.events == 1, "the callback's -1 stops the parser at once");
    CHECK(sse_parser_feed(p, (const uint8_t *)"data: c\n\n", 9) == -1 && l.events == 1, "and it stays stopped");
    sse_parser_destroy(&p);
    sse_parser_destroy(&p);
    CHECK(p == NULL, "destroy sets NULL, twice is safe");
}

int main(void)
{
    s_basics();
    s_splits();
    s_limits();
    return TEST_DONE();
}
