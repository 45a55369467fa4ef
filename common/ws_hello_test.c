/* ws_hello_test — accepted hellos, every refusal reason, the reply builders. */
#include "ws_hello.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_failures;

#define CHECK(cond) do { \
    if (!(cond)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); s_failures++; } \
} while (0)

static void s_ok(const char *text, ws_format_t format, int rate)
{
    ws_hello_t h;
    char reason[WS_HELLO_REASON_MAX];
    int rc = ws_hello_parse(text, strlen(text), &h, reason, sizeof reason);
    if (rc != 0) {
        fprintf(stderr, "refused %s: %s\n", text, reason);
        s_failures++;
        return;
    }
    CHECK(h.format == format);
    CHECK(h.sample_rate == rate);
    CHECK(h.channels == 1);
}

static void s_bad(const char *text, const char *expect_reason)
{
    ws_hello_t h = { WS_FORMAT_PCM16, 1, 1 };
    char reason[WS_HELLO_REASON_MAX];
    int rc = ws_hello_parse(text, strlen(text), &h, reason, sizeof reason);
    if (rc != -1 || strcmp(reason, expect_reason) != 0) {
        fprintf(stderr, "for %s\n  expected -1 '%s'\n  got %d '%s'\n", text, expect_reason, rc, reason);
        s_failures++;
    }
    CHECK(h.sample_rate == 1);          /* untouched on failure */
}

