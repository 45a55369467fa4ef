/* chat_stream_test — an OpenAI-compatible stream through the SSE parser:
 * content deltas in order, tool calls accumulated across chunks (arguments
 * split anywhere, two calls interleaved, ids and names sent once or
 * repeated or never), [DONE], and every malformed input an error. */
#include "chat_stream.h"
#include "http_client.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    chat_stream_t *cs;
    char text[4096];
    size_t len;
    int deltas, rc_last;
    char err[256];
} s_ctx_t;

static void s_on_text(void *user, const char *text, size_t len)
{
    s_ctx_t *c = user;
    memcpy(c->text + c->len, text, len);
    c->len += len;
    c->text[c->len] = 0;
    c->deltas++;
}

static int s_on_event(const char *event, const char *data, size_t len, void *user)
{
    (void)event;
    s_ctx_t *c = user;
    c->rc_last = chat_stream_feed(c->cs, data, len, s_on_text, c, c->err, sizeof c->err);
    return c->rc_last < 0 ? -1 : 0;
}

/* Runs a whole stream, fed in pieces of `piece` bytes. */
static int s_run(s_ctx_t *c, const char *stream, size_t piece)
{
    if (!c->cs) c->cs = chat_stream_new();
    chat_stream_reset(c->cs);
    c->len = 0;
    c->text[0] = 0;
    c->deltas = 0;
    c->err[0] = 0;
    sse_parser_t *p = sse_parser_new(s_on_event, c);
    size_t n = strlen(stream);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += piece)
        rc = sse_parser_feed(p, (const uint8_t *)stream + i, n - i < piece ? n - i : piece);
    sse_parser_destroy(&p);
    return rc;
}

static const char *s_content =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" w\\u00f6rld. \\\"Hi\\\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5}}\n\n"
    "data: [DONE]\n\n";

static const char *s_tools =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\",\"function\":{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\": \\\"Par\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"UTC\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"is\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: [DONE]\n\n";

static void s_streams(void)
{
    s_ctx_t c = { 0 };
    const size_t pieces[] = { 100000, 1, 7, 64 };
    for (size_t k = 0; k < 4; k++) {
        int rc = s_run(&c, s_content, pieces[k]);
        CHECK(rc == 0 && !strcmp(c.text, "Hello w\xC3\xB6rld. \"Hi\"") && c.deltas == 2,
              "content deltas in %zu-byte pieces: '%s'", pieces[k], c.text);
        CHECK(chat_stream_done(c.cs) && !strcmp(chat_stream_finish_reason(c.cs), "stop") && !chat_stream_tool_calls(c.cs),
              "finish reason stop, [DONE], no tool calls");
    }
    for (size_t k = 0; k < 4; k++) {
        int rc = s_run(&c, s_tools, pieces[k]);
        CHECK(rc == 0 && chat_stream_tool_calls(c.cs) == 2 && c.len == 0, "two tool calls in %zu-byte pieces", pieces[k]);
        CHECK(!strcmp(chat_stream_tool_id(c.cs, 0), "call_A") && !strcmp(chat_stream_tool_name(c.cs, 0), "get_weather")
              && !strcmp(chat_stream_tool_arguments(c.cs, 0), "{\"city\": \"Paris\"}"),
              "call 0 accumulated across interleaved chunks: %s", chat_stream_tool_arguments(c.cs, 0));
        CHECK(!strcmp(chat_stream_tool_id(c.cs, 1), "call_B") && !strcmp(chat_stream_tool_arguments(c.cs, 1), "{\"tz\":\"UTC\"}"),
              "call 1: %s", chat_stream_tool_arguments(c.cs, 1));
        CHECK(!strcmp(chat_stream_finish_reason(c.cs), "tool_calls"), "finish reason tool_calls");
    }
    json_buf_t b;
    json_buf_init(&b);
    chat_stream_write_tool_message(c.cs, &b);
    json_t *m = json_parse(b.data, b.len, NULL, 0);
    const json_t *tc = json_get(m, "tool_calls");
    CHECK(m && !strcmp(json_str(json_get(m, "role")), "assistant") && json_type(json_get(m, "content")) == JSON_NULL
          && json_len(tc) == 2 && !strcmp(json_str(json_get(json_get(json_index(tc, 0), "function"), "arguments")), "{\"city\": \"Paris\"}"),
          "the assistant tool-call message is valid JSON with the arguments as a string");
    json_destroy(&m);
    json_buf_free(&b);

    /* Servers that repeat the name in every chunk, or never send an id. */
    const char *repeat =
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";
    s_run(&c, repeat, 5);
    CHECK(chat_stream_tool_calls(c.cs) == 1 && !strcmp(chat_stream_tool_name(c.cs, 0), "f")
          && !strcmp(chat_stream_tool_id(c.cs, 0), "call_0") && !strcmp(chat_stream_tool_arguments(c.cs, 0), "{\"a\":1}"),
          "a repeated name is not doubled; a missing id is made up (%s)", chat_stream_tool_id(c.cs, 0));
    chat_stream_reset(c.cs);
    CHECK(chat_stream_tool_calls(c.cs) == 0 && !chat_stream_done(c.cs) && !*chat_stream_finish_reason(c.cs), "reset forgets all");
    chat_stream_destroy(&c.cs);
    CHECK(c.cs == NULL, "destroy sets NULL");
}

static void s_errors(void)
{
    struct { const char *stream, *want; } bad[] = {
        { "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\n\n", "malformed JSON" },
        { "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]\n\n", "malformed JSON" },
        { "data: {\"error\":{\"message\":\"quota exceeded\",\"type\":\"insufficient_quota\"}}\n\n", "provider error: quota exceeded" },
        { "data: [1,2]\n\n", "not a JSON object" },
        { "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":9,\"function\":{\"arguments\":\"x\"}}]}}]}\n\n", "out of range" },
        { "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}\n\n", "out of range" },
        { "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0.5}]}}]}\n\n", "out of range" },
    };
    s_ctx_t c = { 0 };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = s_run(&c, bad[i].stream, 1000);
        CHECK(rc == -1 && c.rc_last == -1 && strstr(c.err, bad[i].want), "refused: %s", c.err);
    }
    /* Arguments beyond the limit. */
    size_t n = CHAT_MAX_ARGUMENTS / 1000 + 2;
    chat_stream_reset(c.cs);
    int rc = 0;
    char chunk[1200];
    char arg[1001];
    memset(arg, 'x', 1000);
    arg[1000] = 0;
    snprintf(chunk, sizeof chunk, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"%s\"}}]}}]}", arg);
    for (size_t i = 0; i < n && rc == 0; i++) rc = chat_stream_feed(c.cs, chunk, strlen(chunk), s_on_text, &c, c.err, sizeof c.err);
    CHECK(rc == -1 && strstr(c.err, "too large"), "arguments over %u bytes refused: %s", CHAT_MAX_ARGUMENTS, c.err);
    /* After [DONE] nothing more is read. */
    chat_stream_reset(c.cs);
    CHECK(chat_stream_feed(c.cs, "[DONE]", 6, s_on_text, &c, c.err, sizeof c.err) == 1
          && chat_stream_feed(c.cs, "garbage", 7, s_on_text, &c, c.err, sizeof c.err) == 1, "[DONE] ends the stream");
    chat_stream_destroy(&c.cs);
}

int main(void)
{
    s_streams();
    s_errors();
    return TEST_DONE();
}