int main(void)
{
    s_ok("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1}",
         WS_FORMAT_PCM16, 16000);
    s_ok(" \r\n\t{ \"channels\" : 1 , \"sample_rate\":48000, \"format\":\"opus\",\"type\":\"hello\" } \n",
         WS_FORMAT_OPUS, 48000);
    s_ok("{\"type\":\"hel\\u006co\",\"format\":\"pcm\\u00316\",\"sample_rate\":16000,\"channels\":1}",
         WS_FORMAT_PCM16, 16000);

    /* Not a hello at all. */
    s_bad("", "first message must be a hello");
    s_bad("   ", "first message must be a hello");
    s_bad("hello", "first message must be a hello");
    s_bad("[1,2]", "first message must be a hello");
    s_bad("{}", "first message must be a hello");
    s_bad("{\"type\":\"bye\",\"foo\":1}", "first message must be a hello");
    s_bad("{\"type\":1,\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1}",
          "first message must be a hello");
    s_bad("{\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1}", "first message must be a hello");

    /* Members. */
    s_bad("{\"type\":\"hello\",\"format\":\"mp3\",\"sample_rate\":16000,\"channels\":1}",
          "unsupported format 'mp3'");
    s_bad("{\"type\":\"hello\",\"format\":\"a'b\\\"c\\n\",\"sample_rate\":16000,\"channels\":1}",
          "unsupported format 'a?b?c?'");
    s_bad("{\"type\":\"hello\",\"format\":\"0123456789012345678901234567890\",\"sample_rate\":16000,\"channels\":1}",
          "unsupported format '012345678901234567890123...'");
    s_bad("{\"type\":\"hello\",\"format\":5,\"sample_rate\":16000,\"channels\":1}", "format must be a string");
    s_bad("{\"type\":\"hello\",\"sample_rate\":16000,\"channels\":1}", "missing member 'format'");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"channels\":1}", "missing member 'sample_rate'");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000}", "missing member 'channels'");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":44100,\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":\"16000\",\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000.0,\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":1.6e4,\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":100000000016000,\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":-16000,\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":null,\"channels\":1}",
          "sample_rate must be 16000 or 48000");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":2}", "channels must be 1");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":true}", "channels must be 1");
    s_bad("{\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1,\"rate\":3}",
          "unknown member 'rate'");
    s_bad("{\"type\":\"hello\",\"type\":\"hello\",\"format\":\"pcm16\",\"sample_rate\":16000,\"channels\":1}",
          "duplicate member 'type'");

    /* Syntax. */
    s_bad("{\"type\":\"hello\"", "malformed hello at byte 15: unterminated object");
    s_bad("{\"type\" \"hello\"}", "malformed hello at byte 8: expected ':'");
    s_bad("{\"type\":\"hello\",}", "malformed hello at byte 16: expected a member name");
    s_bad("{\"type\":\"hello\"} x", "malformed hello at byte 17: trailing data after the object");
    s_bad("{\"type\":{\"a\":1}}", "malformed hello at byte 8: nested values are not supported");
    s_bad("{\"type\":\"he\x01llo\"}", "malformed hello at byte 11: control character in string");
    s_bad("{\"type\":\"\\x\"}", "malformed hello at byte 10: bad escape");
    s_bad("{\"type\":\"\\u12\"}", "malformed hello at byte 11: bad \\u escape");
    s_bad("{\"type\":\"\\ud800x\"}", "malformed hello at byte 15: bad \\u escape");
    s_bad("{\"type\":\"\\u0000\"}", "malformed hello at byte 15: NUL in string");
    s_bad("{\"channels\":01}", "malformed hello at byte 13: leading zero in number");
    s_bad("{\"channels\":1.}", "malformed hello at byte 14: bad number");
    s_bad("{\"channels\":-}", "malformed hello at byte 13: bad number");
    s_bad("{\"type\":\"hello", "malformed hello at byte 14: unterminated string");
    s_bad("{\"type\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
          "malformed hello at byte 73: string too long");

    /* A NUL byte inside the frame is data, not a terminator. */
    {
        const char text[] = "{\"type\":\"hello\"}\0garbage";
        ws_hello_t h;
        char reason[WS_HELLO_REASON_MAX];
        CHECK(ws_hello_parse(text, sizeof text - 1, &h, reason, sizeof reason) == -1);
        CHECK(!strcmp(reason, "malformed hello at byte 16: trailing data after the object"));
    }
    /* Length limit, NULL reason, tiny reason buffer. */
    {
        char *big = malloc(WS_HELLO_MAX_LEN + 2);
        memset(big, ' ', WS_HELLO_MAX_LEN + 1);
        big[WS_HELLO_MAX_LEN + 1] = '\0';
        ws_hello_t h;
        char reason[WS_HELLO_REASON_MAX];
        CHECK(ws_hello_parse(big, WS_HELLO_MAX_LEN + 1, &h, reason, sizeof reason) == -1);
        CHECK(!strcmp(reason, "hello longer than 1024 bytes"));
        CHECK(ws_hello_parse(big, WS_HELLO_MAX_LEN, &h, NULL, 0) == -1);
        char tiny[6];
        CHECK(ws_hello_parse("nope", 4, &h, tiny, sizeof tiny) == -1);
        CHECK(!strcmp(tiny, "first"));
        free(big);
    }

    /* Replies. */
    {
        char buf[256];
        ws_hello_t h = { WS_FORMAT_OPUS, 48000, 1 };
        int n = ws_hello_accepted_json(buf, sizeof buf, "00ff", &h);
        const char *want = "{\"type\":\"accepted\",\"session_id\":\"00ff\",\"format\":\"opus\","
                           "\"sample_rate\":48000,\"channels\":1}";
        CHECK(n == (int)strlen(want));
        CHECK(!strcmp(buf, want));
        CHECK(ws_hello_accepted_json(buf, 20, "00ff", &h) == -1);
        n = ws_hello_error_json(buf, sizeof buf, "bad \"x\"\\\n\xff");
        want = "{\"type\":\"error\",\"reason\":\"bad \\\"x\\\"\\\\\\u000a?\"}";
        CHECK(n == (int)strlen(want));
        CHECK(!strcmp(buf, want));
        CHECK(ws_hello_error_json(buf, 10, "x") == -1);
        CHECK(!strcmp(ws_format_name(WS_FORMAT_PCM16), "pcm16"));
        CHECK(ws_format_name((ws_format_t)0) == NULL);
    }

    if (s_failures) {
        fprintf(stderr, "ws_hello_test: %d failures\n", s_failures);
        return 1;
    }
    printf("ws_hello_test: ok\n");
    return 0;
}
